"""The test-suite conventions users and CI rely on: `slow` and `gpu` are opt-in."""

import textwrap
from pathlib import Path

import pytest

# Imported here, before any in-process pytester run: the conftest under test imports torch,
# and pytester drops modules first imported during a run, which breaks a second torch import
# ("bad call flags", then a segfault) when this file runs on its own.
import torch

pytest_plugins = ["pytester"]

SAMPLE = textwrap.dedent(
    """
    import pytest

    def test_fast():
        pass

    @pytest.mark.slow
    def test_heavy():
        pass

    @pytest.mark.gpu
    def test_cuda():
        import torch
        assert torch.cuda.is_available()
    """
)


def _with_our_config(pytester: pytest.Pytester) -> pytest.Pytester:
    """``pytester`` with this project's pytest settings and conftest."""
    root = Path(__file__).resolve().parents[1]
    pytester.makepyprojecttoml((root / "pyproject.toml").read_text())
    pytester.makeconftest((root / "tests" / "conftest.py").read_text())
    pytester.mkdir("tests")  # testpaths points here; collect the samples by explicit path
    return pytester


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    _with_our_config(pytester).makepyfile(test_sample=SAMPLE)
    return pytester


def test_default_run_deselects_slow_and_gpu(project):
    result = project.runpytest("test_sample.py", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, deselected=2)


def test_gpu_tests_skip_cleanly_without_cuda(project):
    result = project.runpytest("test_sample.py", "-m", "gpu", "-p", "no:cacheprovider")
    if torch.cuda.is_available():
        result.assert_outcomes(passed=1, deselected=2)
    else:
        result.assert_outcomes(skipped=1, deselected=2)
        result.stdout.fnmatch_lines(["*needs a CUDA GPU*"])


def test_slow_runs_on_purpose(project):
    result = project.runpytest("test_sample.py", "-m", "slow", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, deselected=2)


def test_dearest_files_run_first_each_file_whole(pytester: pytest.Pytester) -> None:
    """scripts/test hands files to xdist workers in collection order: files marked with a
    larger ``cost`` come first, unmarked files keep their order, and no file is split."""
    _with_our_config(pytester)
    cheap = "def test_one():\n    pass\n\ndef test_two():\n    pass\n"
    pytester.makepyfile(
        test_a=cheap,
        test_b="import pytest\npytestmark = pytest.mark.cost(20)\n" + cheap,
        test_c=cheap,
        test_d="import pytest\npytestmark = pytest.mark.cost(90)\n" + cheap,
    )
    files = ["test_a.py", "test_b.py", "test_c.py", "test_d.py"]
    result = pytester.runpytest(*files, "--collect-only", "-q", "-p", "no:cacheprovider")
    ids = [line for line in result.outlines if "::" in line]
    assert [nodeid.split("::")[0] for nodeid in ids] == [
        name for name in ("test_d.py", "test_b.py", "test_a.py", "test_c.py") for _ in (1, 2)
    ]
    assert ids[:2] == ["test_d.py::test_one", "test_d.py::test_two"]
