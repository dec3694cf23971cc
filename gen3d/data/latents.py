"""Latent caches: a dataset encoded once by a trained VAE and a text encoder, for DiT training.

``cache_latents`` writes ``latents.safetensors`` and ``cache.json`` into a folder:

- ``latents (N, *latent_shape)`` float32: each shape's posterior mean;
- ``cond_tokens (N, K, L, D)`` float16, ``cond_mask (N, K, L)`` bool and
  ``cond_pooled (N, K, P)`` float32: the text embeddings of up to K captions per shape
  (shapes with fewer captions repeat theirs);
- ``uncond.safetensors``: the unconditional (empty prompt) embedding;
- ``cache.json``: ids, splits, captions, the latent statistics (mean and std over all
  elements, which ``LatentDataset`` uses to scale latents to unit variance, as SD's VAE
  scaling factor does), and the VAE's and the text encoder's identities.

DiT training then never runs the VAE or the text encoder again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from dit.flow import Conditioning
from vae.field import surface_colours_or_grey

from .dataset import ShapeDataset
from .renders import load_renders
from .shards import DatasetError

CACHE_FORMAT = 1


def cache_latents(
    vae: Any,
    text_encoder: Any,
    dataset_root: str | Path,
    out: str | Path,
    *,
    encoder_points: int = 2048,
    captions_per_shape: int = 4,
    batch_size: int = 16,
    progress: bool = True,
) -> Path:
    """Encode every shape of a built dataset (all splits) and its captions; returns ``out``."""
    out = Path(out)
    data = ShapeDataset(
        dataset_root, split=None, n_surface=encoder_points, n_near=1, n_volume=1, seed=0
    )
    if len(data) == 0:
        raise DatasetError(f"{dataset_root} has no shapes to encode")
    if captions_per_shape < 1:
        raise ValueError(f"captions_per_shape must be >= 1, not {captions_per_shape}")
    device = next(vae.parameters()).device
    latents, tokens, masks, pooled = [], [], [], []
    vae.eval()
    bar = tqdm(total=len(data), desc="encoding shapes", unit="shape", disable=not progress)
    for start in range(0, len(data), batch_size):
        items = [data[i] for i in range(start, min(start + batch_size, len(data)))]
        points = torch.stack([item["surface_points"] for item in items]).to(device)
        normals = torch.stack([item["surface_normals"] for item in items]).to(device)
        colours = surface_colours_or_grey(
            torch.stack([item["surface_colours"] for item in items]),
            torch.tensor([item["has_colour"] for item in items]),
        ).to(device)
        with torch.no_grad():
            latents.append(vae.encode(points, normals, colours).mode().float().cpu())
        # All captions of the batch's shapes in one encoder call, K per shape.
        captions = []
        for index in range(start, start + len(items)):
            own = list(data.entries[index].get("captions") or [""])
            captions += (own * captions_per_shape)[:captions_per_shape]
        cond = text_encoder.encode(captions)
        tokens.append(cond.tokens.half().cpu().unflatten(0, (len(items), captions_per_shape)))
        masks.append(cond.mask.cpu().unflatten(0, (len(items), captions_per_shape)))
        pooled.append(cond.pooled.float().cpu().unflatten(0, (len(items), captions_per_shape)))
        bar.update(len(items))
    bar.close()
    all_latents = torch.cat(latents)
    out.mkdir(parents=True, exist_ok=True)
    save_file(
        {
            "latents": all_latents.contiguous(),
            "cond_tokens": torch.cat(tokens).contiguous(),
            "cond_mask": torch.cat(masks).contiguous(),
            "cond_pooled": torch.cat(pooled).contiguous(),
        },
        str(out / "latents.safetensors"),
    )
    uncond = text_encoder.unconditional(1)
    save_file(
        {
            "tokens": uncond.tokens.float().contiguous(),
            "mask": uncond.mask.contiguous(),
            "pooled": uncond.pooled.float().contiguous(),
        },
        str(out / "uncond.safetensors"),
    )
    meta = {
        "format": CACHE_FORMAT,
        "dataset": str(Path(dataset_root).resolve()),
        "vae": {"class": type(vae).__name__, "config": dict(vae.config)},
        "text_encoder": str(getattr(text_encoder, "path", type(text_encoder).__name__)),
        "latent_shape": list(all_latents.shape[1:]),
        "latent_mean": float(all_latents.mean()),
        "latent_std": float(all_latents.std()),
        "cond_dim": int(tokens[0].shape[-1]),
        "pooled_dim": int(pooled[0].shape[-1]),
        "entries": [
            {"id": e["id"], "split": e["split"], "captions": e.get("captions") or []}
            for e in data.entries
        ],
    }
    (out / "cache.json").write_text(json.dumps(meta, indent=1, default=str), encoding="utf-8")
    return out


class LatentDataset(Dataset):
    """One split of a latent cache: items of scaled latents and one caption's embedding.

    Latents are scaled to zero mean and unit variance with the cache's statistics
    (``unscale`` undoes it before decoding); each access picks one of the shape's captions
    at random, the same one every time for a given ``seed``. With ``renders``, each item
    also holds one of the shape's views, picked alike or, with ``reference_share``, the first
    view (the reference view) that share of the time and the others alike otherwise.
    """

    def __init__(
        self,
        root: str | Path,
        split: str | None = "train",
        seed: int | None = None,
        renders: str | Path | None = None,
        reference_share: float | None = None,
    ):
        self.root = Path(root)
        meta_path = self.root / "cache.json"
        if not meta_path.is_file():
            raise DatasetError(f"{self.root} is not a latent cache (no cache.json)")
        self.meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if self.meta.get("format") != CACHE_FORMAT:
            raise DatasetError(f"{self.root} has cache format {self.meta.get('format')}")
        tensors = load_file(str(self.root / "latents.safetensors"))
        entries = self.meta["entries"]
        rows = [i for i, e in enumerate(entries) if split is None or e["split"] == split]
        index = torch.tensor(rows, dtype=torch.long)
        self.latents = self.scale(tensors["latents"][index])
        self.tokens = tensors["cond_tokens"][index]
        self.mask = tensors["cond_mask"][index]
        self.pooled = tensors["cond_pooled"][index]
        self.ids = [entries[i]["id"] for i in rows]
        self.captions = [(entries[i]["captions"] or [""])[0] for i in rows]  # canonical ones
        self.split = split
        self.seed = seed
        # Renders (gen3d.data.renders) for image conditioning, when given: (N, views, 3, S, S).
        self.images = load_renders(renders, self.ids) if renders is not None else None
        self.reference_share = reference_share

    def scale(self, latents: torch.Tensor) -> torch.Tensor:
        return (latents - self.meta["latent_mean"]) / self.meta["latent_std"]

    def unscale(self, latents: torch.Tensor) -> torch.Tensor:
        return latents * self.meta["latent_std"] + self.meta["latent_mean"]

    def unconditional(self) -> Conditioning:
        tensors = load_file(str(self.root / "uncond.safetensors"))
        return Conditioning(tensors["tokens"], tensors["pooled"], tensors["mask"])

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> dict[str, Any]:
        rng = np.random.default_rng(None if self.seed is None else [self.seed, index])
        caption = int(rng.integers(self.tokens.shape[1]))
        item = {
            "latents": self.latents[index],
            "cond_tokens": self.tokens[index, caption].float(),
            "cond_mask": self.mask[index, caption],
            "cond_pooled": self.pooled[index, caption],
        }
        if self.images is not None:  # one of the shape's views, like the caption
            view = self._pick_view(rng)
            item["cond_images"] = self.images[index, view].float() / 255.0
        return item

    def _pick_view(self, rng: np.random.Generator) -> int:
        views = self.images.shape[1]
        if self.reference_share is None or views == 1:
            return int(rng.integers(views))
        if rng.random() < self.reference_share:
            return 0
        return int(rng.integers(1, views))
