"""A point-cloud category classifier for the eval's category accuracy.

A small PointNet (Qi et al., 2017: a shared per-point MLP, a max over points, an MLP head;
without its alignment networks, since every gen3d shape is in the same canonical frame),
trained on surface points of the procedural library. It answers "which category does this
generated shape look like", so that "a chair" can be scored by whether a chair came out.

Example::

    classifier = PointCloudClassifier.from_pretrained("gen3d/eval/weights/classifier")
    classifier.classify_mesh(trimesh.load("chair.glb", force="mesh"))   # -> "chair"
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import trimesh
from safetensors.torch import load_file, save_file
from torch import nn

log = logging.getLogger(__name__)

POINTS = 1024
WEIGHTS_FILE = "classifier.safetensors"
CONFIG_FILE = "classifier.json"


class PointCloudClassifier(nn.Module):
    def __init__(self, categories: list[str], width: int = 128) -> None:
        super().__init__()
        if len(categories) < 2:
            raise ValueError("a classifier needs at least two categories")
        self.categories = list(categories)
        self.width = width
        self.point_mlp = nn.Sequential(
            nn.Linear(3, width // 2),
            nn.GELU(),
            nn.Linear(width // 2, width),
            nn.GELU(),
            nn.Linear(width, width * 2),
        )
        self.head = nn.Sequential(
            nn.LayerNorm(width * 2),
            nn.Linear(width * 2, width),
            nn.GELU(),
            nn.Dropout(0.2),
            nn.Linear(width, len(categories)),
        )

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        """Logits (B, categories) of clouds (B, N, 3)."""
        return self.head(self.point_mlp(points).amax(dim=1))

    @torch.no_grad()
    def predict(self, points: torch.Tensor) -> list[str]:
        self.eval()
        return [self.categories[i] for i in self(points).argmax(dim=1).tolist()]

    def classify_mesh(self, mesh: trimesh.Trimesh, seed: int = 0) -> str:
        if len(mesh.faces) == 0:
            raise ValueError("the mesh has no faces")
        points, _ = trimesh.sample.sample_surface(mesh, POINTS, seed=seed)
        return self.predict(torch.as_tensor(np.asarray(points), dtype=torch.float32)[None])[0]

    def save_pretrained(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        save_file(
            {k: v.detach().contiguous() for k, v in self.state_dict().items()},
            folder / WEIGHTS_FILE,
        )
        config = {"categories": self.categories, "width": self.width, "points": POINTS}
        (folder / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
        return folder

    @classmethod
    def from_pretrained(cls, folder: str | Path) -> PointCloudClassifier:
        folder = Path(folder)
        if not (folder / CONFIG_FILE).is_file():
            raise FileNotFoundError(f"{folder}: no {CONFIG_FILE} (train one with train_classifier)")
        config = json.loads((folder / CONFIG_FILE).read_text())
        model = cls(config["categories"], width=config["width"])
        model.load_state_dict(load_file(folder / WEIGHTS_FILE))
        return model.eval()


def train_classifier(
    train_points: np.ndarray,
    train_labels: list[str],
    *,
    epochs: int = 40,
    batch_size: int = 32,
    lr: float = 1e-3,
    width: int = 128,
    seed: int = 0,
    on_epoch: Callable[[int, float], None] | None = None,
) -> PointCloudClassifier:
    """Train on clouds ``(S, M, 3)`` (M >= POINTS; each step takes a random POINTS of them)
    with their category names. Augmentation: per-axis scale 0.9..1.1 and a small jitter."""
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    categories = sorted(set(train_labels))
    model = PointCloudClassifier(categories, width=width)
    clouds = torch.as_tensor(train_points, dtype=torch.float32)
    labels = torch.tensor([categories.index(name) for name in train_labels])
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps_per_epoch = max(1, len(clouds) // batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=lr, total_steps=epochs * steps_per_epoch
    )
    model.train()
    for epoch in range(epochs):
        order = torch.randperm(len(clouds), generator=generator)
        total = 0.0
        for step in range(steps_per_epoch):
            batch = order[step * batch_size : (step + 1) * batch_size]
            subset = torch.randint(0, clouds.shape[1], (len(batch), POINTS), generator=generator)
            points = torch.gather(clouds[batch], 1, subset[..., None].expand(-1, -1, 3))
            scale = 0.9 + 0.2 * torch.rand(len(batch), 1, 3, generator=generator)
            points = points * scale + 0.005 * torch.randn(points.shape, generator=generator)
            loss = nn.functional.cross_entropy(model(points), labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            total += loss.item()
        if on_epoch is not None:
            on_epoch(epoch, total / steps_per_epoch)
    return model.eval()


def accuracy(model: PointCloudClassifier, points: np.ndarray, labels: list[str]) -> float:
    """Top-1 accuracy on clouds ``(S, M, 3)`` (their first POINTS points)."""
    clouds = torch.as_tensor(points[:, :POINTS], dtype=torch.float32)
    predicted = []
    for start in range(0, len(clouds), 256):
        predicted += model.predict(clouds[start : start + 256])
    return float(np.mean([p == t for p, t in zip(predicted, labels, strict=True)]))


def load_clouds(root: str | Path, split: str, points: int = 2048) -> tuple[np.ndarray, list[str]]:
    """Surface clouds ``(S, points, 3)`` and categories of one split of a built dataset."""
    from gen3d.data import ShapeDataset

    dataset = ShapeDataset(root, split=split, n_surface=points, n_near=16, n_volume=16, seed=0)
    clouds, labels = [], []
    for index in range(len(dataset)):
        item = dataset[index]
        clouds.append(item["surface_points"].numpy())
        labels.append(item["category"])
    return np.asarray(clouds, dtype=np.float32), labels
