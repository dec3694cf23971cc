"""Best of N for image to 3D: does sampling several shapes per photo and keeping the one that
looks most like it (the view estimate's score: silhouette IoU less half the colour error)
give better shapes than the first sample?

    .venv/bin/python scripts/bench_candidates.py --data data/shapes --candidates 4 --shapes 16

Photos are renders of held-out shapes from random views (``gen3d eval --image-views
random``'s views and seeds). Prints, per shape and on average, F@0.05 (F@0.02) of the first
sample, of the one picked, and of the best by true F-score (what a perfect picker would get).
Measured (CPU, the model before the any-side fine-tune, 4 candidates, 16 shapes): first
0.689 (0.491), picked 0.682 (0.491), best possible 0.703: the samples for one photo differ
little, so picking among them cannot help; the model was not given this option.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def main() -> None:
    from gen3d.data.renders import random_view, reference_render
    from gen3d.eval.harness import HeldOut, shape_scores
    from gen3d.image_view import estimate_photo_view, prepared_photo
    from gen3d.pipeline import PREPARE_MARGIN, REFINE_RESOLUTION, Pipeline

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data/shapes"))
    parser.add_argument("--model", help="a pipeline folder (default: the shipped model)")
    parser.add_argument("--candidates", type=int, default=4)
    parser.add_argument("--shapes", type=int, default=16)
    parser.add_argument("--resolution", type=int, default=192)
    args = parser.parse_args()

    pipe = Pipeline.from_pretrained(args.model)
    held = HeldOut.load(args.data, "test")
    chosen = [i for i, shape in enumerate(held.shapes) if shape is not None][: args.shapes]
    rng = np.random.default_rng(0)  # the views gen3d eval --image-views random uses
    rows = []
    for done, index in enumerate(chosen, start=1):
        view = random_view(rng)
        image = reference_render(held.shapes[index], view, 256)
        photo = prepared_photo(image, REFINE_RESOLUTION, PREPARE_MARGIN)
        samples = []
        for k in range(args.candidates):
            seed = done + 1000 * k  # the first is eval's own seed
            mesh = pipe(image=image, seed=seed, texture_size=0, resolution=args.resolution).mesh
            estimate = estimate_photo_view(
                mesh, photo, PREPARE_MARGIN, prior=pipe.config.reference_view
            )
            scores = shape_scores(
                mesh,
                held.surface[index],
                held.normals[index],
                held.shapes[index],
                taus=(0.02, 0.05),
            )
            samples.append((estimate.score, scores["f@0.05"], scores["f@0.02"]))
        picked = max(samples, key=lambda sample: sample[0])
        row = {
            "first": samples[0][1],
            "first f@0.02": samples[0][2],
            "picked": picked[1],
            "picked f@0.02": picked[2],
            "best possible": max(sample[1] for sample in samples),
        }
        rows.append(row)
        print(done, held.categories[index], {k: round(v, 3) for k, v in row.items()}, flush=True)
    print("mean", {k: round(float(np.mean([r[k] for r in rows])), 3) for k in rows[0]})


if __name__ == "__main__":
    main()
