"""Run xatlas in a child process: ``python -I unwrap_worker.py < request.npz > atlas.npz``.

``render.uv.unwrap_uv`` starts this script by path, so that a crash inside xatlas (it
segfaults on some meshes, such as a 6-times subdivided icosphere) or a run that never ends
costs the child, not the service or batch job that asked. It imports only numpy and xatlas
(about 0.1 s to start) and never the render package.

Request (stdin, npz): ``vertices`` (V, 3) float32, ``faces`` (F, 3) uint32, ``options``
``[texture_size, padding]``. Answer (stdout, npz): ``vertex_map``, ``faces``, ``uv``.
"""

from __future__ import annotations

import io
import os
import sys

import numpy as np


def chart(
    vertices: np.ndarray, faces: np.ndarray, texture_size: int, padding: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """xatlas in this process: ``(vertex_map, faces, uv)`` for float32 vertices and uint32
    faces, charts packed for a ``texture_size`` texture with bilinear-safe ``padding``."""
    import xatlas

    atlas = xatlas.Atlas()
    atlas.add_mesh(vertices, faces)
    pack = xatlas.PackOptions()
    pack.resolution = texture_size
    pack.padding = padding
    pack.bilinear = True
    atlas.generate(xatlas.ChartOptions(), pack)
    return atlas[0]


def no_core_dumps() -> None:
    """A crash of xatlas is expected now and then: it must not leave a core file (hundreds
    of MB) in the working directory of the server or batch run that started this child."""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ImportError, ValueError, OSError):  # not POSIX, or not allowed: nothing to do
        pass


def main() -> None:
    no_core_dumps()
    # The answer goes to the original stdout; anything xatlas itself prints goes to stderr,
    # so that it cannot corrupt the answer.
    answer_stream = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    request = np.load(io.BytesIO(sys.stdin.buffer.read()))
    texture_size, padding = (int(value) for value in request["options"])
    vertex_map, faces, uv = chart(request["vertices"], request["faces"], texture_size, padding)
    answer = io.BytesIO()
    np.savez(answer, vertex_map=vertex_map, faces=faces, uv=uv)
    answer_stream.write(answer.getvalue())
    answer_stream.flush()


if __name__ == "__main__":
    main()
