"""The lamp searches' shared helpers: weighted medians and directions about a guess."""

from __future__ import annotations

import math

import torch

from render.search import directions_around, weighted_quantiles


def _brute_weighted_median(values: torch.Tensor, weights: torch.Tensor) -> float:
    """The value among ``values`` minimising ``sum(weights * |values - k|)``."""
    costs = (weights[None, :] * (values[None, :] - values[:, None]).abs()).sum(1)
    return float(values[costs.argmin()])


def test_weighted_median_minimises_the_weighted_absolute_deviation() -> None:
    generator = torch.Generator().manual_seed(0)
    values = torch.randn(301, 5, generator=generator, dtype=torch.float64)
    weights = torch.rand(301, 5, generator=generator, dtype=torch.float64)
    found = weighted_quantiles(values, weights)
    for column in range(5):
        expected = _brute_weighted_median(values[:, column], weights[:, column])
        assert math.isclose(float(found[column]), expected, abs_tol=1e-12)


def test_rows_without_weight_do_not_change_the_median() -> None:
    # The shadow search drops the neighbour steps no candidate edge crosses before sorting.
    generator = torch.Generator().manual_seed(1)
    values = torch.randn(200, 3, generator=generator)
    weights = torch.rand(200, 3, generator=generator) * (
        torch.rand(200, 3, generator=generator) > 0.5
    )
    kept = weights.sum(1) > 0
    assert torch.equal(
        weighted_quantiles(values, weights), weighted_quantiles(values[kept], weights[kept])
    )


def test_no_values_or_no_weight_give_zero() -> None:
    assert torch.equal(weighted_quantiles(torch.zeros(0, 4), torch.zeros(0, 4)), torch.zeros(4))
    values = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    weights = torch.tensor([[0.0, 1.0], [0.0, 1.0]])
    assert weighted_quantiles(values, weights)[0] == 0.0


def test_directions_around_stay_within_the_cap() -> None:
    guess = torch.nn.functional.normalize(torch.tensor([0.3, 1.0, -0.2]), dim=0)
    around = directions_around(guess, math.radians(6.0), 16)
    assert around.shape == (17, 3)
    assert torch.equal(around[0], guess)
    angles = torch.rad2deg(torch.acos((around @ guess).clamp(-1.0, 1.0)))
    assert torch.allclose(around.norm(dim=1), torch.ones(17))
    assert float(angles.max()) <= 6.0 + 1e-3
    assert float(angles[1:].min()) > 0.0


def test_one_column_of_values_serves_every_column_of_weights() -> None:
    generator = torch.Generator().manual_seed(2)
    values = torch.randn(500, 1, generator=generator)
    weights = torch.rand(500, 7, generator=generator) * (
        torch.rand(500, 7, generator=generator) > 0.7
    )
    for quantile in (0.5, 0.9):
        shared = weighted_quantiles(values, weights, quantile)
        assert torch.equal(shared, weighted_quantiles(values.expand(-1, 7), weights, quantile))
