"""Vecset VAE: shapes, save/load round trip, the field interface, and the losses."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vae.field import DecodedField
from vae.losses import LossWeights, reconstruction_losses, sdf_loss
from vae.vecset import VecSetVAE, farthest_point_sample


def tiny(**overrides) -> VecSetVAE:
    config = dict(
        num_latents=32,
        latent_channels=8,
        width=64,
        heads=4,
        decoder_layers=2,
        fourier_frequencies=4,
    )
    config.update(overrides)
    torch.manual_seed(0)
    return VecSetVAE(**config)


def cloud(batch: int = 2, n: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    normals = torch.nn.functional.normalize(torch.randn(batch, n, 3, generator=generator), dim=-1)
    return 0.5 * normals, normals  # points on a sphere of radius 0.5, outward normals


@pytest.mark.parametrize("query_mode", ["fps", "learned"])
def test_shapes_through_encode_decode_query(query_mode: str) -> None:
    model = tiny(query_mode=query_mode)
    points, normals = cloud()
    posterior = model.encode(points, normals)
    assert posterior.mean.shape == (2, 32, 8) and posterior.kl().shape == (2,)
    field = model.decode(posterior.sample(torch.Generator().manual_seed(0)))
    sdf, rgb = field.query(torch.rand(2, 100, 3) * 2 - 1)
    assert sdf.shape == (2, 100) and rgb.shape == (2, 100, 3)
    assert rgb.min() >= 0 and rgb.max() <= 1
    out = model(points, normals, torch.zeros(2, 7, 3))
    assert out["sdf"].shape == (2, 7)


def test_save_and_load_give_identical_outputs(tmp_path) -> None:
    model = tiny()
    points, normals = cloud()
    query = torch.rand(2, 64, 3) * 2 - 1
    model.save_pretrained(tmp_path)
    assert (tmp_path / "diffusion_pytorch_model.safetensors").is_file()
    loaded = VecSetVAE.from_pretrained(tmp_path)
    assert loaded.config.num_latents == 32 and loaded.config.width == 64
    with torch.no_grad():
        a = model(points, normals, query, sample_posterior=False)
        b = loaded(points, normals, query, sample_posterior=False)
    assert torch.equal(a["sdf"], b["sdf"]) and torch.equal(a["rgb"], b["rgb"])


def test_numpy_queries_are_chunked_and_match_torch_queries() -> None:
    model = tiny().eval()
    points, normals = cloud(batch=1)
    with torch.no_grad():
        field = model.decode(model.encode(points, normals).mode(), chunk=1000)
        xyz = np.random.default_rng(0).uniform(-1, 1, (2500, 3)).astype(np.float32)
        sdf, rgb = field.query(xyz)  # three chunks
        ref_sdf, ref_rgb = field.query(torch.from_numpy(xyz)[None])
    assert sdf.shape == (2500,) and rgb.shape == (2500, 3)
    np.testing.assert_allclose(sdf, ref_sdf[0].numpy(), atol=1e-5)
    np.testing.assert_allclose(rgb, ref_rgb[0].numpy(), atol=1e-5)
    np.testing.assert_allclose(field.sdf(xyz), sdf)
    assert field.features.shape == (1, 32, 64)


def test_cpu_fields_query_in_cache_sized_chunks() -> None:
    from vae.vecset import CPU_QUERY_CHUNK

    model = tiny()
    points, normals = cloud(batch=2)
    field = model.decode(model.encode(points, normals).mode())
    assert field.chunk == CPU_QUERY_CHUNK and field[1].chunk == CPU_QUERY_CHUNK


def test_bfloat16_queries_stay_close_to_float32_and_follow_indexing() -> None:
    model = tiny().eval()
    points, normals = cloud(batch=2)
    with torch.no_grad():
        fields = model.decode(model.encode(points, normals).mode())
    xyz = np.random.default_rng(0).uniform(-1, 1, (3000, 3)).astype(np.float32)
    exact_sdf, exact_rgb = fields[1].query(xyz)
    fields.query_dtype = torch.bfloat16
    field = fields[1]  # indexing keeps the precision
    assert field.query_dtype == torch.bfloat16
    sdf, rgb = field.query(xyz)
    assert sdf.dtype == np.float32 and rgb.dtype == np.float32  # numpy answers stay float32
    assert not np.array_equal(sdf, exact_sdf)  # it really ran in bfloat16
    np.testing.assert_allclose(sdf, exact_sdf, atol=0.02)
    np.testing.assert_allclose(rgb, exact_rgb, atol=0.02)


def test_field_batch_indexing_and_bad_queries() -> None:
    model = tiny()
    points, normals = cloud(batch=3)
    field = model.decode(model.encode(points, normals).mode())
    assert len(field) == 3 and len(field[2]) == 1 and len(field[-1]) == 1
    with pytest.raises(IndexError):
        field[3]
    with pytest.raises(ValueError, match="one shape"):
        field.query(np.zeros((4, 3), np.float32))
    with pytest.raises(ValueError, match=r"\(3, N, 3\)"):
        field.query(torch.zeros(2, 4, 3))


def test_farthest_point_sampling_spreads_points() -> None:
    points = torch.cat([torch.zeros(1, 50, 3), torch.ones(1, 50, 3)], dim=1)  # two clusters
    index = farthest_point_sample(points, 2)
    assert set(points[0, index[0], 0].tolist()) == {0.0, 1.0}
    with pytest.raises(ValueError):
        farthest_point_sample(points, 101)


def test_bad_configs_are_refused() -> None:
    with pytest.raises(ValueError, match="divisible"):
        VecSetVAE(width=65, heads=4)
    with pytest.raises(ValueError, match="query_mode"):
        VecSetVAE(query_mode="random")
    model = tiny()
    with pytest.raises(ValueError, match="normals"):
        model.encode(torch.zeros(1, 64, 3))


def sphere_batch(radius: float = 0.5, n: int = 400) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    normals = torch.nn.functional.normalize(torch.randn(1, n, 3, generator=generator), dim=-1)
    near = radius * normals + 0.03 * torch.randn(1, n, 3, generator=generator)
    volume = torch.rand(1, n, 3, generator=generator) * 2 - 1
    return {
        "surface_points": radius * normals,
        "surface_normals": normals,
        "surface_colours": torch.full((1, n, 3), 0.25),
        "has_colour": torch.tensor([True]),
        "near_points": near,
        "near_sdf": near.norm(dim=-1) - radius,
        "volume_points": volume,
        "volume_sdf": volume.norm(dim=-1) - radius,
    }


def analytic_field(radius: float, sign: float = 1.0) -> DecodedField:
    def head(features: torch.Tensor, xyz: torch.Tensor):
        sdf = sign * (xyz.norm(dim=-1) - radius) + 0 * features.sum()
        return sdf, torch.full((*xyz.shape[:2], 3), 0.25)

    return DecodedField(head, torch.zeros(1, 1))


def test_losses_vanish_for_the_exact_field_and_grow_for_a_wrong_one() -> None:
    weights = LossWeights()
    exact = reconstruction_losses(analytic_field(0.5), sphere_batch(), None, weights)
    assert exact["sdf"] < 1e-6 and exact["normal"] < 1e-6 and exact["eikonal"] < 1e-6
    assert exact["colour"] < 1e-6
    inverted = reconstruction_losses(analytic_field(0.5, sign=-1.0), sphere_batch(), None)
    assert inverted["normal"] > 1.9 and inverted["sign"] > 1.0 and inverted["sdf"] > 0.01
    near, far = sdf_loss(torch.tensor([0.01, 0.5]), torch.tensor([0.02, -0.5]), 0.05)
    assert near == pytest.approx(0.01) and far > 5.0


def test_losses_train_the_model_end_to_end() -> None:
    # Normal and eikonal terms need a double backward through attention; a few steps must run
    # and lower the loss.
    model = tiny()
    batch = sphere_batch(n=256)
    optimiser = torch.optim.Adam(model.parameters(), lr=2e-3)
    history = []
    for _ in range(15):
        posterior = model.encode(batch["surface_points"], batch["surface_normals"])
        losses = reconstruction_losses(model.decode(posterior.sample()), batch, posterior)
        optimiser.zero_grad()
        losses["total"].backward()
        optimiser.step()
        history.append(float(losses["total"].detach()))
    assert all(p.grad is not None for p in model.head.parameters())
    assert history[-1] < history[0] / 2


def test_gradient_terms_on_a_subset_keep_the_value_terms_exact() -> None:
    # gradient_points limits only where the normal and eikonal terms are taken: the SDF, sign
    # and colour terms still see every point, so they match the all-points losses.
    model = tiny()
    batch = sphere_batch(n=300)
    with torch.no_grad():
        latents = model.encode(batch["surface_points"], batch["surface_normals"]).mode()
    field = model.decode(latents)
    full = reconstruction_losses(field, batch, None, LossWeights())
    subset = reconstruction_losses(field, batch, None, LossWeights(gradient_points=64))
    for name in ("sdf", "sign", "colour"):
        assert subset[name].item() == pytest.approx(full[name].item(), rel=1e-5), name
    # The subset's gradient terms are estimates of the same means, not zeros.
    assert subset["normal"] > 0.1 * full["normal"] and subset["eikonal"] > 0
    exact = reconstruction_losses(
        analytic_field(0.5), sphere_batch(), None, LossWeights(gradient_points=32)
    )
    assert exact["normal"] < 1e-6 and exact["eikonal"] < 1e-6
    with pytest.raises(ValueError, match="gradient_points"):
        LossWeights(gradient_points=-1)
