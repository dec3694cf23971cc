"""UV unwrapping with xatlas.

xatlas cuts the surface into charts, flattens each with little distortion and packs them
into the unit square with ``padding`` texels between charts (room for the seam dilation of
the bake, so that bilinear filtering and mip-maps do not bleed one chart into another).
Vertices on a seam are split: the unwrapped mesh has more vertices than the input, and
``vertex_map`` says which input vertex each came from.

xatlas runs in a child process (``render/unwrap_worker.py``): it segfaults on some meshes
and can run for hours on others, and either would otherwise take down the server or batch
run that asked. A crash or a timeout becomes an ``UnwrapError`` that names it. The child
costs about 0.1 s: a 10k-face torus unwrapped in 0.66 s against 0.54 s in process, a 200k
one in 7.6 s either way (``scripts/bench_render.py``, 2 CPU cores).
"""

from __future__ import annotations

import io
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

WORKER = Path(__file__).with_name("unwrap_worker.py")
DEFAULT_TIMEOUT = 600.0  # seconds; a 250k-face generated mesh unwraps in well under a minute


class UnwrapError(ValueError):
    """A mesh xatlas cannot unwrap (no faces, non-finite positions, bad indices). ``fact`` is
    what went wrong without the advice that follows it in the message (callers that know
    better ways round it give their own)."""

    def __init__(self, fact: str, advice: str = "") -> None:
        super().__init__(f"{fact}; {advice}" if advice else fact)
        self.fact = fact


@dataclass
class UnwrappedMesh:
    vertices: np.ndarray  # (V', 3) float32
    faces: np.ndarray  # (F, 3) int64, the input's faces in the input's order
    uv: np.ndarray  # (V', 2) float32 in [0, 1], v up (OpenGL / trimesh convention)
    vertex_map: np.ndarray  # (V',) int64: the input vertex each output vertex copies


def unwrap_uv(
    vertices: np.ndarray,
    faces: np.ndarray,
    *,
    texture_size: int = 1024,
    padding: int = 4,
    timeout: float | None = DEFAULT_TIMEOUT,
) -> UnwrappedMesh:
    """Charts and UVs for a mesh, packed for a ``texture_size`` square texture; an
    ``UnwrapError`` if xatlas crashes or runs past ``timeout`` seconds."""
    vertices = np.ascontiguousarray(vertices, dtype=np.float32)
    faces = np.asarray(faces)
    if vertices.ndim != 2 or vertices.shape[1] != 3 or faces.ndim != 2 or faces.shape[1] != 3:
        raise UnwrapError("unwrap_uv needs (V, 3) vertices and (F, 3) faces")
    if len(faces) == 0:
        raise UnwrapError("cannot unwrap a mesh with no faces")
    if not np.isfinite(vertices).all():
        raise UnwrapError("cannot unwrap a mesh whose vertices contain NaN or infinity")
    if faces.min() < 0 or faces.max() >= len(vertices):
        raise UnwrapError(f"faces index vertices outside 0..{len(vertices) - 1}")
    if not 16 <= texture_size <= 8192:
        raise UnwrapError(f"texture_size must be in 16..8192, got {texture_size}")

    vertex_map, new_faces, uv = _run_xatlas(
        vertices, np.ascontiguousarray(faces, dtype=np.uint32), texture_size, padding, timeout
    )
    vertex_map = vertex_map.astype(np.int64)
    return UnwrappedMesh(
        vertices=vertices[vertex_map],
        faces=new_faces.astype(np.int64),
        uv=np.ascontiguousarray(uv, dtype=np.float32),
        vertex_map=vertex_map,
    )


def _run_xatlas(
    vertices: np.ndarray, faces: np.ndarray, texture_size: int, padding: int, timeout: float | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    request = io.BytesIO()
    np.savez(request, vertices=vertices, faces=faces, options=np.array([texture_size, padding]))
    what = f"a mesh of {len(faces)} faces"
    try:
        done = subprocess.run(
            [sys.executable, "-I", str(WORKER)],
            input=request.getvalue(),
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise UnwrapError(f"xatlas did not finish unwrapping {what} in {timeout:g} s") from None
    if done.returncode < 0:
        try:
            name = signal.Signals(-done.returncode).name
        except ValueError:  # a signal without a name (a real-time one)
            name = f"signal {-done.returncode}"
        raise UnwrapError(
            f"xatlas crashed ({name}) unwrapping {what}, a known xatlas failure on some meshes",
            "decimating to another face count, or vertex colours instead of a texture, avoids it",
        )
    if done.returncode != 0:
        detail = done.stderr.decode(errors="replace").strip().splitlines()
        raise UnwrapError(f"xatlas failed unwrapping {what}: {detail[-1] if detail else '?'}")
    answer = np.load(io.BytesIO(done.stdout))
    return answer["vertex_map"], answer["faces"], answer["uv"]
