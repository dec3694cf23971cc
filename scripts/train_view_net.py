"""Train ``gen3d.view_net.ViewNet``: which way a photo looks at the object, learnt from renders
of the training shapes whose views are known.

    .venv/bin/python scripts/train_view_net.py --data data/shapes --out runs/view-net
    .venv/bin/python scripts/train_view_net.py --data data/shapes --out runs/view-net --ship

Renders every shape of ``--data`` from the pipeline's reference view and ``--views - 1``
random ones (``gen3d.data.renders.cache_renders``, as the DiT's image training does; once per
``--out``, resumable), trains on the train split's renders with soft labels over the grid of
directions, and reports on the val split: the most likely direction's angle to the true one
(median, share within 20 and 45 degrees) and the probability within 20 degrees of the true
view, against the reference view as a guess. Checkpoints every epoch (``--out/checkpoint.pt``)
and resumes from it. ``--ship`` copies the model into the default model's ``view/`` folder,
in float16.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from gen3d.data.dataset import ShapeDataset
from gen3d.data.renders import RENDERS_FILE, RENDERS_META, cache_renders
from gen3d.view_net import ViewNet, angles_between, unit_direction

ROOT = Path(__file__).resolve().parents[1]
REFERENCE_VIEW = (30.0, 20.0)


def load_renders(data: Path, renders: Path, views: int, size: int, workers: int) -> dict:
    """The render cache (made once): images ``(N, V, 3, S, S)`` uint8, views ``(N, V, 2)``
    and each shape's split."""
    if not (renders / RENDERS_FILE).is_file():
        print(f"rendering {data} from {views} views at {size} px into {renders} (once)")
        cache_renders(
            data, renders, view=REFERENCE_VIEW, size=size, views_per_shape=views, workers=workers
        )
    images = load_file(renders / RENDERS_FILE)["images"]
    meta = json.loads((renders / RENDERS_META).read_text())
    entries = ShapeDataset(data, split=None, n_surface=1, n_near=1, n_volume=1).entries
    split_of = {entry["id"]: entry["split"] for entry in entries}
    splits = np.array([split_of[shape_id] for shape_id in meta["ids"]])
    return {"images": images, "views": torch.tensor(meta["views"]), "splits": splits}


def batches(images: torch.Tensor, views: torch.Tensor, batch: int, rng: np.random.Generator):
    """Shuffled (image, view) pairs of every shape and view, as float images in [0, 1]."""
    count, per_shape = images.shape[:2]
    order = rng.permutation(count * per_shape)
    for start in range(0, len(order), batch):
        pick = torch.from_numpy(order[start : start + batch])
        shape, view = pick // per_shape, pick % per_shape
        yield images[shape, view].float() / 255.0, views[shape, view]


def jittered(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Photos are lit and exposed differently from the renders: each image's brightness and
    contrast scaled at random (background kept white), a little noise added."""
    count = len(images)
    background = (images > 0.98).all(dim=1, keepdim=True)
    gain = torch.empty(count, 1, 1, 1).uniform_(0.75, 1.2, generator=generator)
    mean = images.mean(dim=(1, 2, 3), keepdim=True)
    contrast = torch.empty(count, 1, 1, 1).uniform_(0.8, 1.2, generator=generator)
    out = ((images - mean) * contrast + mean) * gain
    out = out + 0.02 * torch.randn(out.shape, generator=generator)
    return torch.where(background, images, out.clamp(0.0, 1.0))


@torch.no_grad()
def evaluate(net: ViewNet, images: torch.Tensor, views: torch.Tensor) -> dict:
    """On ``images (N, V, 3, S, S)``: the most likely direction's error and the probability
    near the truth, with the reference view's error as the baseline."""
    net.eval()
    flat = images.flatten(0, 1).float() / 255.0
    truth = views.flatten(0, 1).float()
    probabilities = torch.cat([net(part).softmax(-1) for part in flat.split(256)])
    grid = unit_direction(*net.grid())
    true_directions = unit_direction(truth[:, 0], truth[:, 1])
    to_grid = angles_between(true_directions, grid)  # (images, bins)
    errors = to_grid.gather(1, probabilities.argmax(-1, keepdim=True))[:, 0]
    near = to_grid <= 20.0
    reference = unit_direction(torch.tensor([REFERENCE_VIEW[0]]), torch.tensor([REFERENCE_VIEW[1]]))
    baseline = angles_between(true_directions, reference)[:, 0]
    net.train()
    return {
        "median_error": float(errors.median()),
        "within_20": float((errors <= 20).float().mean()),
        "within_45": float((errors <= 45).float().mean()),
        "probability_within_20": float((probabilities * near).sum(-1).mean()),
        "reference_view_median_error": float(baseline.median()),
        "images": len(flat),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT / "data/shapes")
    parser.add_argument("--out", type=Path, default=ROOT / "runs/view-net")
    parser.add_argument("--views", type=int, default=8)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ship", action="store_true", help="copy into gen3d/models/default/view")
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    renders = args.out / f"renders-{args.size}x{args.views}"
    cache = load_renders(args.data, renders, args.views, args.size, args.workers)
    train = cache["splits"] == "train"
    val = cache["splits"] == "val"
    images, views = cache["images"], cache["views"]
    print(f"{int(train.sum())} training shapes, {int(val.sum())} val shapes, {args.views} views")

    net = ViewNet(image_size=args.size)
    steps_per_epoch = math.ceil(int(train.sum()) * args.views / args.batch)
    optimizer = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, args.lr, total_steps=args.epochs * steps_per_epoch, pct_start=0.1
    )
    checkpoint = args.out / "checkpoint.pt"
    start_epoch = 0
    if checkpoint.is_file():
        state = torch.load(checkpoint, weights_only=True)
        net.load_state_dict(state["net"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        start_epoch = state["epoch"]
        print(f"resuming after epoch {start_epoch}")
    generator = torch.Generator().manual_seed(args.seed)
    train_images, train_views = images[torch.from_numpy(train)], views[torch.from_numpy(train)]
    for epoch in range(start_epoch, args.epochs):
        started, losses = time.perf_counter(), []
        rng = np.random.default_rng(args.seed + epoch)
        for batch, batch_views in batches(train_images, train_views, args.batch, rng):
            targets = net.soft_labels(batch_views[:, 0], batch_views[:, 1])
            logits = net(jittered(batch, generator))
            loss = -(targets * logits.log_softmax(-1)).sum(-1).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
        report = evaluate(net, images[torch.from_numpy(val)], views[torch.from_numpy(val)])
        report.update(epoch=epoch + 1, loss=float(np.mean(losses)))
        report["seconds"] = time.perf_counter() - started
        print(json.dumps(report), flush=True)
        with (args.out / "metrics.jsonl").open("a") as log:
            log.write(json.dumps(report) + "\n")
        state = {
            "net": net.state_dict(),
            "optimizer": optimizer.state_dict(),
            "schedule": schedule.state_dict(),
            "epoch": epoch + 1,
        }
        torch.save(state, checkpoint)
    net.save_pretrained(args.out / "model")
    if args.ship:
        target = ROOT / "gen3d/models/default/view"
        net.half().save_pretrained(target)
        print(f"shipped to {target}")


if __name__ == "__main__":
    main()
