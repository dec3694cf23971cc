"""DiT variants: shapes for set and triplane latents, adaLN-zero start, masks, save/load,
the registry."""

from __future__ import annotations

import pytest
import torch

from dit import DIT_VARIANTS, CrossDiT, LatentDiT, MMDiT, build_dit, load_dit, register_dit
from dit.latents import TriplaneLayout, latent_layout

SHAPES = {"set": (16, 8), "triplane": (3, 4, 8, 8)}


def tiny(variant: str, layout: str, **overrides):
    options = dict(
        latent_shape=SHAPES[layout],
        width=32,
        depth=2,
        heads=4,
        cond_dim=12,
        pooled_dim=6,
        patch_size=2,
    )
    options.update(overrides)
    torch.manual_seed(0)
    return build_dit(variant, **options)


def inputs(layout: str, batch: int = 2):
    generator = torch.Generator().manual_seed(3)
    x = torch.randn(batch, *SHAPES[layout], generator=generator)
    tokens = torch.randn(batch, 5, 12, generator=generator)
    pooled = torch.randn(batch, 6, generator=generator)
    return x, torch.rand(batch, generator=generator), tokens, pooled


def randomise(model: torch.nn.Module) -> None:
    """Give the zero-initialised layers weights, as training would."""
    generator = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.abs().sum() == 0:
                parameter.copy_(0.05 * torch.randn(parameter.shape, generator=generator))


@pytest.mark.parametrize("variant", ["dit-cross", "mmdit"])
@pytest.mark.parametrize("layout", ["set", "triplane"])
def test_velocity_has_the_latent_shape_and_starts_at_zero(variant: str, layout: str) -> None:
    model = tiny(variant, layout)
    x, t, tokens, pooled = inputs(layout)
    velocity = model(x, t, tokens, pooled)
    assert velocity.shape == x.shape
    assert torch.count_nonzero(velocity) == 0  # adaLN-zero: an untrained model is silent
    randomise(model)
    velocity = model(x, t, tokens, pooled)
    assert velocity.abs().mean() > 1e-3
    # every input matters: latents, time, condition tokens, pooled condition
    for changed in (
        model(x + 1, t, tokens, pooled),
        model(x, t * 0.5, tokens, pooled),
        model(x, t, tokens + 1, pooled),
        model(x, t, tokens, pooled + 1),
    ):
        assert not torch.allclose(changed, velocity)
    loss = velocity.pow(2).mean()
    loss.backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


@pytest.mark.parametrize("variant", ["dit-cross", "mmdit"])
def test_masked_condition_tokens_do_not_matter(variant: str) -> None:
    model = tiny(variant, "set")
    randomise(model)
    x, t, tokens, pooled = inputs("set")
    mask = torch.tensor([[True, True, True, False, False]] * 2)
    other = tokens.clone()
    other[:, 3:] = 100.0  # padding with garbage in it
    a = model(x, t, tokens, pooled, mask)
    b = model(x, t, other, pooled, mask)
    assert torch.allclose(a, b, atol=1e-5)


def test_set_latents_are_a_set_and_triplanes_round_trip() -> None:
    model = tiny("dit-cross", "set", long_skip=False)
    randomise(model)
    x, t, tokens, pooled = inputs("set")
    order = torch.randperm(16, generator=torch.Generator().manual_seed(0))
    # permutation-equivariant over the latent tokens: no positions for an unordered set
    assert torch.allclose(
        model(x[:, order], t, tokens, pooled), model(x, t, tokens, pooled)[:, order], atol=1e-5
    )
    layout = latent_layout((3, 4, 8, 8), width=32, patch_size=4)
    assert isinstance(layout, TriplaneLayout) and layout.num_tokens == 12
    planes = torch.randn(2, 3, 4, 8, 8)
    tokens = layout.to_tokens(planes)
    assert tokens.shape == (2, 12, 64)
    assert torch.equal(layout.from_tokens(tokens), planes)
    # a token holds one patch of one plane
    assert torch.equal(tokens[0, 0].reshape(4, 4, 4), planes[0, 0, :, :4, :4])


@pytest.mark.parametrize("variant", ["dit-cross", "mmdit"])
def test_save_and_load_give_identical_outputs(tmp_path, variant: str) -> None:
    model = tiny(variant, "triplane")
    randomise(model)
    model.save_pretrained(tmp_path)
    loaded = load_dit(tmp_path)
    assert type(loaded) is type(model)
    x, t, tokens, pooled = inputs("triplane")
    with torch.no_grad():
        assert torch.equal(model(x, t, tokens, pooled), loaded(x, t, tokens, pooled))


def test_registry_and_bad_options() -> None:
    assert DIT_VARIANTS["dit-cross"] is CrossDiT and DIT_VARIANTS["mmdit"] is MMDiT
    with pytest.raises(ValueError, match="already registered"):
        register_dit("mmdit")(type("Other", (LatentDiT,), {}))
    with pytest.raises(ValueError, match="unknown DiT variant 'unet'"):
        build_dit("unet")
    with pytest.raises(ValueError, match="unknown options"):
        build_dit("mmdit", long_skip=True)
    with pytest.raises(ValueError, match="latent_shape"):
        tiny("dit-cross", "set", latent_shape=(4, 4, 4))
    with pytest.raises(ValueError, match="patch_size 3"):
        tiny("dit-cross", "triplane", patch_size=3)
    with pytest.raises(ValueError, match="divisible"):
        tiny("mmdit", "set", width=30)
    model = tiny("dit-cross", "set")
    x, t, tokens, pooled = inputs("triplane")
    with pytest.raises(ValueError, match="latents must be"):
        model(x, t, tokens, pooled)
