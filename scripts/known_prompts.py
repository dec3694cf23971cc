"""Write a pipeline's known prompts (``conditioning/known_prompts.safetensors``) from the
training captions of a procedural dataset, rebuilt exactly as ``gen3d dataset build
--procedural N`` makes it (same shapes, same splits), without building it.

    .venv/bin/python scripts/known_prompts.py --model gen3d/models/default --procedural 2400

``gen3d train-dit`` writes the file itself from its dataset's captions; this script is for a
pipeline made before it did (the packaged default model) or assembled by hand. It then
prints how familiar some prompts are, for a look at the threshold.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gen3d.conditioning import TextEncoder
from gen3d.data.procedural import generate_shape
from gen3d.data.shards import BuildSpec, split_of, work_items
from gen3d.vocabulary import DEFAULT_THRESHOLD, KnownPrompts

EXAMPLES = ("a red wooden chair", "a sofa", "a house", "a horse", "a guitar", "a car engine")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="pipeline folder to write to")
    parser.add_argument("--procedural", type=int, default=2400, help="the dataset's shape count")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    args = parser.parse_args()
    spec = BuildSpec(source="procedural", count=args.procedural)
    captions = [
        caption
        for item in work_items(spec)
        if split_of(item.key, spec.split) == "train"
        for caption in generate_shape(item.category, item.seed).captions
    ]
    text = TextEncoder()
    known = KnownPrompts.build(text, captions, threshold=args.threshold)
    path = known.save(args.model / "conditioning")
    print(f"{len(known.captions)} of {len(set(captions))} distinct training captions -> {path}")
    found_all = known.familiarity(text.encode(list(EXAMPLES)).pooled)
    for prompt, found in zip(EXAMPLES, found_all, strict=True):
        mark = "ok  " if found.familiar else "WARN"
        print(f"{mark} {found.similarity:.3f} {prompt!r} (closest: {found.closest!r})")


if __name__ == "__main__":
    main()
