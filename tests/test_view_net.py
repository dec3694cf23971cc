"""The view net (``gen3d.view_net``): its training labels, the prior it gives the view search,
and where the pipeline uses it (generated meshes, not meshes to paint)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import trimesh
from PIL import Image

from gen3d.view_net import FLOOR, ViewNet, ViewPrior, angles_between, unit_direction
from render import RenderMesh, render_mesh
from render.pose import PoseSettings, estimate_view


def angle_between(a: tuple[float, float], b: tuple[float, float]) -> float:
    first = unit_direction(torch.tensor(a[0]), torch.tensor(a[1]))
    second = unit_direction(torch.tensor([b[0]]), torch.tensor([b[1]]))
    return float(angles_between(first, second)[0])


def with_view_net(tiny_pipeline, net: ViewNet):
    """The tiny pipeline's models with ``net`` as its view net."""
    from gen3d.pipeline import Pipeline

    pipe = tiny_pipeline
    return Pipeline(
        pipe.vae, pipe.dit, pipe.text_encoder, pipe.image_encoder, pipe.config, view_net=net
    )


def one_hot_prior(view: tuple[float, float]) -> ViewPrior:
    """A prior as sure as the grid allows that the photo was taken from ``view``."""
    azimuths, elevations = ViewNet().grid()
    probabilities = torch.zeros(len(azimuths))
    nearest = ((azimuths - view[0] + 180) % 360 - 180).abs() + (elevations - view[1]).abs()
    probabilities[nearest.argmin()] = 1.0
    return ViewPrior(azimuths, elevations, probabilities)


def test_training_labels_centre_on_the_view_and_sum_to_one() -> None:
    net = ViewNet()
    azimuths, elevations = net.grid()
    labels = net.soft_labels(torch.tensor([0.0, 352.0, 100.0]), torch.tensor([15.0, 0.0, 44.0]))
    torch.testing.assert_close(labels.sum(-1), torch.ones(3))
    peaks = [(float(azimuths[i]), float(elevations[i])) for i in labels.argmax(-1)]
    assert peaks == [(0.0, 15.0), (345.0, 0.0), (105.0, 45.0)]


def test_the_prior_is_highest_at_its_view_and_falls_off_to_a_floor() -> None:
    prior = one_hot_prior((120.0, 30.0))
    near, aside, behind = prior.log_density([(120.0, 30.0), (140.0, 30.0), (300.0, 10.0)])
    assert float(near) == pytest.approx(0.0, abs=1e-6)
    assert FLOOR < float(aside) < -0.5
    assert float(behind) == pytest.approx(FLOOR)
    assert angle_between(prior.most_likely(), (120.0, 30.0)) < 1.0


def test_the_prior_picks_the_side_of_a_mesh_that_looks_the_same_from_every_side() -> None:
    # A plain upright cylinder: its outline tells the elevation, nothing tells the azimuth.
    cylinder = trimesh.creation.cylinder(radius=0.3, height=1.0, sections=48)
    cylinder.apply_transform(trimesh.transformations.rotation_matrix(-math.pi / 2, [1, 0, 0]))
    mesh = RenderMesh.from_trimesh(cylinder)
    from gen3d.pipeline import reference_cameras

    view = (120.0, 30.0)
    out = render_mesh(mesh, reference_cameras(mesh.vertices, view, 96), shading="albedo")
    image, mask = out.color[0].clamp(0, 1), out.mask[0]
    settings = PoseSettings(max_roll=0.0)
    alone = estimate_view(mesh, image, mask, prior=(30.0, 20.0), settings=settings)
    guided = estimate_view(
        mesh,
        image,
        mask,
        prior=(30.0, 20.0),
        direction_prior=one_hot_prior(view),
        settings=settings,
    )
    assert angle_between(alone.view, view) > 45.0  # the tie goes to the reference view
    assert angle_between(guided.view, view) < 8.0
    assert guided.iou == pytest.approx(alone.iou, abs=0.03)  # as good a match


@pytest.mark.parametrize("painting", [False, True])
def test_only_generated_meshes_take_the_view_nets_reading(
    tiny_pipeline, monkeypatch: pytest.MonkeyPatch, painting: bool
) -> None:
    import gen3d.image_view

    pipe = with_view_net(tiny_pipeline, ViewNet(image_size=32, width=32))
    given = []
    estimate = gen3d.image_view.estimate_photo_view

    def noted(*args, **kwargs):
        given.append(kwargs.get("direction_prior"))
        return estimate(*args, **kwargs)

    monkeypatch.setattr(gen3d.image_view, "estimate_photo_view", noted)
    photo = Image.fromarray(np.full((64, 64, 3), 255, np.uint8))
    photo.paste((200, 40, 40), (16, 16, 48, 48))
    options = {"image": photo, "refine_steps": 2, "texture_size": 64, "seed": 0}
    options["straighten"] = False  # its quick shape's estimate is not the one here
    if painting:  # a mesh of the user's, which may face any way
        options.update(shape=trimesh.creation.box(extents=(1.0, 2.0, 1.5)), keep_geometry=True)
    asset = pipe(**options)
    assert len(given) == 1
    assert (given[0] is None) == painting
    if not painting:
        assert isinstance(given[0], ViewPrior)
        # The net's reading is in the metadata beside the view found, for users to compare.
        reading = asset.metadata["view"]["view_net"]
        assert (reading["azimuth"], reading["elevation"]) == pytest.approx(
            given[0].most_likely(), abs=0.05
        )
    else:
        assert "view_net" not in asset.metadata["view"]


def test_a_pipeline_saves_and_loads_its_view_net(tiny_pipeline, tmp_path) -> None:
    from gen3d.pipeline import Pipeline

    net = ViewNet(image_size=32, width=32)
    pipe = with_view_net(tiny_pipeline, net)
    loaded = Pipeline.from_pretrained(pipe.save_pretrained(tmp_path / "pipe"), device="cpu")
    photo = torch.rand(64, 64, 3)
    torch.testing.assert_close(
        loaded.view_net.prior(photo).probabilities, net.prior(photo).probabilities
    )
    assert Pipeline.from_pretrained(tiny_pipeline.save_pretrained(tmp_path / "no")).view_net is None
