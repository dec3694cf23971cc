"""The `gen3d` command line as a user meets it."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gen3d import __version__
from gen3d.cli import app, main

runner = CliRunner()


def _listed_commands(help_text: str) -> set[str]:
    section = help_text.split("Commands", 1)[1] if "Commands" in help_text else ""
    return set(re.findall(r"^\W*([a-z][a-z0-9-]+)\s{2,}", section, flags=re.MULTILINE))


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"gen3d {__version__}"


def test_help_lists_only_commands_that_run(clean_env):
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    commands = _listed_commands(result.output)
    assert "info" in commands
    for command in commands:
        sub = runner.invoke(app, [command, "--help"])
        assert sub.exit_code == 0, f"`gen3d {command} --help` failed: {sub.output}"
        assert "Usage" in sub.output


def test_no_arguments_shows_help():
    result = runner.invoke(app, [])
    assert "Usage" in result.output


def test_info_json_reports_device_and_settings(clean_env, tmp_path):
    clean_env.setenv("GEN3D_DATA_DIR", str(tmp_path))
    clean_env.setenv("GEN3D_DEVICE", "cpu")
    result = runner.invoke(app, ["info", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["gen3d"] == __version__
    assert report["device"] == "cpu"
    assert report["dtype"] == "float32"
    # Mesh and texture queries: bf16 only on a CPU that computes it natively.
    import torch

    from gen3d.device import cpu_computes_natively

    native = cpu_computes_natively(torch.bfloat16)
    assert report["field_dtype"] == ("bfloat16" if native else "float32")
    assert report["settings"]["data_dir"] == str(tmp_path)
    assert set(report["optional_backends"]) >= {"nvdiffrast", "celery"}


def test_info_table_is_readable(clean_env):
    result = runner.invoke(app, ["info"])
    assert result.exit_code == 0, result.output
    assert "torch" in result.output
    assert "settings.device" in result.output


def test_unusable_device_is_reported_not_raised(clean_env):
    import torch

    if torch.cuda.is_available():
        pytest.skip("needs a machine without CUDA")
    clean_env.setenv("GEN3D_DEVICE", "cuda")
    result = runner.invoke(app, ["info", "--json"])
    assert result.exit_code == 0
    assert json.loads(result.output)["device"].startswith("unusable:")


def test_bad_setting_is_one_clear_line(clean_env, capsys):
    clean_env.setenv("GEN3D_PORT", "eighty")
    with pytest.raises(SystemExit) as exited:
        main(["info"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "GEN3D_PORT" in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_verbose_and_quiet_exclude_each_other(clean_env):
    result = runner.invoke(app, ["-v", "-q", "info"])
    assert result.exit_code == 2
    assert "exclude each other" in result.output


def test_console_script_and_module_entry_points(clean_env):
    # The installed `gen3d` script and `python -m gen3d` are what users type.
    bindir = Path(sys.executable).parent
    for command in (
        [str(bindir / "gen3d"), "--version"],
        [sys.executable, "-m", "gen3d", "--version"],
    ):
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == f"gen3d {__version__}"


def test_the_cli_answers_help_without_loading_torch() -> None:
    # torch, trimesh and the models load only for the commands that use them: `gen3d --help`
    # took 2.3 s on 2 cores when every command module imported them, 0.3 s without.
    code = (
        "import sys; from gen3d.cli import app; "
        "heavy = sorted({'torch', 'trimesh', 'diffusers'} & set(sys.modules)); "
        "print(','.join(heavy))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"imported at start-up: {done.stdout.strip()}"
