"""Shared pytest set-up: `gpu` tests skip cleanly without CUDA; CLI runner; a tiny pipeline;
the README's examples."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

#: the most pytest-xdist workers ``-n auto`` starts: each holds its own models and browser
MAX_AUTO_WORKERS = 4


def _usable_cores() -> int:
    """The cores this process may run on (its affinity, as nproc counts; macOS has none)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


# scripts/test runs the default selection in pytest-xdist workers, one per core: each worker
# (and every process it starts) then gets its share of the cores. Left at torch's default,
# two workers' OpenMP pools spin against each other and a 19 s test takes minutes.
if "PYTEST_XDIST_WORKER_COUNT" in os.environ:
    _threads = str(max(1, _usable_cores() // int(os.environ["PYTEST_XDIST_WORKER_COUNT"])))
    for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[_name] = _threads


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: a worker per usable core, up to ``MAX_AUTO_WORKERS`` (xdist's own count
    is the machine's physical cores, whatever this process may use)."""
    return min(_usable_cores(), MAX_AUTO_WORKERS)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    _name_schemathesis_items(items)
    _dearest_files_first(items)
    gpu_items = [item for item in items if item.get_closest_marker("gpu")]
    if not gpu_items:
        return
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (torch.cuda.is_available() is False)")
    for item in gpu_items:
        item.add_marker(skip)


def _dearest_files_first(items: list[pytest.Item]) -> None:
    """Test files marked ``pytestmark = pytest.mark.cost(seconds)`` first, dearest first; the
    rest after them in collection order. scripts/test hands whole files to xdist workers in
    this order (``--no-loadscope-reorder``: xdist's own order puts files with many tests first),
    so a two-minute file starts at once instead of last, when the other workers would idle
    while it runs."""
    cost: dict[Path, float] = {}
    for item in items:
        marker = item.get_closest_marker("cost")
        seconds = float(marker.args[0]) if marker and marker.args else 0.0
        cost[item.path] = max(cost.get(item.path, 0.0), seconds)
    items.sort(key=lambda item: -cost[item.path])  # stable: each file stays in one run


def _name_schemathesis_items(items: list[pytest.Item]) -> None:
    """Schemathesis gives every API operation's item the test's bare node id (its name says
    "test[POST /generate]"). pytest-xdist schedules by node id, so all but the first operation
    would silently not run: each item gets its operation in its id."""
    for item in items:
        operation = getattr(item, "operation_label", None)
        if operation and not item.nodeid.endswith("]"):
            named = f"{item.nodeid}[{operation}]"
            if hasattr(item, "_id"):  # pytest >= 9 keeps a structured id
                from _pytest.nodeid import NodeId

                item._id = NodeId.parse(named)
            else:
                item._nodeid = named


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No GEN3D_* variables from the developer's shell leak into a test."""
    for name in list(os.environ):
        if name.startswith("GEN3D_"):
            monkeypatch.delenv(name)
    return monkeypatch


@pytest.fixture
def fresh_accelerate_state():
    """accelerate keeps one mixed-precision setting per process: a test that trains in bf16
    starts and ends with a fresh state, so that it and the fp32 tests can share a run."""
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(reset_partial_state=True)
    yield
    AcceleratorState._reset_state(reset_partial_state=True)


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture):
    """Run ``gen3d ARGS...`` as the console script does: ``(exit status, stderr)``."""
    from gen3d.cli import main

    def run(*args: str) -> tuple[int, str]:
        try:
            main(list(args))
            code = 0
        except SystemExit as exited:
            code = int(exited.code or 0)
        return code, capsys.readouterr().err

    return run


@pytest.fixture
def readme_python():
    """``readme_python(heading)``: the first python block after ``heading`` in the README."""
    readme = Path(__file__).resolve().parents[1] / "README.md"

    def block_after(heading: str) -> str:
        text = readme.read_text(encoding="utf-8")
        assert heading in text, f"the README has no heading {heading!r}"
        match = re.search(r"```python\n(.*?)```", text.split(heading, 1)[1], flags=re.DOTALL)
        assert match, f"no python example under {heading!r}"
        return match.group(1)

    return block_after


@pytest.fixture
def xatlas_crashes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """UV unwrapping's child process dies of SIGSEGV, as xatlas does on some meshes."""
    import render.uv

    crash = tmp_path / "crash.py"
    crash.write_text(
        "import os, resource, signal\n"
        "resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core file in the checkout\n"
        "os.kill(os.getpid(), signal.SIGSEGV)\n"
    )
    monkeypatch.setattr(render.uv, "WORKER", crash)


# -- a tiny but real generation pipeline, shared by the pipeline, CLI and server tests ------
# Built once per session and saved, as users' pipelines are (gen3d.testing).


@pytest.fixture(scope="session")
def tiny_pipeline_path(tmp_path_factory: pytest.TempPathFactory):
    from gen3d.testing import save_tiny_pipeline

    return save_tiny_pipeline(tmp_path_factory.mktemp("pipeline") / "tiny")


@pytest.fixture(scope="session")
def tiny_pipeline(tiny_pipeline_path):
    from gen3d.pipeline import Pipeline

    return Pipeline.from_pretrained(tiny_pipeline_path, device="cpu")


@pytest.fixture
def refining_by_default(tiny_pipeline, monkeypatch: pytest.MonkeyPatch):
    """The tiny pipeline made to refine image inputs unless told not to (3 steps), as the
    default model's ``image_defaults`` do; restored after the test."""
    import dataclasses

    refining = dataclasses.replace(tiny_pipeline.image_defaults, refine_steps=3)
    monkeypatch.setattr(tiny_pipeline, "image_defaults", refining)
    return tiny_pipeline


# -- headless Chromium for the gallery and web page tests ------------------------------------
# Playwright drives the system's Chromium (Debian's package; scripts/bootstrap installs it),
# so no browser is downloaded. Without one these tests skip and say why.

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")


@pytest.fixture(scope="session")
def chromium():
    import shutil

    executable = os.environ.get("GEN3D_CHROMIUM") or next(
        (path for path in CHROMIUM_CANDIDATES if shutil.which(path)), None
    )
    if executable is None:
        pytest.skip("no Chromium (scripts/bootstrap installs Debian's chromium; or GEN3D_CHROMIUM)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable,
            args=["--no-sandbox", "--use-gl=swiftshader", "--enable-unsafe-swiftshader"],
        )
        yield browser
        browser.close()


class PageErrors:
    """A page with its console errors and uncaught exceptions collected."""

    def __init__(self, browser) -> None:
        self.page = browser.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(f"exception: {error}"))
        self.page.on(
            "console",
            lambda message: (
                self.errors.append(f"console: {message.text}") if message.type == "error" else None
            ),
        )


@pytest.fixture
def browser_page(chromium):
    watched = PageErrors(chromium)
    yield watched
    watched.page.close()
