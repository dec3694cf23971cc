"""scripts/ship_default.py: a pipeline becomes the packaged default, in fp16 where it may."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from gen3d.eval.classifier import PointCloudClassifier
from gen3d.pipeline import Pipeline

pytestmark = pytest.mark.cost(30)  # seconds in the default run: scheduled early

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "ship_default.py"


def ship(pipeline: Path, report: Path, package: Path, *extra: str):
    command = [sys.executable, str(SCRIPT), "--pipeline", str(pipeline), "--eval", str(report)]
    return subprocess.run(
        [*command, "--dest", str(package), *extra], capture_output=True, text=True, timeout=300
    )


def test_ship_default_copies_halves_and_writes_a_card(tmp_path: Path, tiny_pipeline_path) -> None:
    classifier = PointCloudClassifier(["chair", "mug"], width=16).save_pretrained(tmp_path / "c")
    report = tmp_path / "eval.json"
    report.write_text(
        json.dumps(
            {
                "vae": {"f@0.02": 0.9},
                "text": {"category_accuracy": 0.5, "colour_accuracy": 0.75, "per_category": {}},
            }
        )
    )
    package = tmp_path / "gen3d"
    result = ship(tiny_pipeline_path, report, package, "--classifier", str(classifier))
    assert result.returncode == 0, result.stderr[-2000:]
    shipped = package / "models" / "default"
    dit = load_file(next((shipped / "dit").glob("*.safetensors")))
    vae = load_file(next((shipped / "vae").glob("*.safetensors")))
    assert all(t.dtype == torch.float16 for t in dit.values() if t.is_floating_point())
    assert all(t.dtype == torch.float32 for t in vae.values() if t.is_floating_point())
    card = (shipped / "MODEL_CARD.md").read_text()
    assert "category accuracy 0.500" in card and '"f@0.02": 0.9' in card
    assert "- Sampling: " in card and "for image input" not in card  # the tiny one has none
    assert (package / "eval" / "weights" / "classifier" / "classifier.json").is_file()
    pipe = Pipeline.from_pretrained(shipped, device="cpu")  # fp16 files load as fp32 models
    assert next(pipe.dit.parameters()).dtype == torch.float32
    assert len(pipe(prompt="a chair", seed=0, steps=2, texture_size=0).mesh.faces) > 0


def test_fp16_cost_is_carried_forward_from_a_shipped_dit(tmp_path: Path, tiny_pipeline_path):
    report = tmp_path / "eval.json"
    report.write_text(json.dumps({"vae": {"f@0.02": 0.9}}))
    first = tmp_path / "first"
    assert ship(tiny_pipeline_path, report, first).returncode == 0
    record = first / "models/default/shipping.json"
    assert json.loads(record.read_text())["fp16_cost"] >= 0  # measured against the fp32 DiT
    measured = 1.23e-3  # stands in for a real model's (the tiny DiT's samples do not move)
    record.write_text(json.dumps({"fp16_cost": measured}))
    # A new VAE beside the shipped fp16 DiT (as train_default.sh's with_vae assembles it):
    # the cost cannot be measured against an fp16 DiT, so the first measurement carries on.
    result = ship(first / "models/default", report, tmp_path / "second")
    assert result.returncode == 0, result.stderr[-2000:]
    second = tmp_path / "second/models/default"
    assert json.loads((second / "shipping.json").read_text())["fp16_cost"] == measured
    assert f"{measured:.2e}" in (second / "MODEL_CARD.md").read_text()
    # Without the record there is nothing to carry: a clear refusal, nothing shipped.
    (first / "models/default/shipping.json").unlink()
    result = ship(first / "models/default", report, tmp_path / "third")
    assert result.returncode != 0 and "already fp16" in result.stderr
    assert not (tmp_path / "third/models/default").exists()


@pytest.fixture(scope="module")
def ship_script():
    """scripts/ship_default.py imported, for its card-writing functions."""
    spec = importlib.util.spec_from_file_location("ship_default", SCRIPT)
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


def test_the_card_names_the_image_inputs_own_defaults(ship_script) -> None:
    config = {"defaults": {"steps": 25, "guidance": 4.0}, "image_defaults": {"guidance": 2.0}}
    assert ship_script.sampling_line(config) == [
        "- Sampling: 25 steps, guidance 4.0; for image input guidance 2.0 (`image_defaults` in "
        "pipeline.json)."
    ]


def test_the_card_says_which_image_encoder_the_model_has(ship_script, tmp_path: Path) -> None:
    plain = {"image_size": 64, "blocks": 0}
    assert ship_script.image_encoder_of(tmp_path) == plain  # text only: the history's encoder
    encoder = tmp_path / "conditioning" / "image"
    encoder.mkdir(parents=True)
    (encoder / "config.json").write_text(json.dumps({"image_size": 128, "width": 384}))
    finer = ship_script.image_encoder_of(tmp_path)
    assert finer == {"image_size": 128, "blocks": 0}
    card = ship_script.model_card({}, "", 2**20, 1e-3, {}, finer)
    assert "fine-tuned again with 128x128 renders" in card and "dit-views-128.yaml" in card
    assert "dit-views-deep.yaml" not in card
    (encoder / "config.json").write_text(json.dumps({"image_size": 64, "blocks": 1}))
    deeper = ship_script.image_encoder_of(tmp_path)
    card = ship_script.model_card({}, "", 2**20, 1e-3, {}, deeper)
    assert "1 residual block\n  added per stage" in card and "dit-views-deep.yaml" in card
    assert "dit-views-128.yaml" not in card
    plain_card = ship_script.model_card({}, "", 2**20, 1e-3, {}, plain)
    assert "dit-views-128.yaml" not in plain_card and "dit-views-deep.yaml" not in plain_card

    # A fine-tune that changed no folder (more views per shape) is told by --history.
    told = (
        "Then both were fine-tuned again for 4000 steps with renders from the reference view "
        "and 15 random views per shape, 70% of them image steps (`dit-views-deep-2.yaml`)."
    )
    card = ship_script.model_card({}, "", 2**20, 1e-3, {}, deeper, history=[told])
    entry = card[card.index("- DiT:") : card.index("- Weights:")]
    assert "dit-views-deep.yaml" in entry and told in " ".join(entry.split())
    assert all(len(line) <= 90 and line.startswith(("- DiT", "  ")) for line in entry.splitlines())


def test_a_pipeline_without_a_view_net_keeps_the_shipped_one(tmp_path: Path, tiny_pipeline_path):
    from gen3d.view_net import ViewNet

    report = tmp_path / "eval.json"
    report.write_text(json.dumps({"vae": {"f@0.02": 0.9}}))
    package = tmp_path / "gen3d"
    assert ship(tiny_pipeline_path, report, package).returncode == 0
    shipped = package / "models" / "default"
    net = ViewNet(image_size=32, width=32)
    net.save_pretrained(shipped / "view")
    result = ship(tiny_pipeline_path, report, package)  # a new model, trained without one
    assert result.returncode == 0, result.stderr[-2000:]
    kept = Pipeline.from_pretrained(shipped, device="cpu").view_net
    photo = torch.rand(32, 32, 3)
    torch.testing.assert_close(kept.prior(photo).probabilities, net.prior(photo).probabilities)
