"""The test-suite conventions users and CI rely on: `slow` and `gpu` are opt-in."""

import textwrap
from pathlib import Path

import pytest

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


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    root = Path(__file__).resolve().parents[1]
    pytester.makepyprojecttoml((root / "pyproject.toml").read_text())
    pytester.makeconftest((root / "tests" / "conftest.py").read_text())
    pytester.makepyfile(test_sample=SAMPLE)
    pytester.mkdir("tests")  # testpaths points here; collect the sample by explicit path
    return pytester


def test_default_run_deselects_slow_and_gpu(project):
    result = project.runpytest("test_sample.py", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, deselected=2)


def test_gpu_tests_skip_cleanly_without_cuda(project):
    import torch

    result = project.runpytest("test_sample.py", "-m", "gpu", "-p", "no:cacheprovider")
    if torch.cuda.is_available():
        result.assert_outcomes(passed=1, deselected=2)
    else:
        result.assert_outcomes(skipped=1, deselected=2)
        result.stdout.fnmatch_lines(["*needs a CUDA GPU*"])


def test_slow_runs_on_purpose(project):
    result = project.runpytest("test_sample.py", "-m", "slow", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, deselected=2)
