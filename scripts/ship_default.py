"""Put a trained pipeline into the package as the default model, with its model card.

    .venv/bin/python scripts/ship_default.py --pipeline runs/default/dit/pipeline \
        --classifier runs/default/classifier --eval runs/default/eval.json \
        --times runs/default/times.log

Copies the pipeline folder to gen3d/models/default with the DiT, the image encoder and the
view net in fp16 (they load into fp32 models; the check below measures what that costs for
the DiT) and the VAE in fp32 (its SDF feeds marching cubes, where small errors move the
surface; it is small), a new classifier (if given) to gen3d/eval/weights/classifier, and
writes MODEL_CARD.md from the eval report. Refuses to ship more than 40 MB.

The fp16 cost can only be measured against an fp32 DiT. It is recorded in the shipped
folder's shipping.json, so a pipeline assembled from a shipped one (a new VAE beside the
shipped fp16 DiT) carries the first measurement forward instead of measuring 0.

The view net (``view/``, ``scripts/train_view_net.py``) is trained apart from the DiT: a
pipeline without one keeps the one shipped before.
"""

from __future__ import annotations

import argparse
import json
import shutil
import textwrap
from collections.abc import Sequence
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from gen3d.pipeline import VIEW_NET_FOLDER

ROOT = Path(__file__).resolve().parents[1]
MAX_BYTES = 40 * 2**20
HALF_FOLDERS = ("dit", "conditioning/image", VIEW_NET_FOLDER)
SHIPPING_RECORD = "shipping.json"
VIEW_NET_LINES = [
    "- View net: a small CNN that reads from a photo which way it looks at the object, a prior",
    "  for the view estimate when an image-to-3D texture is refined; trained apart from the",
    "  DiT on 64x64 renders from the reference view and 7 random views per shape",
    "  (`scripts/train_view_net.py`).",
]


def halve(folder: Path) -> None:
    for path in folder.glob("*.safetensors"):
        tensors = load_file(path)
        save_file({k: v.half() if v.is_floating_point() else v for k, v in tensors.items()}, path)


def fp16_cost(original: Path, shipped: Path) -> float:
    """Largest difference in sampled latents between the fp32 and the shipped pipeline."""
    from gen3d.pipeline import Pipeline

    outputs = []
    for folder in (original, shipped):
        pipe = Pipeline.from_pretrained(folder, device="cpu")
        cond = pipe.text_encoder.encode(["a red wooden chair"])
        from dit.sampling import sample_latents

        latents = sample_latents(
            pipe.dit,
            cond,
            pipe.text_encoder.unconditional(),
            steps=8,
            guidance=3.0,
            generator=torch.Generator().manual_seed(0),
        )
        outputs.append(latents)
    return float((outputs[0] - outputs[1]).abs().max() / outputs[0].abs().max())


def is_half(folder: Path) -> bool:
    """Whether the weights in ``folder`` are already fp16 (a shipped model's DiT)."""
    return any(
        tensor.dtype == torch.float16
        for path in folder.glob("*.safetensors")
        for tensor in load_file(path).values()
    )


def recorded_fp16_cost(pipeline: Path) -> float:
    """The fp16 cost a shipped pipeline recorded, for a pipeline whose DiT is already fp16."""
    record = pipeline / SHIPPING_RECORD
    if not record.is_file():
        raise SystemExit(
            f"{pipeline}/dit is already fp16, so the fp16 cost cannot be measured against it, "
            f"and it has no {SHIPPING_RECORD} that recorded it: ship from the fp32 pipeline "
            "(scripts/train_default.sh's runs/default/pipeline)"
        )
    return float(json.loads(record.read_text())["fp16_cost"])


def folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def sampling_line(config: dict) -> list[str]:
    """The card's line on the default sampling options (pipeline.json), image ones apart."""
    from gen3d.pipeline import GenerationOptions

    defaults = GenerationOptions(**config.get("defaults", {}))
    image = config.get("image_defaults", {})
    line = f"- Sampling: {defaults.steps} steps, guidance {defaults.guidance}"
    if image:
        overrides = ", ".join(f"{key} {value}" for key, value in sorted(image.items()))
        line += f"; for image input {overrides} (`image_defaults` in pipeline.json)"
    return [line + "."]


#: the image encoder the model history started with: 64-px input, no residual blocks
PLAIN_ENCODER = {"image_size": 64, "blocks": 0}


def image_encoder_of(pipeline: Path) -> dict:
    """The pipeline's small image encoder: the side of the images it takes and its residual
    blocks per stage (``PLAIN_ENCODER``'s where its config, or the encoder, is missing)."""
    config = pipeline / "conditioning" / "image" / "config.json"
    saved = json.loads(config.read_text()) if config.is_file() else {}
    return {key: int(saved.get(key, plain)) for key, plain in PLAIN_ENCODER.items()}


def model_card(
    report: dict,
    times: str,
    size: int,
    cost: float,
    config: dict,
    encoder: dict | None = None,
    view_net: bool = False,
    history: Sequence[str] = (),
) -> str:
    """The model card. ``history``: sentences on the DiT's training after what the pipeline's
    own folders tell (``--history``: a fine-tune that changed no architecture, such as more
    views per shape, leaves no mark in them), each its own line of the DiT's entry."""
    encoder = encoder or PLAIN_ENCODER
    image_size, blocks = encoder["image_size"], encoder["blocks"]
    finer = (
        [
            f"  Then both were fine-tuned again with {image_size}x{image_size} renders, the image",
            "  encoder warm-started with a finer token grid (`dit-views-128.yaml`).",
        ]
        if image_size > 64
        else []
    )
    deeper = (
        [
            "  Then both were fine-tuned again with a deeper image encoder: "
            f"{blocks} residual block{'s' if blocks > 1 else ''}",
            "  added per stage, starting as the identity (`dit-views-deep.yaml`).",
        ]
        if blocks
        else []
    )
    lines = [
        "# gen3d default model",
        "",
        "Text or image to a textured mesh, trained only on gen3d's procedural shape library",
        "(33 categories of props and furniture, captions naming category, colour, material and",
        "parts). It knows those categories and nothing else: prompts outside them give the",
        "nearest thing it knows.",
        "",
        "- VAE: vecset, 64 latents x 16 channels; its encoder reads surface points, normals and",
        "  colours. Trained on shape first (`scripts/configs/vae-default.yaml`), then with the",
        "  colour input added and warm-started, in two rounds (`scripts/configs/vae-colour.yaml`,",
        "  `vae-colour-2.yaml`), then its decoder alone, the encoder frozen so that the latents",
        "  the DiT learnt stay the same (`vae-decoder-2.yaml`).",
        "- DiT: dit-cross, width 256, depth 6, text (all-MiniLM-L6-v2) and image input (a small",
        "  image encoder trained with it on 64x64 renders). Trained on the shape VAE's latents",
        "  (`scripts/configs/dit-default.yaml`), then warm-started on each colour VAE's",
        "  (`scripts/configs/dit-colour.yaml`, `dit-colour-2.yaml`), all with reference-view",
        "  renders; last, fine-tuned with renders from the reference view and 7 random views",
        "  per shape, so that photos from any side work (`dit-views-2.yaml`).",
        *finer,
        *deeper,
        *(
            wrapped
            for sentence in history
            for wrapped in textwrap.wrap(
                sentence, width=90, initial_indent="  ", subsequent_indent="  "
            )
        ),
        *(VIEW_NET_LINES if view_net else []),
        f"- Weights: {size / 2**20:.1f} MB (DiT and image encoder fp16: sampled latents within",
        f"  {cost:.2e} of fp32, relative).",
        *sampling_line(config),
        "- Reproduce: `scripts/train_default.sh`.",
        "",
        "## Training time",
        "",
        "```",
        times.strip() or "(not recorded)",
        "```",
        "",
        "## Evaluation (`gen3d eval`, held-out test split)",
        "",
        "```json",
        json.dumps({k: v for k, v in report.items() if k != "text"}, indent=2),
        "```",
    ]
    text = report.get("text")
    colour = text.get("colour_accuracy") if isinstance(text, dict) else None
    if isinstance(text, dict):
        colour_text = "n/a" if colour is None else f"{colour:.3f}"
        lines += [
            "",
            f"Text to 3D: category accuracy {text['category_accuracy']:.3f}, colour accuracy "
            f"{colour_text}.",
        ]
    lines += [
        "",
        "## Limits",
        "",
        "- Procedural categories only; no real-world shapes or photographs in training.",
    ]
    if colour is not None:
        lines += [
            f"- The named colour covers at least a tenth of the surface in {colour:.0%} of",
            "  held-out samples; a part's colour, as opposed to the main colour, is not measured.",
        ]
    lines += [
        "- Image input expects one object on a plain background, seen from level to 45",
        "  degrees above; from the reference view (30 degrees azimuth, 20 elevation) it does",
        "  best; from other sides its shapes are less exact (compare the report's `image` and",
        "  `image_random_views`).",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipeline", type=Path, required=True)
    parser.add_argument(
        "--classifier", type=Path, help="a newly trained eval classifier to ship with it"
    )
    parser.add_argument("--eval", type=Path, required=True, help="gen3d eval --out report")
    parser.add_argument("--times", type=Path, help="train_default.sh's times.log")
    parser.add_argument(
        "--history",
        action="append",
        default=[],
        help="a sentence for the card on a DiT fine-tune its folders do not show (repeatable)",
    )
    parser.add_argument("--dest", type=Path, default=ROOT / "gen3d", help="the gen3d package")
    args = parser.parse_args()

    target = args.dest / "models" / "default"
    inherited = recorded_fp16_cost(args.pipeline) if is_half(args.pipeline / "dit") else None
    staging = target.with_name("default.partial")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(args.pipeline, staging)  # the input may be the shipped folder itself
    shipped_view_net = target / VIEW_NET_FOLDER
    if not (staging / VIEW_NET_FOLDER).is_dir() and shipped_view_net.is_dir():
        # A DiT run's pipeline has no view net (scripts/train_view_net.py trains it apart):
        # the shipped one reads photos the same way for the new model, so it stays.
        shutil.copytree(shipped_view_net, staging / VIEW_NET_FOLDER)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    for name in HALF_FOLDERS:
        if (target / name).is_dir():
            halve(target / name)
    cost = fp16_cost(args.pipeline, target) if inherited is None else inherited
    (target / SHIPPING_RECORD).write_text(json.dumps({"fp16_cost": cost}, indent=2) + "\n")
    classifier = args.dest / "eval" / "weights" / "classifier"
    if args.classifier is not None and args.classifier.resolve() != classifier.resolve():
        shutil.rmtree(classifier, ignore_errors=True)
        shutil.copytree(args.classifier, classifier)
    size = folder_bytes(target) + folder_bytes(classifier)
    if size > MAX_BYTES:
        shutil.rmtree(target)
        raise SystemExit(f"{size / 2**20:.1f} MB is over the 40 MB the package may carry")
    report = json.loads(args.eval.read_text())
    times = args.times.read_text() if args.times and args.times.is_file() else ""
    config = json.loads((target / "pipeline.json").read_text())
    (target / "MODEL_CARD.md").write_text(
        model_card(
            report,
            times,
            size,
            cost,
            config,
            image_encoder_of(target),
            view_net=(target / VIEW_NET_FOLDER).is_dir(),
            history=args.history,
        )
    )
    print(f"shipped {size / 2**20:.1f} MB to {target} (fp16 cost {cost:.2e})")


if __name__ == "__main__":
    main()
