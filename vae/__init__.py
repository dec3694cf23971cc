"""Shape autoencoders (vecset SDF VAE, triplane VAE), their losses and trainer.

Every autoencoder is a ``diffusers`` ModelMixin with
``encode(points, normals, colours) -> posterior`` and ``decode(latents) -> field``; a field
answers ``query(xyz)`` with SDF and colour.
Depends on torch and diffusers only: never imports gen3d, server, dit or render.
"""

from .field import DecodedField, DiagonalGaussian, ShapeAutoencoder
from .losses import LossWeights, reconstruction_losses
from .registry import VAE_TYPES, build_vae, load_vae
from .triplane import TriplaneVAE
from .vecset import VecSetVAE

__all__ = [
    "VAE_TYPES",
    "DecodedField",
    "DiagonalGaussian",
    "LossWeights",
    "ShapeAutoencoder",
    "TriplaneVAE",
    "VecSetVAE",
    "build_vae",
    "load_vae",
    "reconstruction_losses",
]
