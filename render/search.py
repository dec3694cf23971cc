"""Helpers the lamp searches share (``render.highlights``, ``render.shadows``): directions
spread over a cap about a guess, and weighted quantiles (a weighted median is the
least-absolute-deviations fit of one scale)."""

from __future__ import annotations

import math

import torch
from torch import Tensor


def weighted_quantiles(values: Tensor, weights: Tensor, quantile: float = 0.5) -> Tensor:
    """Per column of ``weights (N, D)``, the weighted ``quantile`` of that column of ``values
    (N, D)``, or of its one column ``(N, 1)`` shared by all (the median: the ``k`` minimising
    ``sum(weights * |values - k|)``); 0 for a column without weight."""
    # Rows without weight in any column never hold a quantile: sort without them (the lamp
    # searches' candidates share rows, of which often under a fifth carry any weight).
    weighted = (weights > 0).any(dim=1)
    values, weights = values[weighted], weights[weighted]
    if len(values) == 0:
        return values.new_zeros(weights.shape[1])
    if values.shape[1] == 1:  # one sort serves every column
        order = values[:, 0].argsort()
        ordered = values[order, 0].expand(weights.shape[1], -1)
        cumulative = weights[order].T.cumsum(1)
    else:
        values, weights = values.T, weights.T  # sorting along the contiguous dimension is faster
        order = values.argsort(dim=1)
        ordered = values.gather(1, order)
        cumulative = weights.gather(1, order).cumsum(1)
    cut = cumulative[:, -1:] * quantile
    position = (cumulative < cut).sum(1, keepdim=True).clamp_max(ordered.shape[1] - 1)
    found = ordered.gather(1, position)[:, 0]
    return torch.where(cumulative[:, -1] > 0, found, torch.zeros_like(found))


def directions_around(direction: Tensor, radius: float, count: int) -> Tensor:
    """``direction`` and ``count`` unit vectors spread evenly within ``radius`` (radians)."""
    helper = [1.0, 0.0, 0.0] if abs(float(direction[0])) < 0.9 else [0.0, 1.0, 0.0]
    u = torch.nn.functional.normalize(
        torch.linalg.cross(direction, direction.new_tensor(helper)), dim=0
    )
    w = torch.linalg.cross(direction, u)
    index = torch.arange(count, dtype=direction.dtype, device=direction.device) + 0.5
    spread = radius * (index / count).sqrt()  # even over the cap, near enough
    turn = index * math.pi * (3.0 - math.sqrt(5.0))
    offsets = spread.sin()[:, None] * (turn.cos()[:, None] * u + turn.sin()[:, None] * w)
    around = spread.cos()[:, None] * direction + offsets
    return torch.cat([direction[None], torch.nn.functional.normalize(around, dim=-1)])
