"""Distribution metrics between generated and reference shapes, on surface point clouds.

The three of Achlioptas et al. (2018) as PointFlow and later 3D generators report them, all
on the Chamfer distance (L1 here, point to point, the mean of both directions):

- COV (coverage, higher is better): the fraction of reference shapes that are the nearest
  reference of at least one generated shape. Low COV: mode collapse.
- MMD (minimum matching distance, lower is better): the mean, over reference shapes, of the
  distance to the closest generated shape. High MMD: poor fidelity.
- 1-NNA (1-nearest-neighbour accuracy, 0.5 is best): put both sets together and classify
  each shape by the set of its nearest other shape; 0.5 means the sets cannot be told apart,
  1.0 that they are fully separate.

Example::

    >>> import numpy as np
    >>> ref = [np.zeros((10, 3)) + i for i in range(3)]
    >>> round(coverage(chamfer_matrix(ref, ref)), 2)
    1.0
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree


def chamfer_l1(a: np.ndarray, b: np.ndarray, trees: tuple[cKDTree, cKDTree] | None = None) -> float:
    tree_a, tree_b = trees or (cKDTree(a), cKDTree(b))
    a_to_b = tree_b.query(a)[0].mean()
    b_to_a = tree_a.query(b)[0].mean()
    return float((a_to_b + b_to_a) / 2.0)


def chamfer_matrix(rows: list[np.ndarray], cols: list[np.ndarray]) -> np.ndarray:
    """Chamfer-L1 between every cloud of ``rows`` and every cloud of ``cols``."""
    row_trees = [cKDTree(points) for points in rows]
    col_trees = [cKDTree(points) for points in cols]
    out = np.empty((len(rows), len(cols)))
    for i, (points, tree) in enumerate(zip(rows, row_trees, strict=True)):
        for j, (other, other_tree) in enumerate(zip(cols, col_trees, strict=True)):
            out[i, j] = chamfer_l1(points, other, (tree, other_tree))
    return out


def coverage(generated_to_reference: np.ndarray) -> float:
    """COV from the (generated x reference) distance matrix."""
    matched = np.unique(generated_to_reference.argmin(axis=1))
    return len(matched) / generated_to_reference.shape[1]


def minimum_matching_distance(generated_to_reference: np.ndarray) -> float:
    """MMD from the (generated x reference) distance matrix."""
    return float(generated_to_reference.min(axis=0).mean())


def one_nn_accuracy(
    generated: np.ndarray, reference: np.ndarray, generated_to_reference: np.ndarray
) -> float:
    """1-NNA from the within-set matrices (generated x generated, reference x reference) and
    the cross matrix. Each shape is left out of its own neighbours."""
    n_gen, n_ref = generated_to_reference.shape
    top = np.concatenate([generated, generated_to_reference], axis=1)
    bottom = np.concatenate([generated_to_reference.T, reference], axis=1)
    full = np.concatenate([top, bottom], axis=0).astype(float)
    np.fill_diagonal(full, np.inf)
    labels = np.array([0] * n_gen + [1] * n_ref)
    predicted = labels[full.argmin(axis=1)]
    return float((predicted == labels).mean())


@dataclass(frozen=True)
class GenerationScores:
    coverage: float
    mmd: float
    one_nna: float


def generation_scores(generated: list[np.ndarray], reference: list[np.ndarray]) -> GenerationScores:
    """COV, MMD and 1-NNA of ``generated`` against ``reference`` (lists of (N, 3) clouds)."""
    if len(generated) < 1 or len(reference) < 2:
        raise ValueError("need at least one generated and two reference shapes")
    cross = chamfer_matrix(generated, reference)
    return GenerationScores(
        coverage=coverage(cross),
        mmd=minimum_matching_distance(cross),
        one_nna=one_nn_accuracy(
            chamfer_matrix(generated, generated), chamfer_matrix(reference, reference), cross
        ),
    )
