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


def cpu_computes_natively(dtype: torch.dtype) -> bool:
    """Whether this CPU computes ``dtype`` matrix products in hardware: bfloat16 with
    AVX512-BF16 or AMX, float16 with AMX-FP16. Elsewhere they are emulated, and slow: float16
    field queries took 20x as long as float32 on a CPU without AMX-FP16."""
    probes = {
        torch.float32: lambda: True,
        torch.bfloat16: lambda: (
            torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
        ),
        torch.float16: lambda: torch.cpu._is_amx_fp16_supported(),
    }
    try:
        return bool(probes[dtype]())
    except (AttributeError, KeyError):  # a torch without these probes, or another dtype
        return False


def resolve_field_dtype(name: str, device: torch.device) -> torch.dtype:
    """The precision decoded fields answer mesh-extraction and texture-baking queries in.

    On GPUs it is ``resolve_dtype``'s: "auto" is bfloat16 where supported. On CPUs "auto"
    is bfloat16 where the CPU computes it natively (AVX512-BF16 or AMX): there the default
    model's mesh extraction ran 2.1-2.7x faster than in float32 on 2 cores
    (``scripts/bench_mesh.py``), and its surface moved by at most 0.003, a quarter of a cell
    of generate's 192 grid. A lower precision named outright is used on a CPU only where it
    computes it natively, else float32; "float32" keeps every query exact.
    """
    if device.type != "cpu":
        return resolve_dtype(name, device)
    dtype = resolve_dtype("bfloat16" if name == "auto" else name, device)
    return dtype if cpu_computes_natively(dtype) else torch.float32
