"""Evaluation: reconstruction metrics between predicted and reference shapes."""

from .metrics import (
    Reconstruction,
    chamfer,
    compare_meshes,
    f_score,
    normal_consistency,
    volume_iou,
)

__all__ = [
    "Reconstruction",
    "chamfer",
    "compare_meshes",
    "f_score",
    "normal_consistency",
    "volume_iou",
]
