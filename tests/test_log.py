import logging
import subprocess
import sys

from gen3d.log import HANDLER_NAME, PACKAGE_LOGGERS, configure_logging


def _our_handlers(name: str) -> list[logging.Handler]:
    return [h for h in logging.getLogger(name).handlers if h.get_name() == HANDLER_NAME]


def test_importing_gen3d_configures_no_logging():
    # A library must not touch the root logger or print anything on import.
    code = (
        "import logging, gen3d, gen3d.cli, gen3d.settings, gen3d.device;"
        "assert not logging.getLogger().handlers, logging.getLogger().handlers;"
        "assert not any(type(h) is not logging.NullHandler "
        "for h in logging.getLogger('gen3d').handlers)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""


def test_configure_logging_is_idempotent_and_sets_levels(capsys):
    try:
        configure_logging("debug", rich=False)
        configure_logging("WARNING", rich=False)
        for name in PACKAGE_LOGGERS:
            assert len(_our_handlers(name)) == 1
            assert logging.getLogger(name).level == logging.WARNING
        logging.getLogger("vae.trainer").warning("loss is nan at step %d", 3)
        logging.getLogger("gen3d.mesh").info("hidden below WARNING")
        err = capsys.readouterr().err
        assert "WARNING" in err
        assert "vae.trainer: loss is nan at step 3" in err
        assert "hidden" not in err
    finally:
        for name in PACKAGE_LOGGERS:
            for handler in _our_handlers(name):
                logging.getLogger(name).removeHandler(handler)
            logging.getLogger(name).setLevel(logging.NOTSET)
