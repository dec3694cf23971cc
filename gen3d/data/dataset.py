"""``ShapeDataset``: a built dataset folder as a ``torch.utils.data.Dataset``.

Items are read lazily: a shard is opened (memory-mapped by safetensors) the first time one of
its shapes is asked for, and only that shape's row is read. Each access draws a random subset
of the stored points, so a model sees different points of a shape in every epoch.

>>> from gen3d.data import ShapeDataset                                # doctest: +SKIP
>>> train = ShapeDataset("data/shapes", split="train", n_surface=2048)  # doctest: +SKIP
>>> item = train[0]; item["surface_points"].shape                       # doctest: +SKIP
torch.Size([2048, 3])
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from torch.utils.data import Dataset

from .shards import FORMAT_VERSION, SPLITS, DatasetError

_SURFACE = ("surface_points", "surface_normals", "surface_colours")


class ShapeDataset(Dataset):
    """Shapes of one split of a dataset folder built by ``gen3d dataset build``.

    Each item is a dict of float32 tensors ``surface_points/normals/colours (n_surface, 3)``,
    ``near_points (n_near, 3)``, ``near_sdf (n_near,)``, ``volume_points (n_volume, 3)``,
    ``volume_sdf (n_volume,)``, a bool ``has_colour``, and ``id``, ``category`` and
    ``caption`` (one of the shape's captions at random; "" if it has none; all of them are in
    ``dataset.entries[i]["captions"]``). Counts of
    ``None`` return every stored point. With ``seed`` set, item i always gets the same points
    and caption (for validation); without it, they change on every access.
    """

    def __init__(
        self,
        root: str | Path,
        split: str | None = "train",
        n_surface: int | None = 2048,
        n_near: int | None = 2048,
        n_volume: int | None = 1024,
        seed: int | None = None,
    ):
        self.root = Path(root)
        if split is not None and split not in SPLITS:
            raise DatasetError(f"split must be one of {', '.join(SPLITS)} or None, not {split!r}")
        meta_path = self.root / "dataset.json"
        index_path = self.root / "index.jsonl"
        if not meta_path.is_file() or not index_path.is_file():
            raise DatasetError(
                f"{self.root} is not a finished dataset (no dataset.json / index.jsonl); "
                "build it with `gen3d dataset build`"
            )
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT_VERSION:
            raise DatasetError(
                f"{self.root} has dataset format {meta.get('format')}, "
                f"this gen3d reads format {FORMAT_VERSION}"
            )
        self.spec = meta["spec"]
        with index_path.open(encoding="utf-8") as lines:
            entries = [json.loads(line) for line in lines if line.strip()]
        self.entries = [e for e in entries if split is None or e["split"] == split]
        self.counts = {"surface": n_surface, "near": n_near, "volume": n_volume}
        self.seed = seed
        self._shards: dict[str, Any] = {}

    def __len__(self) -> int:
        return len(self.entries)

    def __getstate__(self) -> dict[str, Any]:
        # Open shard handles stay in their process; DataLoader workers reopen their own.
        return {**self.__dict__, "_shards": {}}

    def _shard(self, name: str) -> Any:
        if name not in self._shards:
            self._shards[name] = safe_open(str(self.root / name), framework="numpy")
        return self._shards[name]

    def _subset(self, rng: np.random.Generator, available: int, wanted: int | None) -> np.ndarray:
        if wanted is None or wanted >= available:
            return np.arange(available) if wanted is None else rng.integers(0, available, wanted)
        return np.sort(rng.choice(available, wanted, replace=False))

    def __getitem__(self, index: int) -> dict[str, Any]:
        entry = self.entries[index]
        shard, row = self._shard(entry["shard"]), entry["row"]
        rng = np.random.default_rng(None if self.seed is None else [self.seed, index])
        item: dict[str, Any] = {}
        surface = None
        for name in _SURFACE:
            data = shard.get_slice(name)[row]
            surface = (
                self._subset(rng, len(data), self.counts["surface"]) if surface is None else surface
            )
            item[name] = torch.from_numpy(np.ascontiguousarray(data[surface]))
        for kind in ("near", "volume"):
            points, sdf = (
                shard.get_slice(f"{kind}_points")[row],
                shard.get_slice(f"{kind}_sdf")[row],
            )
            chosen = self._subset(rng, len(sdf), self.counts[kind])
            item[f"{kind}_points"] = torch.from_numpy(np.ascontiguousarray(points[chosen]))
            item[f"{kind}_sdf"] = torch.from_numpy(np.ascontiguousarray(sdf[chosen]))
        captions = entry.get("captions") or []
        item.update(
            has_colour=bool(entry["has_colour"]),
            id=entry["id"],
            category=entry.get("category") or "",
            caption=captions[int(rng.integers(len(captions)))] if captions else "",
        )
        return item
