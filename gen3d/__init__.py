"""gen3d: an open 3D generative asset pipeline (text or image to textured GLB).

``gen3d.Pipeline`` is the entry point (see the README); the heavy imports happen on first
use, so ``import gen3d`` stays cheap for the CLI and the server.
"""

import logging
from typing import Any

__version__ = "0.1.0.dev0"


def __getattr__(name: str) -> Any:
    if name in ("Pipeline", "GenerationCancelled", "PipelineError"):
        from gen3d import pipeline

        return getattr(pipeline, name)
    if name == "Asset":
        from gen3d.asset import Asset

        return Asset
    raise AttributeError(f"module 'gen3d' has no attribute {name!r}")


# A library never configures logging; entry points call gen3d.log.configure_logging.
logging.getLogger(__name__).addHandler(logging.NullHandler())
