"""Triplane VAE: shapes, plane scatter and sampling, save/load, double backward, registry."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from vae import TriplaneVAE, VecSetVAE, build_vae, load_vae
from vae.losses import LossWeights, reconstruction_losses
from vae.triplane import sample_planes, scatter_to_planes


def tiny(**overrides) -> TriplaneVAE:
    config = dict(
        plane_resolution=16,
        latent_resolution=4,
        output_resolution=16,
        latent_channels=4,
        width=32,
        feature_channels=8,
        heads=4,
        encoder_layers=1,
        decoder_layers=1,
        fourier_frequencies=3,
        head_width=32,
    )
    config.update(overrides)
    torch.manual_seed(0)
    return TriplaneVAE(**config)


def cloud(batch: int = 2, n: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    normals = F.normalize(torch.randn(batch, n, 3, generator=generator), dim=-1)
    return 0.5 * normals, normals


def test_shapes_through_encode_decode_query() -> None:
    model = tiny()
    points, normals = cloud()
    posterior = model.encode(points, normals)
    assert posterior.mean.shape == (2, 3, 4, 4, 4) and posterior.kl().shape == (2,)
    field = model.decode(posterior.sample(torch.Generator().manual_seed(0)))
    assert field.features.shape == (2, 3, 8, 16, 16)
    sdf, rgb = field.query(torch.rand(2, 100, 3) * 2 - 1)
    assert sdf.shape == (2, 100) and rgb.shape == (2, 100, 3)
    assert rgb.min() >= 0 and rgb.max() <= 1
    out = model(points, normals, torch.zeros(2, 7, 3))
    assert out["sdf"].shape == (2, 7) and out["latents"].shape == (2, 3, 4, 4, 4)
    # numpy queries of one shape are chunked and agree with the batched torch query
    xyz = torch.rand(1, 300, 3) * 2 - 1
    single = model.decode(posterior.mode())[1]
    single.chunk = 64
    with torch.no_grad():
        expected = single.query(xyz)[0][0].numpy()
    assert abs(single.sdf(xyz[0].numpy()) - expected).max() < 1e-5


def test_sampling_matches_grid_sample_and_is_twice_differentiable() -> None:
    torch.manual_seed(0)
    planes = torch.randn(2, 3, 5, 9, 9, dtype=torch.float64)
    xyz = (torch.rand(2, 50, 3, dtype=torch.float64) * 2.4 - 1.2).requires_grad_(True)
    ours = sample_planes(planes, xyz)
    reference = 0
    for plane, (a, b) in enumerate(((0, 1), (0, 2), (1, 2))):
        grid = xyz[..., [a, b]][:, :, None]  # (B, Q, 1, 2): x = column axis, y = row axis
        sampled = F.grid_sample(
            planes[:, plane], grid, align_corners=True, padding_mode="border", mode="bilinear"
        )
        reference = reference + sampled[..., 0].transpose(1, 2)
    assert torch.allclose(ours, reference, atol=1e-10)
    # A loss on the spatial gradient must reach the planes (the eikonal/normal terms' path).
    (grad,) = torch.autograd.grad(ours.sum(), xyz, create_graph=True)
    planes.requires_grad_(True)
    (grad_planes,) = torch.autograd.grad(
        torch.autograd.grad(sample_planes(planes, xyz).sum(), xyz, create_graph=True)[0]
        .pow(2)
        .sum(),
        planes,
    )
    assert grad.shape == xyz.shape and grad_planes.abs().sum() > 0


def test_scatter_averages_points_into_their_cells() -> None:
    xyz = torch.tensor([[[-0.9, -0.9, 0.9], [-0.8, -0.95, 0.1], [0.9, 0.9, -0.9]]])
    features = torch.tensor([[[1.0], [3.0], [10.0]]])
    planes = scatter_to_planes(xyz, features, resolution=2)
    assert planes.shape == (1, 3, 1, 2, 2)
    xy = planes[0, 0, 0]
    assert xy[0, 0] == 2.0 and xy[1, 1] == 10.0 and xy[0, 1] == 0 and xy[1, 0] == 0
    xz = planes[0, 1, 0]  # rows follow z: both low-x points have z > 0
    assert xz[1, 0] == 2.0 and xz[0, 1] == 10.0


def test_losses_with_double_backward_train_the_triplane() -> None:
    model = tiny()
    points, normals = cloud(batch=1, n=256)
    generator = torch.Generator().manual_seed(0)
    near = points + 0.03 * torch.randn(points.shape, generator=generator)
    volume = torch.rand(1, 128, 3, generator=generator) * 2 - 1
    batch = {
        "surface_points": points,
        "surface_normals": normals,
        "surface_colours": torch.full((1, 256, 3), 0.7),
        "has_colour": torch.tensor([True]),
        "near_points": near,
        "near_sdf": near.norm(dim=-1) - 0.5,
        "volume_points": volume,
        "volume_sdf": volume.norm(dim=-1) - 0.5,
    }
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    history = []
    for _ in range(15):
        out = model(points, normals)
        losses = reconstruction_losses(out["field"], batch, out["posterior"], LossWeights())
        optimiser.zero_grad()
        losses["total"].backward()
        optimiser.step()
        history.append(float(losses["total"].detach()))
    assert all(p.grad is not None for p in model.point_embed.parameters())
    assert history[-1] < history[0] / 2


def test_save_load_and_load_vae_dispatch(tmp_path) -> None:
    model = tiny()
    points, normals = cloud()
    query = torch.rand(2, 64, 3) * 2 - 1
    model.save_pretrained(tmp_path / "tri")
    loaded = load_vae(tmp_path / "tri")
    assert isinstance(loaded, TriplaneVAE) and loaded.config.output_resolution == 16
    with torch.no_grad():
        a = model(points, normals, query, sample_posterior=False)
        b = loaded(points, normals, query, sample_posterior=False)
    assert torch.equal(a["sdf"], b["sdf"]) and torch.equal(a["rgb"], b["rgb"])
    build_vae("vecset", width=32, heads=4, num_latents=8).save_pretrained(tmp_path / "vec")
    assert isinstance(load_vae(tmp_path / "vec"), VecSetVAE)
    with pytest.raises(FileNotFoundError, match="not a saved VAE"):
        load_vae(tmp_path)


def test_bad_configs_are_refused() -> None:
    with pytest.raises(ValueError, match="divisible"):
        tiny(width=30)
    with pytest.raises(ValueError, match="output_resolution 24"):
        tiny(output_resolution=24)
    with pytest.raises(ValueError, match="plane_resolution 2"):
        tiny(plane_resolution=2)
    with pytest.raises(ValueError, match="normals"):
        tiny().encode(torch.zeros(1, 64, 3))
    with pytest.raises(ValueError, match="unknown VAE type 'voxel'"):
        build_vae("voxel")
    with pytest.raises(ValueError, match="unknown model options"):
        build_vae("triplane", num_latents=3)
