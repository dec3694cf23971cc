"""Which way a photo looks at the object, read from the photo alone: a prior for the view
estimate of image to 3D.

``render.pose.estimate_view`` finds the camera from which a mesh looks most like the photo.
On the mesh the model generated from that photo it often goes wrong: the generated shape is
near the photographed one but not the same, and another side of it can match the photo's
outline better than the true one (bench_pose's 12 unseen shapes: median error 62 degrees on
generated meshes, against 1.2 on the exact ones). The model generates shapes in its own
frame (a chair faces +z whatever the photo), so which way the photo looks at the object is a
property of the photo that a network can learn from the training renders, whose views are
known: ``ViewNet`` is a small CNN that gives a probability to each of a grid of directions
(azimuth every 15 degrees, elevations 0 to 45). Symmetric shapes are ambiguous (a bottle
looks the same from every side), and the network says so by spreading its probability; the
view search then goes by the mesh where the network cannot tell. ``ViewPrior`` turns the
probabilities into a smooth log-density over directions for the search's scores.

Trained with ``scripts/train_view_net.py`` on the DiT's 8-view renders; shipped in the
default model's ``view/`` folder. A pipeline folder without it estimates views as before.

Example::

    net = ViewNet.from_pretrained("gen3d/models/default/view")
    prior = net.prior(photo_colours)          # (H, W, 3) in [0, 1], framed like an input
    prior.log_density([(30.0, 20.0)])         # how likely the reference view is
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from torch import Tensor, nn

#: the directions the network scores: azimuths every ``360 / azimuth_bins`` degrees and these
#: elevations (degrees), where the training renders' views lie (0-45)
ELEVATIONS = (0.0, 15.0, 30.0, 45.0)
#: the angular spread (degrees) of a training label over the grid, and of the prior's
#: density around each grid direction: about a bin's width
SPREAD = 15.0
#: the lowest log-density the prior gives a direction, relative to its most likely one: a
#: direction the network rules out costs at most this much, so a mesh that clearly looks
#: like the photo from there can still win
FLOOR = math.log(1e-3)


def unit_direction(azimuth: Tensor, elevation: Tensor) -> Tensor:
    """Unit vectors ``(..., 3)`` towards cameras at ``azimuth`` and ``elevation`` degrees
    (only angles between directions matter here, so the axes' naming does not)."""
    az, el = torch.deg2rad(azimuth), torch.deg2rad(elevation)
    return torch.stack([el.cos() * az.cos(), el.cos() * az.sin(), el.sin()], dim=-1)


def angles_between(directions: Tensor, others: Tensor) -> Tensor:
    """Degrees between each of unit ``directions (..., 3)`` and each of ``others (M, 3)``:
    ``(..., M)``."""
    return torch.rad2deg(torch.acos((directions @ others.T).clamp(-1.0, 1.0)))


def _spread(angles: Tensor) -> Tensor:
    """A Gaussian of ``SPREAD`` degrees at those angles: how much a grid direction counts."""
    return torch.exp(-0.5 * (angles / SPREAD) ** 2)


class ViewNet(ModelMixin, ConfigMixin):
    """``(B, 3, S, S)`` images in [0, 1] (framed like ``gen3d.images.prepare_image``'s) ->
    logits ``(B, len(elevations) * azimuth_bins)`` over the grid of directions."""

    @register_to_config
    def __init__(
        self,
        image_size: int = 64,
        width: int = 96,
        azimuth_bins: int = 24,
        elevations: Sequence[float] = ELEVATIONS,
    ):
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for out in (width // 4, width // 2, width, width):
            layers += [
                nn.Conv2d(channels, out, 3, padding=1),
                nn.GroupNorm(8, out),
                nn.SiLU(),
                nn.Conv2d(out, out, 4, stride=2, padding=1),
                nn.GroupNorm(8, out),
                nn.SiLU(),
            ]
            channels = out
        self.features = nn.Sequential(*layers)
        cells = (image_size // 16) ** 2
        # Where in the picture a part is says which side faces the camera: flattened, not
        # pooled.
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(channels * cells, 256), nn.SiLU(), nn.Linear(256, self.bins)
        )

    @property
    def bins(self) -> int:
        return len(self.config.elevations) * self.config.azimuth_bins

    def grid(self) -> tuple[Tensor, Tensor]:
        """The directions scored, in the logits' order: azimuths and elevations ``(bins,)``."""
        step = 360.0 / self.config.azimuth_bins
        elevations = torch.tensor(self.config.elevations, dtype=torch.float32)
        azimuths = torch.arange(self.config.azimuth_bins, dtype=torch.float32) * step
        return azimuths.repeat(len(elevations)), elevations.repeat_interleave(len(azimuths))

    def forward(self, images: Tensor) -> Tensor:
        return self.head(self.features(images * 2 - 1))

    def soft_labels(self, azimuths: Tensor, elevations: Tensor) -> Tensor:
        """Training targets ``(B, bins)`` for views ``(B,)``: each grid direction weighted
        by its angle to the view (a Gaussian of ``SPREAD``), summing to 1."""
        grid = unit_direction(*self.grid()).to(azimuths.device)
        views = unit_direction(azimuths.float(), elevations.float())
        weights = _spread(angles_between(views, grid))
        return weights / weights.sum(dim=-1, keepdim=True)

    @torch.no_grad()
    def prior(self, photo: Tensor) -> ViewPrior:
        """The prior for one photo ``(H, W, 3)`` in [0, 1] (``prepared_photo``'s colours)."""
        size = self.config.image_size
        image = photo.permute(2, 0, 1)[None].to(self.device, self.dtype)
        small = nn.functional.interpolate(image, size=(size, size), mode="area")
        probabilities = self(small).float().softmax(dim=-1)[0].cpu()
        return ViewPrior(*self.grid(), probabilities)


class ViewPrior:
    """A smooth density over viewing directions from ``ViewNet``'s probabilities at its grid
    directions: each spread over its neighbourhood by a Gaussian of ``SPREAD`` degrees."""

    def __init__(self, azimuths: Tensor, elevations: Tensor, probabilities: Tensor) -> None:
        self.azimuths, self.elevations = azimuths, elevations
        self.directions = unit_direction(azimuths, elevations)
        self.probabilities = probabilities
        self.peak = float(self._density(self.directions).max())

    def _density(self, directions: Tensor) -> Tensor:
        return (_spread(angles_between(directions, self.directions)) * self.probabilities).sum(-1)

    def log_density(self, views: Sequence[tuple[float, ...]]) -> Tensor:
        """``(len(views),)``: the log-density at each (azimuth, elevation[, ...]) relative to
        the most likely grid direction's (0 there), floored at ``FLOOR``."""
        azimuths = torch.tensor([view[0] for view in views], dtype=torch.float32)
        elevations = torch.tensor([view[1] for view in views], dtype=torch.float32)
        density = self._density(unit_direction(azimuths, elevations))
        return (density / self.peak).clamp_min(1e-30).log().clamp(FLOOR, 0.0)

    def most_likely(self) -> tuple[float, float]:
        """The grid direction of highest probability: (azimuth, elevation)."""
        index = int(self.probabilities.argmax())
        return float(self.azimuths[index]), float(self.elevations[index])
