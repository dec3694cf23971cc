"""One rasterizer API, two backends: pure PyTorch (the reference, default, everywhere) and
nvdiffrast (CUDA only, optional: its licence is NVIDIA's non-commercial one).

``get_backend("auto", device)`` picks nvdiffrast for CUDA tensors when it is installed and
PyTorch otherwise; ``"torch"`` or ``"nvdiffrast"`` forces one. The choice is made by argument
at call time, never from the environment at import.
"""

from __future__ import annotations

from typing import Any, Protocol

import torch
from torch import Tensor

from render import raster_torch

BACKEND_NAMES = ("auto", "torch", "nvdiffrast")


class RenderError(RuntimeError):
    """A render request that cannot be served (backend unavailable, bad input)."""


class RasterBackend(Protocol):
    """nvdiffrast's four primitives with its conventions (see ``render.raster_torch``)."""

    name: str

    def rasterize(self, pos: Tensor, tri: Tensor, resolution: tuple[int, int]) -> Tensor: ...

    def interpolate(self, attr: Tensor, rast: Tensor, tri: Tensor) -> Tensor: ...

    def texture(
        self, tex: Tensor, uv: Tensor, filter_mode: str = "linear", boundary_mode: str = "wrap"
    ) -> Tensor: ...

    def antialias(self, color: Tensor, rast: Tensor, pos: Tensor, tri: Tensor) -> Tensor: ...


class TorchBackend:
    """The pure-PyTorch rasterizer; runs wherever the tensors are."""

    name = "torch"

    def rasterize(self, pos: Tensor, tri: Tensor, resolution: tuple[int, int]) -> Tensor:
        return raster_torch.rasterize(pos, tri, resolution)

    def interpolate(self, attr: Tensor, rast: Tensor, tri: Tensor) -> Tensor:
        return raster_torch.interpolate(attr, rast, tri)

    def texture(
        self, tex: Tensor, uv: Tensor, filter_mode: str = "linear", boundary_mode: str = "wrap"
    ) -> Tensor:
        return raster_torch.texture(tex, uv, filter_mode, boundary_mode)

    def antialias(self, color: Tensor, rast: Tensor, pos: Tensor, tri: Tensor) -> Tensor:
        return raster_torch.antialias(color, rast, pos, tri)


def _import_nvdiffrast() -> Any:
    try:
        import nvdiffrast.torch as dr
    except ImportError as error:  # also covers a failed CUDA extension build at import
        raise RenderError(
            "the nvdiffrast backend is not installed: `pip install gen3d[cuda]` "
            "(needs nvcc and ninja), or use backend='torch'"
        ) from error
    return dr


class NvdiffrastBackend:
    """nvdiffrast's CUDA rasterizer. Inputs must be CUDA tensors; positions are made float32
    and triangles int32 contiguous, as nvdiffrast requires."""

    name = "nvdiffrast"

    def __init__(self, device: torch.device) -> None:
        self._dr = _import_nvdiffrast()
        self._context = self._dr.RasterizeCudaContext(device=device)

    def rasterize(self, pos: Tensor, tri: Tensor, resolution: tuple[int, int]) -> Tensor:
        if pos.ndim == 2:
            pos = pos[None]
        rast, _ = self._dr.rasterize(
            self._context, pos.float().contiguous(), tri.int().contiguous(), tuple(resolution)
        )
        return rast

    def interpolate(self, attr: Tensor, rast: Tensor, tri: Tensor) -> Tensor:
        if attr.ndim == 2:
            attr = attr[None]
        out, _ = self._dr.interpolate(attr.float().contiguous(), rast, tri.int().contiguous())
        return out

    def texture(
        self, tex: Tensor, uv: Tensor, filter_mode: str = "linear", boundary_mode: str = "wrap"
    ) -> Tensor:
        return self._dr.texture(
            tex.float().contiguous(),
            uv.float().contiguous(),
            filter_mode=filter_mode,
            boundary_mode=boundary_mode,
        )

    def antialias(self, color: Tensor, rast: Tensor, pos: Tensor, tri: Tensor) -> Tensor:
        if pos.ndim == 2:
            pos = pos[None]
        return self._dr.antialias(
            color.float().contiguous(), rast, pos.float().contiguous(), tri.int().contiguous()
        )


_nvdiffrast_backends: dict[torch.device, NvdiffrastBackend] = {}


def nvdiffrast_available() -> bool:
    """True when nvdiffrast imports and a CUDA device is present."""
    if not torch.cuda.is_available():
        return False
    try:
        _import_nvdiffrast()
    except RenderError:
        return False
    return True


def get_backend(name: str = "auto", device: torch.device | str | None = None) -> RasterBackend:
    """The backend called ``name`` for tensors on ``device`` (CPU when not given)."""
    if name not in BACKEND_NAMES:
        raise RenderError(f"unknown render backend {name!r}; choose one of {BACKEND_NAMES}")
    device = torch.device(device if device is not None else "cpu")
    cuda_wanted = device.type == "cuda" and nvdiffrast_available()
    if name == "torch" or (name == "auto" and not cuda_wanted):
        return TorchBackend()
    if device.type != "cuda":
        raise RenderError(f"the nvdiffrast backend needs a CUDA device, got {device}")
    if device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    if device not in _nvdiffrast_backends:  # one GL/CUDA context per device, made on first use
        _nvdiffrast_backends[device] = NvdiffrastBackend(device)
    return _nvdiffrast_backends[device]
