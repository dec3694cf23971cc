"""The DiT trainer: learns the toy mixture, checkpoints with EMA, resumes, saves, validates."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest
import torch

from dit import DIT_VARIANTS, load_dit
from dit.toy import TOY_SHAPES, UNCONDITIONAL, mode_accuracy, toy_batches, toy_condition
from dit.trainer import DiTTrainConfig, train_dit

TINY = {**TOY_SHAPES, "width": 64, "depth": 2, "heads": 4}


def test_trainer_learns_the_conditional_modes(tmp_path: Path) -> None:
    config = DiTTrainConfig(
        model=TINY, steps=400, lr=2e-3, warmup_steps=20, checkpoint_every=400, validate_every=400
    )
    uncond = toy_condition(torch.tensor([UNCONDITIONAL]))
    model = train_dit(config, toy_batches(), uncond, tmp_path, progress=False)
    assert mode_accuracy(model) >= 0.95


def test_the_research_example_trains_and_samples_its_own_variant() -> None:
    example = runpy.run_path(str(Path(__file__).parents[2] / "examples" / "new_dit_variant.py"))
    assert "pooled-mlp" in DIT_VARIANTS
    assert example["main"](300) >= 0.9


def test_checkpoints_resume_and_the_saved_model_is_the_ema(tmp_path: Path) -> None:
    calls = []

    def validate(model, step: int) -> dict[str, float]:
        assert not model.training
        calls.append(step)
        return {"val": float(step)}

    config = DiTTrainConfig(
        variant="mmdit", model=TINY, steps=6, checkpoint_every=3, validate_every=3, ema_decay=0.5
    )
    uncond = toy_condition(torch.tensor([UNCONDITIONAL]))
    model = train_dit(config, toy_batches(8), uncond, tmp_path, validate=validate, progress=False)
    assert calls == [3, 6]
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [3, 6] and all(r["loss"] > 0 for r in records)
    saved = load_dit(tmp_path / "model")
    assert all(
        torch.equal(a, b) for a, b in zip(saved.parameters(), model.parameters(), strict=True)
    )
    # the EMA weights differ from the raw weights the optimiser left in the checkpoint
    from safetensors.torch import load_file

    raw = load_file(tmp_path / "checkpoints" / "last" / "model.safetensors")
    name = next(k for k in raw if k.endswith("proj_out.weight"))
    assert not torch.equal(raw[name], saved.state_dict()[name])

    train_dit(
        DiTTrainConfig(**{**config.to_dict(), "steps": 9}),
        toy_batches(8),
        uncond,
        tmp_path,
        validate=validate,
        progress=False,
    )
    assert calls == [3, 6, 9]
    state = json.loads((tmp_path / "checkpoints" / "last" / "trainer_state.json").read_text())
    assert state["step"] == 9


def test_bad_configs_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown config keys"):
        DiTTrainConfig.from_dict({"stepz": 3})
    with pytest.raises(ValueError, match="unknown options"):
        DiTTrainConfig(model={"widht": 3})
    with pytest.raises(ValueError, match="unknown DiT variant"):
        DiTTrainConfig(variant="unet")
    with pytest.raises(ValueError, match="cond_dropout"):
        DiTTrainConfig(cond_dropout=1.0)
    path = tmp_path / "dit.yaml"
    path.write_text("variant: mmdit\nsteps: 5\nmodel:\n  width: 64\n")
    assert DiTTrainConfig.from_file(path).model == {"width": 64}


def test_init_from_starts_training_at_the_saved_weights(tmp_path: Path) -> None:
    from dit import build_dit

    torch.manual_seed(1)
    start = build_dit("dit-cross", **TINY)
    start.save_pretrained(tmp_path / "start")
    config = DiTTrainConfig(
        model=TINY, steps=1, lr=1e-9, warmup_steps=0, init_from=str(tmp_path / "start")
    )
    uncond = toy_condition(torch.tensor([UNCONDITIONAL]))
    model = train_dit(config, toy_batches(8), uncond, tmp_path / "run", progress=False)
    assert all(
        torch.allclose(a, b, atol=1e-6)
        for a, b in zip(start.parameters(), model.parameters(), strict=True)
    )
    wider = DiTTrainConfig(**{**config.to_dict(), "model": {**TINY, "width": 128}})
    with pytest.raises(ValueError, match=r"cannot start from .*start: its architecture differs"):
        train_dit(wider, toy_batches(8), uncond, tmp_path / "other", progress=False)


@pytest.mark.parametrize(
    "path",
    sorted((Path(__file__).resolve().parents[2] / "scripts" / "configs").glob("dit-*.yaml")),
    ids=lambda path: path.name,
)
def test_shipped_configs_are_valid(path: Path) -> None:
    from dit.trainer import DiTTrainConfig

    config = DiTTrainConfig.from_file(path)
    assert config.steps > 0 and config.lr > 0
