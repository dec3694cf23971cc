"""gen3d: an open 3D generative asset pipeline (text or image to textured GLB).

The public API grows as the pipeline lands; see the README's Python quick start.
"""

import logging

__version__ = "0.1.0.dev0"

# A library never configures logging; entry points call gen3d.log.configure_logging.
logging.getLogger(__name__).addHandler(logging.NullHandler())
