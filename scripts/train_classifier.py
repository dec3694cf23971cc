"""Train the eval's category classifier on a built procedural dataset and save it.

    .venv/bin/python scripts/train_classifier.py --data data/shapes \
        --out gen3d/eval/weights/classifier

Trains on the dataset's train split, reports top-1 accuracy on its val and test splits (held
out), and writes the weights (safetensors) with their categories. The shipped classifier was
made with this command; its accuracy is in gen3d/eval/weights/classifier/README.md.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from gen3d.eval.classifier import accuracy, load_clouds, train_classifier


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--width", type=int, default=128)
    args = parser.parse_args()

    start = time.perf_counter()
    train, train_labels = load_clouds(args.data, "train")
    print(f"loaded {len(train)} training shapes in {time.perf_counter() - start:.0f} s")
    model = train_classifier(
        train,
        train_labels,
        epochs=args.epochs,
        width=args.width,
        on_epoch=lambda epoch, loss: print(f"epoch {epoch + 1}: loss {loss:.4f}", flush=True),
    )
    scores = {}
    for split in ("val", "test"):
        clouds, labels = load_clouds(args.data, split)
        scores[split] = accuracy(model, clouds, labels)
        print(f"{split} accuracy: {scores[split]:.3f} on {len(labels)} shapes")
    model.save_pretrained(args.out)
    minutes = (time.perf_counter() - start) / 60
    report = {"accuracy": scores, "epochs": args.epochs, "width": args.width, "minutes": minutes}
    (args.out / "metrics.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"saved {args.out} ({minutes:.1f} min)")


if __name__ == "__main__":
    main()
