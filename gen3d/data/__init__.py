"""Shape data: procedural shapes, mesh ingestion, SDF sampling and dataset shards.

- ``gen3d.data.procedural``: parametric generators of everyday objects with exact SDFs,
  colours and captions (``generate_shape("chair", seed=3)``);
- ``load_mesh``: a mesh file, checked, cleaned and normalised, with a robust inside;
- ``sample_sdf``: surface, near-surface and volume samples of either;
- ``build_dataset`` / ``ShapeDataset``: sharded datasets on disk and their torch reader.
"""

from .dataset import ShapeDataset
from .meshes import MeshAsset, MeshError, load_mesh
from .sampling import SamplingConfig, SdfSamples, sample_sdf
from .shards import BuildSpec, DatasetError, build_dataset

__all__ = [
    "BuildSpec",
    "DatasetError",
    "MeshAsset",
    "MeshError",
    "SamplingConfig",
    "SdfSamples",
    "ShapeDataset",
    "build_dataset",
    "load_mesh",
    "sample_sdf",
]
