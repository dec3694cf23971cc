"""Which parts of held-out shapes each stage loses, and how image guidance moves that.

    .venv/bin/python scripts/bench_parts.py --data data/shapes --shapes 40 --first-seed 0
    .venv/bin/python scripts/bench_parts.py --split val --shapes 24 --stages reference,random \
        --guidance 2,4

Stages: ``vae`` (encode the true surface, decode, mesh at 192: the bound for the others),
``reference`` (image to 3D from a render at the model's reference view) and ``random`` (from
a random view per shape, ``gen3d eval --image-views random``'s draw). Per stage (and
guidance, for the image stages) it prints F@0.05, F@0.02 and ``parts_found`` (the share of a
shape's parts with half their surface within 0.05 of the mesh, each leg counting as much as
the top), then the part names found least often. CPU; about 10 s per shape and stage.

Measured (CPU, the shipped any-side model, 40 test shapes, guidance 4): parts found 0.96
(VAE) / 0.83 (reference view) / 0.70 (random views); legs 0.76 / 0.47 / 0.41, fins 0.90 /
0.43 / 0.48, wheels 1.00 / 0.67 / 0.08. The VAE keeps thin parts; the image-conditioned DiT
loses them. Guidance 2 against 4 for the image stages (24 shapes each): better on the test
split (reference F@0.05 0.927 against 0.914), worse on val (0.847 against 0.869): no
difference worth a new default; 7 is worse on both views (0.887 / 0.785 on test). On 24
training shapes (``--split train``) the same model finds 0.865 / 0.678 of parts (val: 0.794 /
0.721): it underfits rather than overfits, so thin parts need a stronger image-conditioned
DiT, not more data. A 128-px image encoder did not help (scripts/configs/dit-views-128.yaml);
one residual block per stage of the 64-px encoder did (dit-views-deep.yaml, now shipped; 24
val shapes, reference view: parts found 0.794 -> 0.841, F@0.05 0.869 -> 0.906; random views
0.721 -> 0.698, F@0.05 0.780 -> 0.779). Then 4000 steps more with 16 views per shape
(dit-views-deep-2.yaml; both models in one session, 24 val shapes): random views parts
found 0.698 -> 0.748, F@0.05 0.780 -> 0.812; reference view 0.841 -> 0.836, 0.905 -> 0.875.
Then 1500 steps with the reference view in a fifth of the image steps (dit-views-deep-3.yaml,
shipped): reference view parts found 0.836 -> 0.831, F@0.05 0.875 -> 0.910; random views
0.748 -> 0.755, F@0.05 0.812 -> 0.808 (F@0.02 0.621 -> 0.580). Then the last two averaged,
weight for weight (scripts/soup_pipelines.py; the three in one session, bf16
field): random views F@0.05 / F@0.02 / parts found 0.807 / 0.580 / 0.762 (deep-3) -> 0.823 /
0.621 / 0.750, reference view 0.910 / 0.662 / 0.831 -> 0.903 / 0.660 / 0.833. Then deep-3
averaged with a sibling fine-tuned from deep-2 instead (dit-views-deep-3b.yaml, shipped):
random views 0.845 / 0.630 / 0.793, reference view 0.905 / 0.686 / 0.847.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import numpy as np

STAGES = ("vae", "reference", "random")


def main() -> None:
    import torch

    from gen3d.data.renders import random_view, reference_render
    from gen3d.eval.harness import PART_TAU, HeldOut
    from gen3d.eval.metrics import (
        distance_to_surface,
        f_score_from_distances,
        found_parts,
        surface_samples,
    )
    from gen3d.mesh import extract_hierarchical
    from gen3d.pipeline import Pipeline

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data/shapes"))
    parser.add_argument("--model", help="a pipeline folder (default: the shipped model)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--shapes", type=int, default=40)
    parser.add_argument("--stages", default=",".join(STAGES))
    parser.add_argument("--guidance", default="", help="image stages' guidance, e.g. 2,4")
    parser.add_argument("--first-seed", type=int, default=1, help="gen3d eval's is 1")
    args = parser.parse_args()
    stages = [stage for stage in args.stages.split(",") if stage]
    if unknown := set(stages) - set(STAGES):
        parser.error(f"unknown stages {sorted(unknown)}; known: {', '.join(STAGES)}")
    guidances = [float(g) for g in args.guidance.split(",") if g] or [None]

    pipe = Pipeline.from_pretrained(args.model)
    held = HeldOut.load(args.data, args.split)
    chosen = [i for i, shape in enumerate(held.shapes) if shape is not None][: args.shapes]
    rng = np.random.default_rng(0)  # the views gen3d eval --image-views random uses
    views = {
        "reference": {i: tuple(pipe.config.reference_view) for i in chosen},
        "random": {i: random_view(rng) for i in chosen},
    }

    def vae_mesh(index: int):
        inputs = (held.surface[index], held.normals[index], held.colours[index])
        batch = [torch.as_tensor(a[:2048], dtype=torch.float32)[None] for a in inputs]
        with torch.no_grad():
            field = pipe.vae.decode(pipe.vae.encode(*batch).mode())[0]
        return extract_hierarchical(field, pipe.defaults.resolution).mesh

    runs = [("vae", None)] if "vae" in stages else []
    runs += [(stage, g) for stage in stages if stage != "vae" for g in guidances]
    for stage, guidance in runs:
        scores, by_name = defaultdict(list), defaultdict(list)
        for seed, index in enumerate(chosen, start=args.first_seed):
            shape, surface = held.shapes[index], held.surface[index]
            if stage == "vae":
                mesh = vae_mesh(index)
            else:
                image = reference_render(shape, views[stage][index], 256)
                options = {"texture_size": 0, "guidance": guidance}
                mesh = pipe(image=image, seed=seed, **options).mesh
            to_pred = distance_to_surface(surface, mesh)
            to_truth = np.abs(shape.sdf(surface_samples(mesh, 20_000)[0]))
            for tau in (0.05, 0.02):
                scores[f"f@{tau}"].append(f_score_from_distances(to_truth, to_pred, tau))
            found = found_parts(shape.part_of(surface), to_pred, PART_TAU)
            for part, hit in found.items():
                by_name[shape.parts[part].name].append(hit)
            scores["parts_found"].append(float(np.mean(list(found.values()))))
        label = stage if guidance is None else f"{stage}, guidance {guidance:g}"
        means = ", ".join(f"{key} {np.mean(values):.3f}" for key, values in scores.items())
        print(f"{label} ({len(chosen)} shapes): {means}")
        worst = sorted((np.mean(hits), name, len(hits)) for name, hits in by_name.items())
        print("  found least: " + ", ".join(f"{n} {s:.2f} ({c})" for s, n, c in worst[:10]))


if __name__ == "__main__":
    main()
