"""Average the trained weights of two pipelines fine-tuned from one another (a model soup).

    .venv/bin/python scripts/soup_pipelines.py --a runs/x/pipeline --b runs/y/pipeline \
        --weight 0.5 --out runs/soup/pipeline

Two fine-tunes of one model that trade one strength for another (session 35's: photos from
the reference view against photos from random views) often keep both when their weights
are averaged, since they sit in one basin of the loss (Wortsman et al. 2022, "Model soups").
The DiT and the image encoder are interpolated, ``(1 - weight) * a + weight * b``, in fp32;
everything else (VAE, view net, text prompts, pipeline.json) is copied from A, so the two
must share their VAE and architecture. The result is an ordinary fp32 pipeline folder, for
``gen3d eval`` or ``scripts/bench_parts.py --model`` and then ``scripts/ship_default.py``.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import torch
from diffusers.utils import SAFETENSORS_WEIGHTS_NAME as WEIGHTS_FILE  # what ModelMixin writes
from safetensors.torch import load_file, save_file

SOUPED_FOLDERS = ("dit", "conditioning/image")
NOT_ARCHITECTURE = ("_name_or_path", "_diffusers_version")


class SoupError(ValueError):
    """The two pipelines cannot be averaged."""


def _config(folder: Path) -> dict:
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError) as error:
        raise SoupError(f"{folder}/config.json cannot be read: {error}") from error
    # Where and with which diffusers it was saved, not what it is.
    return {key: value for key, value in config.items() if key not in NOT_ARCHITECTURE}


def _weights(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(path)
    except Exception as error:  # safetensors' own error type is not importable on all versions
        raise SoupError(f"{path} cannot be read: {error}") from error


def same_tensors(left: Path, right: Path) -> bool:
    """Whether two weight files hold the same tensors (compared by value, not by bytes, so a
    file saved again with other metadata still matches)."""
    a, b = _weights(left), _weights(right)
    return a.keys() == b.keys() and all(
        a[name].shape == b[name].shape and torch.equal(a[name], b[name]) for name in a
    )


def soup_tensors(
    a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], weight: float
) -> dict[str, torch.Tensor]:
    """``(1 - weight) * a + weight * b`` per tensor, in fp32; integer tensors must agree."""
    if a.keys() != b.keys():
        missing = sorted(a.keys() ^ b.keys())[:5]
        raise SoupError(f"the weights name different tensors, e.g. {missing}")
    mixed = {}
    for name, left in a.items():
        right = b[name]
        if left.shape != right.shape:
            raise SoupError(f"{name}: shape {tuple(left.shape)} against {tuple(right.shape)}")
        if not left.is_floating_point():
            if not torch.equal(left, right):
                raise SoupError(f"{name}: integer tensors differ")
            mixed[name] = left
            continue
        mixed[name] = torch.lerp(left.float(), right.float(), weight).contiguous()
    return mixed


def soup_pipelines(a: Path, b: Path, weight: float, out: Path) -> None:
    if not 0.0 <= weight <= 1.0:
        raise SoupError(f"--weight must be in [0, 1], got {weight}")
    for folder in (a, b):
        if not (folder / "pipeline.json").is_file():
            raise SoupError(f"{folder} is not a pipeline folder (no pipeline.json)")
    if not same_tensors(a / "vae" / WEIGHTS_FILE, b / "vae" / WEIGHTS_FILE):
        raise SoupError("the pipelines have different VAEs: their latents do not match")
    souped = []
    for sub in SOUPED_FOLDERS:
        present = [(folder / sub).is_dir() for folder in (a, b)]
        if present == [False, False]:
            continue  # a text-only pipeline has no image encoder
        if present != [True, True]:
            raise SoupError(f"only {a if present[0] else b} has {sub}/")
        if _config(a / sub) != _config(b / sub):
            raise SoupError(f"{sub}: the two configs differ, so the architectures do")
        souped.append(sub)
    if out.exists():
        raise SoupError(f"{out} exists; pick a new folder")
    # Built beside OUT and renamed at the end, so that a failure leaves no half-made soup.
    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(a, staging)
    try:
        _soup_into(staging, a, b, souped, weight)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    staging.rename(out)


def _soup_into(staging: Path, a: Path, b: Path, souped: list[str], weight: float) -> None:
    for sub in souped:
        mixed = soup_tensors(
            _weights(a / sub / WEIGHTS_FILE), _weights(b / sub / WEIGHTS_FILE), weight
        )
        save_file(mixed, staging / sub / WEIGHTS_FILE)
        config_path = staging / sub / "config.json"
        config = json.loads(config_path.read_text())
        # A's path would say these weights are A's; name the soup instead.
        config["_name_or_path"] = f"{weight:g} soup of {a / sub} and {b / sub}"
        config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    # A shipped folder's record of the fp16 cost belongs to its own weights, not the soup's.
    (staging / "shipping.json").unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a", type=Path, required=True, help="pipeline folder (weight 0)")
    parser.add_argument("--b", type=Path, required=True, help="pipeline folder (weight 1)")
    parser.add_argument("--weight", type=float, default=0.5, help="B's share, in [0, 1]")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    try:
        soup_pipelines(args.a, args.b, args.weight, args.out)
    except SoupError as error:
        parser.error(str(error))
    print(f"wrote {args.out}: {1 - args.weight:g} x {args.a} + {args.weight:g} x {args.b}")


if __name__ == "__main__":
    main()
