"""Cameras, rasterizer backends (pure PyTorch everywhere; nvdiffrast on CUDA when installed),
UV unwrapping, texture baking and refinement, previews.

Depends on torch (and optionally nvdiffrast, xatlas): never imports gen3d, server, vae or dit.
"""
