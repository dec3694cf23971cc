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
