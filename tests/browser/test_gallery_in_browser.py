"""The batch gallery in headless Chromium, straight from disk: every thumbnail shows, and a
viewer page loads its GLB in model-viewer with no console errors."""

from __future__ import annotations

import json
from pathlib import Path


def test_gallery_thumbnails_and_viewer(
    clean_env, tmp_path: Path, run_cli, tiny_pipeline_path, browser_page
) -> None:
    prompts = tmp_path / "props.txt"
    prompts.write_text("a red chair\na blue mug\na green lamp\n")
    library = tmp_path / "library"
    code, err = run_cli(
        "batch", str(prompts), "--out", str(library), "--model", str(tiny_pipeline_path)
    )
    assert code == 0, err
    manifest = json.loads((library / "manifest.json").read_text())
    page, errors = browser_page.page, browser_page.errors

    page.goto((library / "index.html").as_uri())
    page.wait_for_load_state("load")
    thumbnails = page.locator(".card img")
    assert thumbnails.count() == 3
    for index in range(3):
        thumbnails.nth(index).scroll_into_view_if_needed()
        loaded = thumbnails.nth(index).evaluate("img => img.decode().then(() => img.naturalWidth)")
        assert loaded == 256

    first = manifest["items"][0]
    page.locator(f'a[href="view/{first["id"]}.html"]').click()
    page.wait_for_url(f"**/view/{first['id']}.html")
    viewer = page.locator("model-viewer")
    # model-viewer sets `loaded` once the GLB is parsed and on screen.
    page.wait_for_function("() => document.querySelector('model-viewer').loaded === true")
    assert viewer.evaluate("v => v.src.startsWith('data:model/gltf-binary')")
    assert errors == []
