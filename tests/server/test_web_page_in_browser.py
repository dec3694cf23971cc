"""The service's web page in headless Chromium: submit a prompt, watch it finish, see the
asset in the viewer with a download link; the recent jobs list shows it."""

from __future__ import annotations

import httpx
import pytest

from gen3d.apikeys import hash_api_key, new_api_key

pytestmark = pytest.mark.cost(115)  # seconds in the default run: scheduled early


def test_web_page_submits_a_prompt_and_shows_the_result(live_server, browser_page) -> None:
    server = live_server().start()
    page, errors = browser_page.page, browser_page.errors
    page.goto(server.url + "/")
    page.fill("#prompt-input", "a small red teapot")
    page.select_option("#texture_size", "0")
    page.click("#submit")
    page.wait_for_selector("#status[data-status=succeeded]", timeout=60_000)
    page.wait_for_function("() => document.querySelector('model-viewer').loaded === true")
    download = page.locator("#download")
    assert download.is_visible() and download.get_attribute("href").startswith("blob:")
    assert "sample" in page.locator("#timings").inner_text()
    page.wait_for_selector("#jobs li >> text=a small red teapot")
    assert errors == []


def test_web_page_makes_usdz_and_shows_its_preview(live_server, browser_page) -> None:
    server = live_server().start()
    page, errors = browser_page.page, browser_page.errors
    page.goto(server.url + "/")
    page.fill("#prompt-input", "a green vase")
    page.select_option("#texture_size", "0")
    page.select_option("#format", "usdz")
    page.click("#submit")
    page.wait_for_selector("#status[data-status=succeeded]", timeout=60_000)
    page.wait_for_function(
        "() => { const img = document.querySelector('#preview-image');"
        " return !img.hidden && img.complete && img.naturalWidth > 0; }"
    )
    assert page.locator("#viewer").is_hidden()  # model-viewer shows glTF only
    assert page.locator("#download").inner_text() == "Download USDZ"
    assert errors == []


def test_web_page_with_api_keys(live_server, browser_page) -> None:
    key = new_api_key()
    server = live_server(api_keys=hash_api_key(key)).start()
    page = browser_page.page
    page.goto(server.url + "/")
    # Without a key the server's 401 is shown, in its own words.
    page.wait_for_selector("#error:not([hidden])")
    assert "API key" in page.locator("#error").inner_text()
    page.click("#key-options summary")
    page.fill("#api-key", key)
    page.fill("#prompt-input", "a blue stool")
    page.select_option("#texture_size", "0")
    page.click("#submit")
    page.wait_for_selector("#status[data-status=succeeded]", timeout=60_000)
    page.wait_for_function("() => document.querySelector('model-viewer').loaded === true")
    assert page.locator("#error").is_hidden()
    # The browser asked for the key's own jobs only, with the key in a header.
    assert page.evaluate("localStorage.getItem('gen3d-api-key')") == key
    page.wait_for_selector("#jobs li >> text=a blue stool")


def test_web_page_uploads_an_image(live_server, browser_page, tmp_path) -> None:
    from PIL import Image, ImageDraw

    photo = tmp_path / "ball.png"
    image = Image.new("RGB", (96, 96), "white")
    ImageDraw.Draw(image).ellipse((16, 16, 80, 80), fill="red")
    image.save(photo)
    server = live_server().start()
    page, errors = browser_page.page, browser_page.errors
    page.goto(server.url + "/")
    assert page.locator("#prompt-input").is_visible() and page.locator("#image-input").is_hidden()
    page.check("input[value=image]")
    assert page.locator("#image-input").is_visible() and page.locator("#prompt-input").is_hidden()
    assert page.locator("#refine_steps").is_visible()  # refining needs an image
    page.set_input_files("#image-input", str(photo))
    page.select_option("#texture_size", "512")
    page.fill("#refine_steps", "2")
    page.fill("#view", "210,15")  # the camera the photo was taken from
    assert page.locator("#symmetry").is_checked()  # colours carried round by default
    page.uncheck("#symmetry")
    page.click("#submit")
    page.wait_for_selector("#status[data-status=succeeded]", timeout=60_000)
    assert "refine" in page.locator("#timings").inner_text()
    (job,) = httpx.get(server.url + "/jobs").json()["items"]
    assert job["request"]["view"] == "210,15" and job["request"]["symmetry"] is False
    assert job["result"]["view"]["source"] == "given"
    assert (
        page.locator("#refinement")
        .inner_text()
        .startswith("Refined from azimuth 210, elevation 15 (given)")
    )
    page.wait_for_function("() => document.querySelector('model-viewer').loaded === true")
    page.wait_for_selector("#jobs li >> text=(image)")
    # The page says what the CLI says of colours carried round or mirrored.
    from gen3d.cli.generate import describe_view

    view = {"source": "given", "azimuth": 210.0, "elevation": 15.0}
    for symmetry in (
        {"turns": [30.0 * k for k in range(1, 12)], "round": True, "mirror": None, "carried": 0.41},
        {"turns": [90.0, 180.0, 270.0], "round": False, "mirror": None, "carried": 0.3},
        {"turns": [], "round": False, "mirror": 90.0, "carried": 0.23},
    ):
        result = {"view": view, "symmetry": symmetry}
        line = page.evaluate("(result) => describeRefinement(result)", result)
        said = describe_view(view, symmetry=symmetry).replace(
            "; --no-symmetry to keep the model's",
            "",  # the CLI's own switch
        )
        assert line == "R" + said[1:] + "."
    assert errors == []


def test_web_page_paints_an_uploaded_mesh(live_server, browser_page, tmp_path) -> None:
    import io

    import numpy as np
    import trimesh

    box = trimesh.creation.box(extents=(4.0, 2.0, 2.0))
    box.apply_translation([10.0, -3.0, 5.0])
    box.export(tmp_path / "box.ply")
    server = live_server().start()
    page, errors = browser_page.page, browser_page.errors
    page.goto(server.url + "/")
    page.fill("#prompt-input", "a red box")
    page.click("#mesh-options summary")
    page.set_input_files("#mesh-input", str(tmp_path / "box.ply"))
    page.check("#keep_geometry")
    page.click("#submit")
    page.wait_for_selector("#status[data-status=succeeded]", timeout=60_000)
    page.wait_for_function("() => document.querySelector('model-viewer').loaded === true")
    page.wait_for_selector("#jobs li >> text=a red box (painting a mesh)")
    job_id = page.locator("#jobs li").first.get_attribute("data-job-id")
    job = httpx.get(f"{server.url}/jobs/{job_id}").json()
    assert job["request"]["keep_geometry"] is True and job["request"]["mesh"].endswith(".ply")
    glb = httpx.get(server.url + job["links"]["asset.glb"]).content
    painted = trimesh.load(io.BytesIO(glb), file_type="glb", force="mesh")
    np.testing.assert_allclose(painted.bounds, box.bounds, atol=1e-5)
    assert errors == []


def test_web_page_shows_the_unknown_prompt_warning(
    tmp_path, tiny_pipeline, live_server, browser_page
) -> None:
    from gen3d.vocabulary import KnownPrompts

    captions = ["a tall red wooden chair with four legs", "a small blue ceramic mug"]
    tiny_pipeline.known_prompts = KnownPrompts.build(tiny_pipeline.text_encoder, captions)
    try:
        model = tiny_pipeline.save_pretrained(tmp_path / "knowing")
    finally:
        tiny_pipeline.known_prompts = None
    server = live_server(model_path=str(model)).start()  # GEN3D_MODEL_PATH
    page, errors = browser_page.page, browser_page.errors
    page.goto(server.url + "/")
    page.fill("#prompt-input", "a horse")
    page.select_option("#texture_size", "0")
    page.click("#submit")
    page.wait_for_selector("#status[data-status=succeeded]", timeout=60_000)
    warning = page.locator("#warning")
    warning.wait_for(state="visible")
    assert "'a horse' is unlike anything this model was trained on" in warning.inner_text()
    page.fill("#prompt-input", "a red wooden chair")
    page.click("#submit")
    page.wait_for_function("() => document.querySelector('#warning').hidden")
    assert errors == []
