"""Damaged meshes, images and prompt files (scripts/fuzz_inputs.py) are accepted or refused
by name by the upload checks, which run the same readers as the CLI and the pipeline, and by
``gen3d batch``'s reader: never a traceback, a hang or a runaway allocation."""

from __future__ import annotations

import importlib.util
import mmap
import sys
import time
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "fuzz_inputs.py"

pytestmark = pytest.mark.cost(25)  # seconds in the default run: scheduled early


@pytest.fixture(scope="module")
def fuzz():
    spec = importlib.util.spec_from_file_location("fuzz_inputs", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def _failures(outcomes) -> str:
    return "\n\n".join(
        f"{o.case.id} ({o.result}; replay with scripts/fuzz_inputs.py --replay {o.case.id})\n"
        f"{o.detail}"
        for o in outcomes
        if o.failed
    )


def _fuzz_and_check(fuzz, per_kind: int, seed: int) -> None:
    outcomes = fuzz.fuzz(fuzz.cases(fuzz.KINDS, per_kind, seed))
    assert not any(outcome.failed for outcome in outcomes), _failures(outcomes)
    results = {(outcome.case.kind, outcome.result) for outcome in outcomes}
    # the damage is real (some files are refused) and not always fatal (some still read)
    assert {(kind, "refused") for kind in fuzz.KINDS} <= results
    assert {("mesh", "accepted"), ("prompts", "accepted")} <= results


def test_damaged_uploads_are_accepted_or_refused_by_name(fuzz) -> None:
    _fuzz_and_check(fuzz, per_kind=42, seed=0)  # three damaged copies of each fixture mesh


@pytest.mark.slow
def test_many_damaged_uploads_are_accepted_or_refused_by_name(fuzz) -> None:
    _fuzz_and_check(fuzz, per_kind=700, seed=1)  # about 3 min on 2 cores


def test_a_case_id_rebuilds_the_same_damaged_file(fuzz) -> None:
    case = fuzz.Case.parse("mesh:rabbit.obj:3:17")
    assert case.id == "mesh:rabbit.obj:3:17"
    assert fuzz.case_bytes(case) == fuzz.case_bytes(fuzz.Case("mesh", "rabbit.obj", 3, 17))
    assert fuzz.case_bytes(case) != (fuzz.MESHES / "rabbit.obj").read_bytes()
    damaged = {fuzz.case_bytes(fuzz.Case("image", "PNG", 3, index)) for index in range(20)}
    assert len(damaged) > 15  # each index damages the file its own way
    with pytest.raises(ValueError, match="kind:name:seed:index"):
        fuzz.Case.parse("video:clip.mp4:1:2")


def test_an_original_that_does_not_read_cleanly_stops_the_run(fuzz, monkeypatch, tmp_path):
    bad_line = '{"prompt": "a stool", "guidance_scale": 5}\n'  # damaged cases of it would
    monkeypatch.setitem(fuzz.PROMPT_FILES, "prompts.jsonl", bad_line)  # test nothing new
    with pytest.raises(SystemExit, match=r"does not read cleanly \(1 of 1 items failed\)"):
        fuzz.warm_up([fuzz.Case("prompts", "prompts.jsonl", 0, 0)], tmp_path)


def _crashes(case, results_dir):
    raise KeyError("a reader bug")


def _hangs(case, results_dir):
    time.sleep(30)


def _runs_away(case, results_dir):
    return bytearray(8 * 1024**3), ""  # over the child's memory cap


@pytest.mark.parametrize(
    ("check", "result", "detail"),
    [
        (_crashes, "crashed", "KeyError: 'a reader bug'"),
        (_hangs, "hung", "no answer in 1 s"),
        (_runs_away, "crashed", "MemoryError"),
    ],
    ids=["crash", "hang", "runaway"],
)
def test_each_kind_of_failure_is_caught_and_named(
    fuzz, monkeypatch, tmp_path, check, result: str, detail: str
) -> None:
    monkeypatch.setattr(fuzz, "check", check)  # the forked child calls the module's check
    started = time.perf_counter()
    outcome = fuzz.run_case(fuzz.Case("image", "PNG", 0, 0), tmp_path, time_limit=1.0)
    assert outcome.failed and outcome.result == result
    assert detail in outcome.detail
    assert time.perf_counter() - started < 10


def _allocates_a_little(case, results_dir):
    return "accepted", f"{len(bytearray(256 * 1024**2))} bytes"


def test_the_memory_cap_is_headroom_over_what_the_parent_holds(fuzz, monkeypatch, tmp_path):
    """A test worker that has loaded models holds gigabytes of address space; under a fixed
    cap its children could allocate nothing and every case failed."""
    monkeypatch.setattr(fuzz, "check", _allocates_a_little)
    reserved = mmap.mmap(-1, 4 * 1024**3)  # address space only: never touched
    try:
        outcome = fuzz.run_case(fuzz.Case("image", "PNG", 0, 0), tmp_path, time_limit=20.0)
    finally:
        reserved.close()
    assert (outcome.result, outcome.detail) == ("accepted", f"{256 * 1024**2} bytes")
