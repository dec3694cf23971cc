"""A static gallery of a library: ``index.html`` with thumbnails, a viewer page per asset.

Everything works offline and straight from disk (``file://``): the vendored model-viewer is
copied next to the pages and loaded with a classic script tag, and each viewer page carries
its GLB inline as a data URI, because browsers refuse ``fetch`` of ``file://`` URLs.
"""

from __future__ import annotations

import base64
import html
import shutil
from pathlib import Path

from gen3d.batch import BatchItem, Library

WEB = Path(__file__).resolve().parent / "web"
VIEWER_SCRIPT = "model-viewer-umd.min.js"
MAX_INLINE_BYTES = 64 * 2**20  # larger GLBs are linked, not inlined

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 24px; background: #fafafa; color: #222; }
h1 { font-size: 20px; } .summary { color: #666; margin-bottom: 16px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 14px; }
.card { background: white; border: 1px solid #ddd; border-radius: 8px; overflow: hidden; }
.card img { width: 100%; aspect-ratio: 1; object-fit: contain; background: #fff; display: block; }
.card .text { padding: 8px; font-size: 13px; } .card .meta { color: #888; font-size: 11px; }
.failed { background: #fff4f4; } .failed .text { color: #a00; }
.card .pictures { position: relative; }
.card img.input { position: absolute; left: 6px; bottom: 6px; width: 30%; border: 1px solid #ccc;
  border-radius: 4px; }
a { color: inherit; text-decoration: none; }
model-viewer { width: 100%; height: 80vh; background: #fff; }
img.still { max-width: 100%; max-height: 80vh; background: #fff; display: block; }
"""


def _card(item: BatchItem) -> str:
    title = html.escape(item.title or "(no prompt)")
    if item.status != "succeeded":
        reason = html.escape(item.error or item.status)
        return f'<div class="card failed"><div class="text">{title}<br>{reason}</div></div>'
    pictures = ""
    if item.thumbnail:
        pictures = f'<img src="{html.escape(item.thumbnail)}" alt="{title}" loading="lazy">'
    if item.input_thumbnail:  # an image item: its input, inset in the corner
        pictures += (
            f'<img class="input" src="{html.escape(item.input_thumbnail)}" '
            f'alt="input image" loading="lazy">'
        )
    meta = f"seed {item.seed} &middot; {html.escape(Path(item.files[0]).suffix[1:].upper())}"
    if item.mesh:  # what it painted or started from
        verb = "painted" if item.options.get("keep_geometry") else "from"
        meta += f" &middot; {verb} {html.escape(Path(item.mesh).name)}"
    return (
        f'<a class="card" href="view/{html.escape(item.id)}.html">'
        f'<div class="pictures">{pictures}</div>'
        f'<div class="text">{title}<div class="meta">{meta}</div></div></a>'
    )


def _viewer_page(library: Library, item: BatchItem) -> str:
    model = library.root / item.files[0]
    title = html.escape(item.title)
    suffix = model.suffix.lower()
    if suffix == ".glb":
        if model.stat().st_size <= MAX_INLINE_BYTES:
            data = base64.b64encode(model.read_bytes()).decode()
            source = "data:model/gltf-binary;base64," + data
        else:
            source = f"../{html.escape(item.files[0])}"
        shown = f"""<model-viewer src="{source}" camera-controls auto-rotate shadow-intensity="0.6"
  exposure="1.0" alt="{title}"></model-viewer>"""
    else:  # model-viewer draws glTF only: show the thumbnail
        picture = (
            f'<img class="still" src="../{html.escape(item.thumbnail)}" alt="{title}">'
            if item.thumbnail
            else f"<p>{suffix[1:].upper()} asset</p>"
        )
        if suffix == ".usdz":  # Safari on iOS opens this link in AR Quick Look
            picture = f'<a rel="ar" href="../{html.escape(item.files[0])}">{picture}</a>'
        shown = picture
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<script src="../viewer/{VIEWER_SCRIPT}"></script><style>{_STYLE}</style></head>
<body><p><a href="../index.html">&larr; library</a></p><h1>{title}</h1>
{shown}
<p class="summary">seed {item.seed} &middot; <a href="../{html.escape(item.files[0])}"
 download>download {html.escape(Path(item.files[0]).name)}</a></p></body></html>
"""


def write_gallery(library: Library, title: str = "gen3d library") -> Path:
    """Write ``index.html``, ``view/*.html`` and the viewer script; returns the index."""
    root = library.root
    (root / "viewer").mkdir(exist_ok=True)
    (root / "view").mkdir(exist_ok=True)
    shutil.copyfile(WEB / VIEWER_SCRIPT, root / "viewer" / VIEWER_SCRIPT)
    shutil.copyfile(WEB / "model-viewer-LICENSE", root / "viewer" / "LICENSE")
    items = list(library.items.values())
    for item in items:
        if item.status == "succeeded" and item.files:
            page = _viewer_page(library, item)
            (root / "view" / f"{item.id}.html").write_text(page, encoding="utf-8")
    counts = library.counts()
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    cards = "\n".join(_card(item) for item in items)
    index = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{_STYLE}</style></head><body>
<h1>{html.escape(title)}</h1><div class="summary">{len(items)} items: {summary}</div>
<div class="grid">
{cards}
</div></body></html>
"""
    path = root / "index.html"
    path.write_text(index, encoding="utf-8")
    return path
