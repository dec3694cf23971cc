"""Reconstruction F-scores of a trained VAE on held-out shapes (the issue's acceptance metric).

    .venv/bin/python scripts/eval_vae.py --model runs/vae-small/model --data data/shapes \
        --shapes 40

Each of the first ``--shapes`` validation shapes is encoded from its surface points, decoded,
meshed densely at ``--resolution`` and scored as in training's validation (F-score at tau
0.01 and 0.02, the unit cube having side 2): the same code, on more shapes. CPU; prints a
line of JSON.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="a save_pretrained VAE folder")
    parser.add_argument("--data", type=Path, required=True, help="the dataset it trained on")
    parser.add_argument("--shapes", type=int, default=40, help="validation shapes to score")
    parser.add_argument("--resolution", type=int, default=64, help="meshing grid resolution")
    parser.add_argument("--encoder-points", type=int, default=1024)
    args = parser.parse_args()

    import torch

    from gen3d.cli.train_vae import reconstruction_validator
    from vae.registry import load_vae

    model = load_vae(args.model).eval()
    validate = reconstruction_validator(
        args.data,
        shapes=args.shapes,
        resolution=args.resolution,
        encoder_points=args.encoder_points,
    )
    start = time.perf_counter()
    with torch.no_grad():
        scores = validate(model, 0)
    print(
        json.dumps(
            {
                "model": str(args.model),
                "shapes": args.shapes,
                "resolution": args.resolution,
                **{key: round(value, 4) for key, value in scores.items()},
                "seconds": round(time.perf_counter() - start, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
