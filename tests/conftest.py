"""Shared pytest set-up: `gpu` tests skip cleanly on machines without CUDA."""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    gpu_items = [item for item in items if item.get_closest_marker("gpu")]
    if not gpu_items:
        return
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (torch.cuda.is_available() is False)")
    for item in gpu_items:
        item.add_marker(skip)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No GEN3D_* variables from the developer's shell leak into a test."""
    for name in list(os.environ):
        if name.startswith("GEN3D_"):
            monkeypatch.delenv(name)
    return monkeypatch


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
