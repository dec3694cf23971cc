"""Turn the user's device and dtype choices ("auto", "cuda:1", "bfloat16") into torch objects.

Only the entry points (pipeline, CLI, server) call these; library code takes its device from
the tensors it is given.
"""

from __future__ import annotations

import torch

from gen3d.errors import Gen3DError


class DeviceError(Gen3DError, ValueError):
    """The requested device does not exist on this machine."""


def resolve_device(name: str = "auto") -> torch.device:
    """The torch device for ``name``; "auto" picks CUDA when available, else CPU.

    >>> resolve_device("cpu")
    device(type='cpu')
    """
    name = name.strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise DeviceError(f"unknown device {name!r}: {error}") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(
                f"device {name!r} asked for, but this torch build sees no CUDA GPU "
                "(use device 'cpu' or 'auto')"
            )
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise DeviceError(f"device {name!r} asked for, but only {count} CUDA GPU(s) exist")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise DeviceError("device 'mps' asked for, but Apple's MPS backend is not available")
    return device


_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    """The compute dtype: "auto" is bfloat16 on CUDA GPUs that support it, else float32."""
    if name == "auto":
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    try:
        return _DTYPES[name]
    except KeyError:
        raise DeviceError(f"unknown dtype {name!r}; expected auto, {', '.join(_DTYPES)}") from None


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bfloat16 matrix products in hardware (AVX512-BF16 or AMX);
    elsewhere bfloat16 is emulated and slower than float32."""
    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:  # a torch without these probes: assume not
        return False


def resolve_field_dtype(name: str, device: torch.device) -> torch.dtype:
    """The precision decoded fields answer mesh-extraction and texture-baking queries in.

    "auto" is bfloat16 where the hardware computes it natively: CUDA GPUs that support it and
    CPUs with AVX512-BF16 or AMX. There the default model's mesh extraction ran 2.1-2.7x
    faster than in float32 on 2 CPU cores (``scripts/bench_mesh.py``), and its surface moved
    by at most 0.003, a quarter of a cell of generate's 192 grid; elsewhere float32. An
    explicit dtype is used as given ("float32" keeps every query exact).
    """
    if name == "auto" and device.type == "cpu" and cpu_has_native_bf16():
        return torch.bfloat16
    return resolve_dtype(name, device)
