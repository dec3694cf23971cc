from pathlib import Path

import pytest

from gen3d.settings import Settings, SettingsError, load_settings, unknown_variables


def test_defaults_are_usable(clean_env):
    settings = load_settings()
    assert settings.device == "auto"
    assert settings.queue == "embedded"
    assert settings.port == 8000
    assert settings.resolved_results_dir == settings.data_dir / "results"
    assert settings.resolved_database_url.startswith("sqlite:///")
    assert settings.resolved_database_url.endswith("jobs.sqlite3")


def test_environment_variables_with_prefix(clean_env, tmp_path):
    clean_env.setenv("GEN3D_DATA_DIR", str(tmp_path))
    clean_env.setenv("GEN3D_DEVICE", "CUDA:1")
    clean_env.setenv("GEN3D_PORT", "9001")
    clean_env.setenv("GEN3D_LOG_LEVEL", "debug")
    clean_env.setenv("GEN3D_QUEUE", "distributed")
    settings = load_settings()
    assert settings.data_dir == tmp_path
    assert settings.device == "cuda:1"
    assert settings.port == 9001
    assert settings.log_level == "DEBUG"
    assert settings.queue == "distributed"
    assert settings.resolved_results_dir == tmp_path / "results"


def test_explicit_values_beat_the_environment(clean_env):
    clean_env.setenv("GEN3D_PORT", "9001")
    assert load_settings(port=7000).port == 7000


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("GEN3D_PORT", "not-a-port"),
        ("GEN3D_PORT", "70000"),
        ("GEN3D_DEVICE", "tpu"),
        ("GEN3D_DTYPE", "int8"),
        ("GEN3D_QUEUE", "kafka"),
        ("GEN3D_MAX_UPLOAD_MB", "-1"),
    ],
)
def test_bad_values_name_the_variable(clean_env, variable, value):
    clean_env.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert variable in message
    assert "\n" not in message


def test_unknown_keyword_is_rejected(clean_env):
    with pytest.raises(SettingsError, match="GEN3D_DEVISE"):
        load_settings(devise="cpu")


def test_a_mistyped_variable_is_named_not_silently_ignored(clean_env, run_cli):
    environ = {
        "GEN3D_DEVIC": "cpu",  # a typo pydantic-settings would skip without a word
        "GEN3D_MAX_IMAGE_PIXEL": "5",
        "GEN3D_ZZZ": "1",
        "GEN3D_DEVICE": "cpu",  # settings, and gen3d's own other variables, are fine
        "GEN3D_TEST_WORKERS": "2",
        "PATH": "/bin",
    }
    assert unknown_variables(environ) == [
        "GEN3D_DEVIC is not a gen3d setting and is ignored (did you mean GEN3D_DEVICE?)",
        "GEN3D_MAX_IMAGE_PIXEL is not a gen3d setting and is ignored "
        "(did you mean GEN3D_MAX_IMAGE_PIXELS?)",
        "GEN3D_ZZZ is not a gen3d setting and is ignored",
    ]
    clean_env.setenv("GEN3D_DEVIC", "cpu")
    code, err = run_cli("info")
    assert code == 0 and "GEN3D_DEVIC is not a gen3d setting" in " ".join(err.split())


def test_results_and_database_can_be_set_apart_from_data_dir(clean_env, tmp_path):
    settings = Settings(
        data_dir=tmp_path / "d",
        results_dir=tmp_path / "r",
        database_url="postgresql+psycopg://127.0.0.1/test",
    )
    assert settings.resolved_results_dir == tmp_path / "r"
    assert settings.resolved_database_url == "postgresql+psycopg://127.0.0.1/test"
    assert isinstance(settings.data_dir, Path)
