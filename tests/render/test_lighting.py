"""Fitting a photo's lighting, and refining a texture under it so that shadows stay out."""

from __future__ import annotations

import math

import pytest
import torch
import trimesh

from render.bake import bake_texture
from render.camera import Cameras
from render.highlights import fit_highlights, lamp_direction
from render.lighting import fit_coloured_shading, fit_light, fit_shading
from render.mesh import RenderMesh
from render.refine import RefineSettings, TextureSampler, psnr, refine_texture
from render.renderer import render_mesh
from render.uv import unwrap_uv

PALETTE = torch.tensor(
    [
        [0.9, 0.2, 0.2],
        [0.2, 0.7, 0.3],
        [0.2, 0.3, 0.9],
        [0.9, 0.8, 0.2],
        [0.6, 0.3, 0.7],
        [0.3, 0.8, 0.8],
        [0.95, 0.95, 0.95],
        [0.5, 0.4, 0.3],
    ]
)


def _paint(points: torch.Tensor) -> torch.Tensor:
    """Eight flat paints, one per octant: edges between colours, no gradients within them."""
    octant = (points[:, 0] > 0).long() + 2 * (points[:, 1] > 0) + 4 * (points[:, 2] > 0)
    return PALETTE[octant]


def _painted(mesh: trimesh.Trimesh, paint, size: int) -> RenderMesh:
    """``mesh`` unwrapped, with ``paint`` (points to colours) baked into a ``size``^2
    texture."""
    unwrapped = unwrap_uv(mesh.vertices, mesh.faces, texture_size=size)
    vertices = torch.from_numpy(unwrapped.vertices).float()
    faces = torch.from_numpy(unwrapped.faces)
    uv = torch.from_numpy(unwrapped.uv).float()
    texture, _ = bake_texture(vertices, faces, uv, paint, size)
    return RenderMesh(vertices, faces, uv=uv, texture=texture)


@pytest.fixture(scope="module")
def painted_ball() -> RenderMesh:
    return _painted(trimesh.creation.icosphere(subdivisions=4), _paint, 256)


def _looking(mesh: RenderMesh, cameras: Cameras) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The unlit colour, the unit normals and the mask seen by ``cameras``."""
    albedo = render_mesh(mesh, cameras, shading="albedo", antialias=False)
    normals = render_mesh(mesh, cameras, shading="normals", antialias=False).color * 2.0 - 1.0
    return albedo.color, torch.nn.functional.normalize(normals, dim=-1), albedo.mask


def _lit(normals: torch.Tensor, towards: tuple[float, ...], ambient: float) -> torch.Tensor:
    """Lambertian shading by a distant light ``towards`` that direction, with ambient light."""
    light = torch.nn.functional.normalize(torch.tensor(towards), dim=0)
    return ambient + (1.0 - ambient) * (normals * light).sum(-1).clamp_min(0.0)


def test_a_head_light_is_found_from_the_photo_alone(painted_ball) -> None:
    cameras = Cameras.orbit([30.0], 20.0, resolution=128)
    albedo, normals, mask = _looking(painted_ball, cameras)
    truth = _lit(normals, tuple((-cameras.forward[0]).tolist()), ambient=0.35)
    shading, contrast = fit_shading(normals, albedo * truth[..., None], mask)
    error = (shading - truth)[mask].abs()
    assert error.mean() < 0.04, f"mean shading error {error.mean():.3f}"
    # The rim gets the ambient 0.35 of the centre's light; nine numbers smooth it a little.
    assert 0.3 < contrast < 0.7
    assert torch.all(shading[~mask] == 1.0)


def test_a_side_light_is_found_despite_the_paint_edges(painted_ball) -> None:
    cameras = Cameras.orbit([0.0], 0.0, resolution=128)
    albedo, normals, mask = _looking(painted_ball, cameras)
    truth = _lit(normals, (1.0, 1.0, 1.0), ambient=0.2)
    truth = truth / torch.quantile(truth[mask], 0.98)  # the scale the fit chooses
    shading, contrast = fit_shading(normals, albedo * truth[..., None], mask)
    error = (shading - truth.clamp(max=1.0))[mask].abs()
    assert error.mean() < 0.05, f"mean shading error {error.mean():.3f}"
    assert contrast > 0.6


def test_a_large_photo_is_fitted_from_a_sample_of_its_pixels(painted_ball, monkeypatch) -> None:
    """A 384^2 photo has about 100k neighbour pairs; the fit reads ``FIT_ROWS`` of them and
    finds the same light as from all of them."""
    import render.lighting as lighting

    cameras = Cameras.orbit([0.0], 0.0, resolution=384)
    albedo, normals, mask = _looking(painted_ball, cameras)
    truth = _lit(normals, (1.0, 1.0, 1.0), ambient=0.2)
    truth = truth / torch.quantile(truth[mask], 0.98)
    photo = albedo * truth[..., None]
    assert len(lighting.neighbour_steps(mask, 4, photo)[0]) > 4 * lighting.FIT_ROWS

    sampled, _ = fit_shading(normals, photo, mask)
    monkeypatch.setattr(lighting, "FIT_ROWS", 1 << 62)
    every, _ = fit_shading(normals, photo, mask)
    assert (sampled - every)[mask].abs().mean() < 0.005
    assert (sampled - truth.clamp(max=1.0))[mask].abs().mean() < 0.05


def test_an_evenly_lit_photo_gets_no_shading(painted_ball) -> None:
    cameras = Cameras.orbit([75.0, 200.0], [10.0, 40.0], resolution=96)
    albedo, normals, mask = _looking(painted_ball, cameras)
    shading, contrast = fit_shading(normals, albedo, mask)
    assert contrast < 0.03
    assert (shading[mask] - 1.0).abs().mean() < 0.01


def test_too_few_pixels_give_no_shading() -> None:
    normals = torch.nn.functional.normalize(torch.randn(1, 4, 4, 3), dim=-1)
    mask = torch.zeros(1, 4, 4, dtype=torch.bool)
    mask[0, 0, :2] = True
    shading, contrast = fit_shading(normals, torch.rand(1, 4, 4, 3), mask)
    assert contrast == 0.0 and torch.all(shading == 1.0)


def _refined_albedo_psnr(
    mesh: RenderMesh, reference: torch.Tensor, fit: bool, colour: bool = True
) -> float:
    cameras = Cameras.orbit([30.0], 20.0, resolution=128)
    start = mesh.with_texture(torch.full_like(mesh.texture, 0.5))
    settings = RefineSettings(steps=150, fit_lighting=fit, light_colour=colour)
    result = refine_texture(start, cameras, reference, settings=settings)
    sampler = TextureSampler(mesh, cameras)
    return psnr(sampler(result.texture), sampler(mesh.texture), sampler.covered)


def test_refining_against_a_lit_photo_keeps_its_shadows_out_of_the_texture(painted_ball) -> None:
    cameras = Cameras.orbit([30.0], 20.0, resolution=128)
    albedo, normals, _ = _looking(painted_ball, cameras)
    lit = albedo * _lit(normals, (-1.0, 2.0, 1.0), ambient=0.3)[..., None]
    kept = _refined_albedo_psnr(painted_ball, lit, fit=False)
    fitted = _refined_albedo_psnr(painted_ball, lit, fit=True)
    assert fitted - kept >= 3.0, f"albedo PSNR {kept:.2f} -> {fitted:.2f} dB"

    plain_kept = _refined_albedo_psnr(painted_ball, albedo, fit=False)
    plain_fitted = _refined_albedo_psnr(painted_ball, albedo, fit=True)
    assert math.isclose(plain_fitted, plain_kept, abs_tol=0.3), (plain_kept, plain_fitted)


def _warm_lamp_and_blue_sky(normals: torch.Tensor, towards: tuple[float, ...]) -> torch.Tensor:
    """An orange lamp ``towards`` that direction and a dim blue light from everywhere: the lit
    side comes out orange, the side away from the lamp blue."""
    lamp = _lit(normals, towards, ambient=0.0)[..., None] * torch.tensor([1.0, 0.75, 0.45])
    return lamp + torch.tensor([0.12, 0.16, 0.3])


def test_a_coloured_light_is_found_per_channel(painted_ball) -> None:
    cameras = Cameras.orbit([0.0], 0.0, resolution=128)
    albedo, normals, mask = _looking(painted_ball, cameras)
    truth = _warm_lamp_and_blue_sky(normals, (1.0, 1.0, 1.0))
    photo = (albedo * truth).clamp(0.0, 1.0)
    shading, contrast = fit_coloured_shading(normals, photo, mask)
    assert shading.shape == (*mask.shape, 3) and contrast > 0.5

    # Up to a colour per channel (a light of one colour everywhere could as well be the
    # paint's): the fitted shading divided by the true one is the same everywhere. A grey fit
    # leaves the sky's blue in the shadows.
    def spread(fitted: torch.Tensor) -> torch.Tensor:  # per channel
        ratio = (fitted / truth)[mask]
        return (ratio / ratio.median(dim=0).values).log().abs().mean(dim=0)

    grey, _ = fit_shading(normals, photo, mask)
    coloured, as_grey = spread(shading), spread(grey[..., None])
    assert coloured[2] < 0.06 < 0.1 < as_grey[2], (coloured, as_grey)
    assert coloured.mean() < 0.8 * as_grey.mean(), (coloured, as_grey)

    even, flat = fit_coloured_shading(normals, albedo, mask)
    assert flat < 0.03 and (even[mask] - 1.0).abs().mean() < 0.02
    empty = torch.zeros_like(mask)
    assert torch.all(fit_coloured_shading(normals, photo, empty)[0] == 1.0)


def test_refining_under_a_coloured_light_keeps_its_colours_out_of_the_texture(
    painted_ball,
) -> None:
    cameras = Cameras.orbit([30.0], 20.0, resolution=128)
    albedo, normals, _ = _looking(painted_ball, cameras)
    photo = (albedo * _warm_lamp_and_blue_sky(normals, (-1.0, 2.0, 1.0))).clamp(0.0, 1.0)
    grey = _refined_albedo_psnr(painted_ball, photo, fit=True, colour=False)
    coloured = _refined_albedo_psnr(painted_ball, photo, fit=True)
    assert coloured - grey >= 0.5, f"albedo PSNR {grey:.2f} (grey light) -> {coloured:.2f} dB"


def _glossy(
    mesh: RenderMesh, cameras: Cameras, gloss: float = 0.6
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A photo of ``mesh`` lit by a white lamp above the camera, with a Blinn-Phong highlight
    of strength ``gloss`` (0: matte); the highlight alone, the lamp's direction, the view
    directions and the mask."""
    albedo, normals, mask = _looking(mesh, cameras)
    views = -cameras.pixel_rays()[1]
    lamp = torch.nn.functional.normalize(-cameras.forward[0] + torch.tensor([0.0, 1.0, 0.0]), dim=0)
    halfway = torch.nn.functional.normalize(lamp + views, dim=-1)
    shine = gloss * (normals * halfway).sum(-1).clamp_min(0.0).pow(40.0) * mask
    diffuse = albedo * _lit(normals, tuple(lamp.tolist()), ambient=0.3)[..., None]
    return (diffuse + shine[..., None]).clamp(0.0, 1.0), shine, lamp, views, mask


def test_a_highlight_is_found_where_the_lamp_reflects(painted_ball) -> None:
    cameras = Cameras.orbit([30.0], 20.0, resolution=128)
    photo, shine, lamp, views, mask = _glossy(painted_ball, cameras)
    albedo, normals, _ = _looking(painted_ball, cameras)
    shading, _ = fit_shading(normals, photo, mask)
    found_lamp = lamp_direction(normals[0], shading[0], mask[0])
    assert _degrees(found_lamp, lamp) < 20.0  # the search covers 30
    # What refinement starts from: the paint roughly right (washed out), under the fitted light.
    expected = (0.7 * albedo + 0.15) * shading[..., None]
    added, found = fit_highlights(normals, views, photo, expected, mask, [found_lamp])
    assert len(found) == 1
    assert _degrees(torch.tensor(found[0].lamp), lamp) < 3.0
    assert (added - shine)[mask].abs().mean() < 0.01
    assert torch.all(added[~mask] == 0.0)


def _degrees(a: torch.Tensor, b: torch.Tensor) -> float:
    return math.degrees(math.acos(min(1.0, float(a @ b))))


def test_matte_photos_get_no_highlights(painted_ball) -> None:
    # Neither shading nor paint brighter than expected (the white and yellow octants against a
    # washed-out start) is a highlight; nor is anything under even light.
    for azimuth, elevation in ((30.0, 20.0), (200.0, 40.0), (120.0, -10.0)):
        cameras = Cameras.orbit([azimuth], elevation, resolution=128)
        photo, _, lamp, views, mask = _glossy(painted_ball, cameras, gloss=0.0)
        albedo, normals, _ = _looking(painted_ball, cameras)
        shading, _ = fit_shading(normals, photo, mask)
        for start in (0.7 * albedo + 0.15, 0.8 * albedo):
            expected = start * shading[..., None]
            added, found = fit_highlights(normals, views, photo, expected, mask, [lamp])
            assert found == [] and torch.all(added == 0.0), (azimuth, found)
        even, _ = fit_shading(normals, albedo, mask)
        assert lamp_direction(normals[0], even[0], mask[0]) is None
        # Surfaces that face no half vector of the lamps tried (turned from the camera): none.
        added, found = fit_highlights(-views, views, photo, 0.5 * photo, mask, [lamp])
        assert found == [] and torch.all(added == 0.0)


def test_refining_against_a_glossy_photo_keeps_its_highlight_out_of_the_texture(
    painted_ball,
) -> None:
    cameras = Cameras.orbit([30.0], 20.0, resolution=128)
    start = painted_ball.with_texture(0.7 * painted_ball.texture + 0.15)
    sampler = TextureSampler(painted_ball, cameras)

    def refined_psnr(photo: torch.Tensor, highlights: bool) -> tuple[float, int]:
        settings = RefineSettings(steps=150, fit_lighting=True, highlights=highlights)
        result = refine_texture(start, cameras, photo, settings=settings)
        truth = sampler(painted_ball.texture)
        return psnr(sampler(result.texture), truth, sampler.covered), len(result.highlights)

    glossy = _glossy(painted_ball, cameras)[0]
    (kept, none_found), (removed, found) = refined_psnr(glossy, False), refined_psnr(glossy, True)
    assert none_found == 0 and found == 1
    assert removed - kept >= 5.0, f"albedo PSNR {kept:.2f} -> {removed:.2f} dB"
    matte = _glossy(painted_ball, cameras, gloss=0.0)[0]
    assert refined_psnr(matte, True) == refined_psnr(matte, False)


def _paint_box(points: torch.Tensor) -> torch.Tensor:
    """Two paints, the edge between them across faces."""
    left = (points[:, 0] < 0.15)[:, None]
    return torch.where(left, torch.tensor([0.3, 0.5, 0.8]), torch.tensor([0.8, 0.45, 0.2]))


@pytest.fixture(scope="module")
def painted_box() -> RenderMesh:
    """A box whose faces each have their own vertices: one normal per face."""
    box = trimesh.creation.box(extents=(1.0, 0.8, 0.6))
    box.unmerge_vertices()
    return _painted(box, _paint_box, 128)


BOX_VIEW = Cameras.orbit([35.0], 30.0, resolution=128)
BOX_LAMP = (-1.0, 2.0, 1.5)


def test_a_box_lit_face_by_face_is_found_against_a_guess_at_its_colour(painted_box) -> None:
    albedo, normals, mask = _looking(painted_box, BOX_VIEW)
    truth = 0.8 * _lit(normals, BOX_LAMP, ambient=0.3)  # dimmer than showing the paint itself
    photo = albedo * truth[..., None]
    # The guess: the paint with a colour cast and noise, as a model might bake it.
    noise = 0.03 * torch.randn(albedo.shape, generator=torch.Generator().manual_seed(0))
    guess = (albedo * torch.tensor([0.85, 1.0, 1.1]) + noise).clamp(0.0, 1.0)

    alone, _ = fit_shading(normals, photo, mask)
    against = fit_light(normals, photo, mask, colour=False, albedo=guess).shading
    error_alone = (alone - truth)[mask].abs().mean()
    error_against = (against - truth)[mask].abs().mean()
    assert error_alone > 0.1 and error_against < 0.03, (error_alone, error_against)


def test_refining_a_box_against_a_guess_keeps_its_darker_faces_out_of_the_texture(
    painted_box,
) -> None:
    albedo, normals, _ = _looking(painted_box, BOX_VIEW)
    photo = albedo * (0.8 * _lit(normals, BOX_LAMP, ambient=0.3))[..., None]
    guess = painted_box.with_texture(
        (painted_box.texture * torch.tensor([0.85, 1.0, 1.1])).clamp(0.0, 1.0)
    )
    sampler = TextureSampler(painted_box, BOX_VIEW)
    truth = sampler(painted_box.texture)

    def refined_psnr(light_from_texture: bool) -> float:
        settings = RefineSettings(
            steps=100, fit_lighting=True, light_from_texture=light_from_texture
        )
        texture = refine_texture(guess, BOX_VIEW, photo, settings=settings).texture
        return psnr(sampler(texture), truth, sampler.covered)

    start = psnr(sampler(guess.texture), truth, sampler.covered)
    alone, against = refined_psnr(False), refined_psnr(True)
    assert against - max(alone, start) >= 3.0, (start, alone, against)
