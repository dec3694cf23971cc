"""The encoders' colour input: latents carry colour, and a shape-only VAE can be taught it.

Without a colour input a latent cannot say "red" or "blue", and a text prompt's colour is
lost however well the DiT learns it; these tests pin the input, its neutral default, and the
warm start that adds it to a trained VAE without changing what that VAE computes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from gen3d.testing import TINY_VAE_OPTIONS
from vae.field import UNCOLOURED, surface_colours_or_grey
from vae.registry import build_vae
from vae.trainer import VAETrainConfig, prepare_training
from vae.warm_start import warm_start, warm_start_from_model


def tiny(kind: str, **overrides) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_vae(kind, **{**TINY_VAE_OPTIONS[kind], **overrides})


def sphere(n: int = 128) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    normals = torch.nn.functional.normalize(torch.randn(1, n, 3, generator=generator), dim=-1)
    return 0.5 * normals, normals


def solid(rgb: tuple[float, float, float], n: int = 128) -> torch.Tensor:
    return torch.tensor(rgb).expand(1, n, 3).clone()


@pytest.mark.parametrize("kind", ["vecset", "triplane"])
def test_colour_input_changes_the_latent_only_when_enabled(kind: str) -> None:
    points, normals = sphere()
    red, blue = solid((1.0, 0.0, 0.0)), solid((0.0, 0.0, 1.0))
    with torch.no_grad():
        coloured = tiny(kind, use_colours=True)
        assert not torch.allclose(
            coloured.encode(points, normals, red).mode(),
            coloured.encode(points, normals, blue).mode(),
        )
        # No colour means mid grey, not black.
        grey = solid((UNCOLOURED,) * 3)
        assert torch.equal(
            coloured.encode(points, normals).mode(), coloured.encode(points, normals, grey).mode()
        )
        shape_only = tiny(kind)
        assert torch.equal(
            shape_only.encode(points, normals, red).mode(),
            shape_only.encode(points, normals, blue).mode(),
        )


def test_uncoloured_shapes_are_encoded_grey() -> None:
    colours = torch.stack([torch.full((4, 3), 0.9), torch.zeros(4, 3)])
    out = surface_colours_or_grey(colours, torch.tensor([True, False]))
    assert torch.equal(out[0], colours[0])
    assert torch.equal(out[1], torch.full((4, 3), UNCOLOURED))


def _fit_colours(model: torch.nn.Module, steps: int = 120) -> list[torch.Tensor]:
    """Fit two copies of one sphere, one red and one blue; return their decoded colours."""
    points, normals = sphere()
    targets = [solid((0.9, 0.1, 0.1)), solid((0.1, 0.1, 0.9))]
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(steps):
        loss = sum(
            (model(points, normals, points, colours=target)["rgb"] - target).abs().mean()
            for target in targets
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        return [model(points, normals, points, colours=t)["rgb"].mean(dim=(0, 1)) for t in targets]


def test_same_shape_in_two_colours_reconstructs_both_only_with_colour_input() -> None:
    red, blue = _fit_colours(tiny("vecset", use_colours=True))
    assert red[0] > 0.7 and red[2] < 0.3, red
    assert blue[2] > 0.7 and blue[0] < 0.3, blue
    # The shape-only encoder sees identical inputs: the best it can do is their average.
    red, blue = _fit_colours(tiny("vecset"))
    assert torch.allclose(red, blue, atol=0.05) and 0.3 < float(red[0]) < 0.7


@pytest.mark.parametrize("kind", ["vecset", "triplane"])
def test_warm_start_adds_colour_input_without_changing_the_model(kind: str) -> None:
    old, new = tiny(kind), tiny(kind, use_colours=True)
    torch.manual_seed(5)  # make sure the copy, not a shared seed, makes them agree
    for parameter in new.parameters():
        torch.nn.init.normal_(parameter)
    report = warm_start_from_model(new, old)
    assert report["widened"] and not report["fresh"]
    points, normals = sphere()
    query = torch.rand(1, 50, 3) * 2 - 1
    with torch.no_grad():
        before = old(points, normals, query, sample_posterior=False)
        after = new(points, normals, query, sample_posterior=False, colours=solid((1, 0, 0)))
    assert torch.allclose(before["sdf"], after["sdf"], atol=1e-6)
    assert torch.allclose(before["rgb"], after["rgb"], atol=1e-6)


def test_warm_start_refuses_a_different_architecture(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot warm-start"):
        warm_start_from_model(tiny("vecset", width=64, heads=4), tiny("vecset"))
    with pytest.raises(ValueError, match="cannot warm-start from"):
        warm_start(tiny("vecset"), tmp_path)  # an empty folder, not a saved VAE


def test_trainer_init_from_starts_from_the_saved_weights(tmp_path: Path) -> None:
    base = tiny("vecset")
    base.save_pretrained(tmp_path / "base")
    config = VAETrainConfig(
        model={**TINY_VAE_OPTIONS["vecset"], "use_colours": True}, init_from=str(tmp_path / "base")
    )
    _, model, _, _ = prepare_training(config)
    assert torch.equal(model.decoder[0].attn1.to_q.weight, base.decoder[0].attn1.to_q.weight)
    assert torch.equal(model.point_embed.weight[:, -3:], torch.zeros(32, 3))
