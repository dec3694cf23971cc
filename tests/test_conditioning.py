"""Condition encoders: the offline default text encoder, CLIP-text and DINOv2 folders, the
built-in image encoder, unconditional embeddings and errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from gen3d.conditioning import (
    ConditioningError,
    ImageEncoder,
    SmallImageEncoder,
    TextEncoder,
    _as_image_batch,
    default_text_encoder_path,
)
from gen3d.images import ImageInputError


@pytest.fixture(scope="module")
def minilm() -> TextEncoder:
    return TextEncoder()


def test_default_text_encoder_is_offline_minilm(minilm: TextEncoder) -> None:
    assert minilm.kind == "bert" and minilm.token_dim == 384 and minilm.pooled_dim == 384
    cond = minilm.encode(["a red wooden chair", "a tall green rocket with fins"])
    assert cond.tokens.shape == (2, 32, 384) and cond.pooled.shape == (2, 384)
    assert cond.mask.dtype == torch.bool and cond.mask[0, 0] and not cond.mask[0, -1]
    assert torch.allclose(cond.pooled.norm(dim=-1), torch.ones(2), atol=1e-4)
    # meaning shows in the pooled embedding: a near paraphrase is closer than another object
    near = minilm.encode(["a red chair made of wood"]).pooled[0]
    assert near @ cond.pooled[0] > near @ cond.pooled[1] + 0.2
    # deterministic, and the empty prompt is the unconditional embedding
    assert torch.allclose(
        minilm.encode(["a red wooden chair"]).pooled[0], cond.pooled[0], atol=1e-5
    )
    uncond = minilm.unconditional(3)
    assert len(uncond) == 3 and torch.allclose(uncond.pooled[0], minilm.encode([""]).pooled[0])


def test_loading_an_encoder_prints_no_progress_bar(capfd: pytest.CaptureFixture[str]) -> None:
    # transformers draws a "Loading weights" bar per model, which leaked into every CLI run
    # and worker log; gen3d loads quietly and leaves the caller's bar setting as it was.
    from transformers.utils import logging as transformers_logging

    assert transformers_logging.is_progress_bar_enabled()
    TextEncoder()
    out, err = capfd.readouterr()
    assert "Loading weights" not in out + err and "it/s" not in err
    assert transformers_logging.is_progress_bar_enabled()


def test_clip_text_folder(tmp_path: Path) -> None:
    from transformers import CLIPTextConfig, CLIPTextModelWithProjection

    config = CLIPTextConfig(
        vocab_size=30522,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        projection_dim=16,
        max_position_embeddings=64,
        bos_token_id=101,  # the copied BERT tokenizer's [CLS] and [SEP]: CLIP pools at EOS
        eos_token_id=102,
        pad_token_id=0,
    )
    torch.manual_seed(0)
    CLIPTextModelWithProjection(config).save_pretrained(tmp_path)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(default_text_encoder_path() / name, tmp_path / name)
    encoder = TextEncoder(tmp_path, max_length=16)
    cond = encoder.encode(["a chair", "a boat"])
    assert cond.tokens.shape == (2, 16, 32) and cond.pooled.shape == (2, 16)
    assert encoder.pooled_dim == 16 and not torch.equal(cond.pooled[0], cond.pooled[1])


def test_t5_encoder_folder(tmp_path: Path) -> None:
    """A T5 folder runs its encoder alone (no decoder weights needed) and pools by the mean of
    its real tokens, so padding never moves the pooled embedding."""
    from transformers import T5Config, T5EncoderModel

    config = T5Config(
        vocab_size=30522, d_model=24, d_kv=8, d_ff=48, num_layers=1, num_heads=3, pad_token_id=0
    )
    torch.manual_seed(0)
    T5EncoderModel(config).save_pretrained(tmp_path)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(default_text_encoder_path() / name, tmp_path / name)
    encoder = TextEncoder(tmp_path, max_length=12)
    assert encoder.kind == "t5" and encoder.token_dim == 24 and encoder.pooled_dim == 24
    cond = encoder.encode(["a chair", "a tall blue lamp with a round shade"])
    assert cond.tokens.shape == (2, 12, 24) and cond.pooled.shape == (2, 24)
    assert cond.mask[0].sum() < cond.mask[1].sum()
    real = cond.tokens[0, cond.mask[0]]
    expected = torch.nn.functional.normalize(real.mean(0), dim=0)
    assert torch.allclose(cond.pooled[0], expected, atol=1e-5)
    # the same prompt padded to a longer length pools the same (T5 has relative positions)
    longer = TextEncoder(tmp_path, max_length=20).encode(["a chair"])
    assert torch.allclose(longer.pooled[0], cond.pooled[0], atol=1e-4)


def test_dinov2_image_folder(tmp_path: Path) -> None:
    from PIL import Image
    from transformers import BitImageProcessor, Dinov2Config, Dinov2Model

    config = Dinov2Config(
        hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64
    )
    torch.manual_seed(0)
    Dinov2Model(config).save_pretrained(tmp_path)
    BitImageProcessor(size={"shortest_edge": 224}, crop_size=224).save_pretrained(tmp_path)
    encoder = ImageEncoder(tmp_path)
    red = Image.new("RGB", (300, 200), (220, 30, 30))
    blue = np.zeros((64, 64, 3), dtype=np.uint8)
    blue[..., 2] = 200
    cond = encoder.encode([red, blue])
    assert cond.tokens.shape == (2, 1 + 16 * 16, 32) and cond.pooled.shape == (2, 32)
    assert not torch.allclose(cond.pooled[0], cond.pooled[1])
    assert len(encoder.unconditional(2)) == 2


def test_images_are_composited_over_white_and_bad_input_is_named() -> None:
    from PIL import Image

    clear = Image.new("RGBA", (32, 32), (255, 0, 0, 0))
    batch = _as_image_batch(clear, 16)
    assert batch.shape == (1, 3, 16, 16) and torch.allclose(batch, torch.ones_like(batch))
    # float arrays in [0, 1] read as their uint8 twins; paths are read; the rest is named
    pixels = np.random.default_rng(0).integers(0, 256, (24, 24, 3)).astype(np.uint8)
    assert torch.allclose(_as_image_batch(pixels / 255.0, 16), _as_image_batch(pixels, 16))
    with pytest.raises(ImageInputError, match=r"photo\.png: no such image file"):
        _as_image_batch(["photo.png"], 16)
    with pytest.raises(ImageInputError, match=r"not \(24, 24, 2\)"):
        _as_image_batch(np.zeros((24, 24, 2)), 16)
    with pytest.raises(ConditioningError, match="cannot read an image from a int"):
        _as_image_batch([5], 16)
    with pytest.raises(ConditioningError, match=r"\(B, 3, H, W\)"):
        _as_image_batch(torch.zeros(2, 4, 8, 8), 16)
    with pytest.raises(ConditioningError, match=r"no config\.json"):
        TextEncoder("/nonexistent/encoder")


def test_small_image_encoder_trains_and_round_trips(tmp_path: Path) -> None:
    torch.manual_seed(0)
    encoder = SmallImageEncoder(image_size=64, width=64)
    images = torch.rand(2, 3, 64, 64)
    cond = encoder(images)
    assert cond.tokens.shape == (2, 16, 64) and cond.pooled.shape == (2, 64)
    cond.pooled.sum().backward()
    assert encoder.net[0].weight.grad is not None
    encoder.save_pretrained(tmp_path)
    loaded = SmallImageEncoder.from_pretrained(tmp_path)
    with torch.no_grad():
        assert torch.equal(loaded(images).tokens, encoder(images).tokens)
    assert len(encoder.unconditional(3)) == 3


def test_a_small_image_encoder_resized_for_finer_images_keeps_what_it_learnt() -> None:
    """The warm start for training at a finer resolution: the same convolutions, and a
    position embedding stretched over the finer token grid (a top-to-bottom ramp stays one)."""
    encoder = SmallImageEncoder(image_size=64, width=64)
    with torch.no_grad():
        rows = torch.arange(4.0).repeat_interleave(4)  # 4 x 4 tokens, row by row
        encoder.position.copy_(rows[None, :, None].expand(1, 16, 64))
    finer = encoder.resized(128)
    assert finer.config.image_size == 128
    assert finer(torch.ones(1, 3, 128, 128)).tokens.shape == (1, 64, 64)  # 8 x 8 tokens
    assert torch.equal(finer.net[0].weight, encoder.net[0].weight)
    ramp = finer.position[0, :, 0].reshape(8, 8)
    assert torch.all(ramp[1:] >= ramp[:-1]) and torch.allclose(ramp, ramp[:, :1].expand(8, 8))
    assert ramp[0, 0] == 0.0 and ramp[-1, 0] == 3.0


def test_a_deepened_small_image_encoder_starts_where_the_shallow_one_stopped(
    tmp_path: Path,
) -> None:
    """The warm start for a deeper image encoder: the new residual blocks start as the
    identity, so it encodes images exactly as the trained one did, and then they learn."""
    torch.manual_seed(0)
    shallow = SmallImageEncoder(image_size=32, width=64)
    images = torch.rand(3, 3, 32, 32)
    deep = shallow.deepened(2)
    assert deep.config.blocks == 2 and len(deep.refiners[0]) == 2
    with torch.no_grad():
        assert torch.equal(deep(images).tokens, shallow(images).tokens)
    assert sum(p.numel() for p in deep.parameters()) > 2 * sum(
        p.numel() for p in shallow.parameters()
    )
    deep(images).pooled.square().sum().backward()
    last = deep.refiners[3][1].body[-1]
    assert last.weight.grad is not None and last.weight.grad.abs().sum() > 0

    deep.save_pretrained(tmp_path)
    loaded = SmallImageEncoder.from_pretrained(tmp_path)
    assert loaded.config.blocks == 2
    assert torch.equal(loaded.refiners[3][1].body[2].weight, deep.refiners[3][1].body[2].weight)
    with pytest.raises(ValueError, match="shallower"):
        deep.deepened(1)
    with pytest.raises(ValueError, match="blocks must be 0 or more"):
        SmallImageEncoder(image_size=32, width=64, blocks=-1)
