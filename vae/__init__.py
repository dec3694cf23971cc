"""Shape autoencoders (vecset SDF VAE, triplane VAE), their losses and trainer.

Every autoencoder is a ``diffusers`` ModelMixin with ``encode(points, normals) -> posterior``
and ``decode(latents) -> field``; a field answers ``query(xyz)`` with SDF and colour.
Depends on torch and diffusers only: never imports gen3d, server, dit or render.
"""

from .field import DecodedField, DiagonalGaussian
from .losses import LossWeights, reconstruction_losses
from .vecset import VecSetVAE

__all__ = ["DecodedField", "DiagonalGaussian", "LossWeights", "VecSetVAE", "reconstruction_losses"]
