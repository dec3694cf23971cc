"""Rectified flow: the objective, the scheduler-driven sampler, guidance, and the toy
acceptance problem (a condition-dependent Gaussian mixture with a known answer)."""

from __future__ import annotations

import pytest
import torch

from dit import build_dit
from dit.flow import (
    Conditioning,
    drop_conditions,
    flow_matching_loss,
    interpolate,
    logit_normal_timesteps,
)
from dit.sampling import SamplingCancelled, sample_latents


class ConstantFlow(torch.nn.Module):
    """A 'model' whose velocity is noise - x0 for a fixed x0: sampling must land on x0."""

    def __init__(self, target: torch.Tensor):
        super().__init__()
        self.target = target
        self.layout = type("Layout", (), {"shape": tuple(target.shape[1:])})()

    def forward(self, x_t, t, tokens, pooled, mask=None):
        t = t.view(-1, *([1] * (x_t.ndim - 1)))
        # x_t = (1 - t) x0 + t n  =>  n = (x_t - (1 - t) x0) / t ; v = n - x0
        return (x_t - (1 - t) * self.target) / t - self.target


def conditioning(batch: int, value: float = 0.0) -> Conditioning:
    return Conditioning(torch.full((batch, 2, 4), value), torch.full((batch, 4), value))


def test_interpolation_and_timesteps() -> None:
    x0, noise = torch.zeros(3, 2, 2), torch.ones(3, 2, 2)
    t = torch.tensor([0.0, 0.25, 1.0])
    assert torch.equal(interpolate(x0, noise, t)[:, 0, 0], t)
    ts = logit_normal_timesteps(20_000, generator=torch.Generator().manual_seed(0))
    assert ts.min() > 0 and ts.max() < 1 and abs(float(ts.median()) - 0.5) < 0.02
    # logit-normal puts more mass in the middle than uniform does
    assert ((ts > 0.25) & (ts < 0.75)).float().mean() > 0.6


def test_sampler_follows_the_scheduler_to_the_target() -> None:
    target = torch.randn(2, 5, 3, generator=torch.Generator().manual_seed(0))
    latents = sample_latents(ConstantFlow(target), conditioning(2), steps=8, shift=3.0)
    assert torch.allclose(latents, target, atol=1e-4)


def test_seeds_callbacks_and_cancel() -> None:
    target = torch.zeros(1, 4, 2)
    model = ConstantFlow(target)

    class Noisy(torch.nn.Module):  # velocity depends on the start, so the seed shows
        layout = model.layout

        def forward(self, x_t, t, tokens, pooled, mask=None):
            return 0.1 * x_t

    a = sample_latents(
        Noisy(), conditioning(1), steps=3, generator=torch.Generator().manual_seed(1)
    )
    b = sample_latents(
        Noisy(), conditioning(1), steps=3, generator=torch.Generator().manual_seed(1)
    )
    c = sample_latents(
        Noisy(), conditioning(1), steps=3, generator=torch.Generator().manual_seed(2)
    )
    assert torch.equal(a, b) and not torch.equal(a, c)
    # one generator per item: an item's result does not depend on the rest of the batch
    gens = [torch.Generator().manual_seed(s) for s in (1, 2)]
    batch = sample_latents(Noisy(), conditioning(2), steps=3, generator=gens)
    assert torch.equal(batch[0], a[0]) and torch.equal(batch[1], c[0])

    seen = []
    sample_latents(model, conditioning(1), steps=4, callback=lambda *args: seen.append(args[:2]))
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    with pytest.raises(SamplingCancelled, match="after step 2 of 4"):
        sample_latents(model, conditioning(1), steps=4, callback=lambda step, *_: step < 2)
    with pytest.raises(ValueError, match="steps"):
        sample_latents(model, conditioning(1), steps=0)


def test_sampling_from_given_latents_runs_the_last_steps_from_their_noise_level() -> None:
    """SDEdit: strength s noises the given latents to the flow time of the last
    round(steps * s) steps and runs only those; strength 1 is plain sampling."""
    start = torch.randn(1, 4, 2, generator=torch.Generator().manual_seed(3))

    class Still(torch.nn.Module):  # zero velocity: the result is the noised start itself
        layout = type("Layout", (), {"shape": (4, 2)})()

        def forward(self, x_t, t, tokens, pooled, mask=None):
            return torch.zeros_like(x_t)

    def sample(strength: float, model: torch.nn.Module = Still(), **kw):
        seen: list[tuple[int, int]] = []
        out = sample_latents(
            model,
            conditioning(1),
            steps=10,
            generator=torch.Generator().manual_seed(0),
            init_latents=start,
            strength=strength,
            callback=lambda step, steps, *_: seen.append((step, steps)),
            **kw,
        )
        return out, seen

    noise = torch.randn(1, 4, 2, generator=torch.Generator().manual_seed(0))
    out, seen = sample(0.3)
    assert seen == [(1, 3), (2, 3), (3, 3)]
    # steps 8-10 of 10 start at flow time 0.223 (the scheduler's 8th sigma, shift 1)
    torch.testing.assert_close(out, 0.223 * noise + 0.777 * start, atol=1e-5, rtol=0)
    assert torch.equal(
        sample(1.0)[0],
        sample_latents(
            Still(), conditioning(1), steps=10, generator=torch.Generator().manual_seed(0)
        ),
    )
    # The partial schedule still integrates the flow exactly: a model that knows its target
    # lands on it from the noised start.
    target = torch.randn(1, 4, 2, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(
        sample(0.5, ConstantFlow(target), shift=3.0)[0], target, atol=1e-4, rtol=0
    )
    with pytest.raises(ValueError, match="strength"):
        sample(0.0)
    with pytest.raises(ValueError, match="init_latents"):
        sample_latents(Still(), conditioning(1), init_latents=torch.zeros(1, 3), strength=0.5)


def test_condition_dropout() -> None:
    cond, uncond = conditioning(1000, 1.0), conditioning(1, -1.0)
    dropped = drop_conditions(cond, uncond, 0.3, torch.Generator().manual_seed(0))
    fraction = (dropped.pooled[:, 0] < 0).float().mean()
    assert 0.25 < fraction < 0.35
    same = (dropped.tokens[:, 0, 0] < 0) == (dropped.pooled[:, 0] < 0)
    assert bool(same.all())
    assert drop_conditions(cond, uncond, 0.0) is cond


MODES = torch.tensor(
    [[[2.0, 0.0], [0.0, 2.0], [-2.0, 0.0]], [[-2.0, -2.0], [2.0, 2.0], [0.0, -2.0]]]
).permute(1, 0, 2)  # (3 conditions, 2 tokens, 2 channels)


def toy_conditions(labels: torch.Tensor) -> Conditioning:
    onehot = torch.nn.functional.one_hot(labels, 4).float()  # class 3 = unconditional
    return Conditioning(onehot[:, None].repeat(1, 2, 1), onehot)


def set_distance(latents: torch.Tensor, modes: torch.Tensor) -> torch.Tensor:
    """Distances ``(B, K)`` between latent sets and modes, as sets: a latent set's tokens
    have no order (the VAE decodes any permutation to the same shape, and a DiT without
    positions is permutation-equivariant), so the best of the two orders counts."""
    swapped = latents[:, [1, 0]]
    straight = (latents[:, None] - modes[None]).flatten(2).norm(dim=-1)
    crossed = (swapped[:, None] - modes[None]).flatten(2).norm(dim=-1)
    return torch.minimum(straight, crossed)


def nearest_mode(latents: torch.Tensor) -> torch.Tensor:
    return set_distance(latents, MODES).argmin(dim=1)


def distance_to_own_mode(latents: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return set_distance(latents, MODES).gather(1, labels[:, None])[:, 0]


@pytest.mark.parametrize("variant", ["dit-cross", "mmdit"])
def test_toy_gaussian_mixture_each_condition_samples_its_mode(variant: str) -> None:
    # Data: condition k gives latents N(mode_k, 0.1^2); unconditionally a 3-mode mixture.
    torch.manual_seed(0)
    model = build_dit(
        variant, latent_shape=(2, 2), width=64, depth=2, heads=4, cond_dim=4, pooled_dim=4
    )
    optimiser = torch.optim.AdamW(model.parameters(), lr=2e-3)
    generator = torch.Generator().manual_seed(0)
    uncond = toy_conditions(torch.tensor([3]))
    for _ in range(400):
        labels = torch.randint(0, 3, (128,), generator=generator)
        x0 = MODES[labels] + 0.1 * torch.randn(128, 2, 2, generator=generator)
        cond = drop_conditions(toy_conditions(labels), uncond, 0.15, generator)
        loss = flow_matching_loss(model, x0, cond, generator=generator)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()

    labels = torch.arange(3).repeat_interleave(40)
    gen = torch.Generator().manual_seed(1)
    guided = sample_latents(
        model, toy_conditions(labels), uncond, steps=20, guidance=2.0, generator=gen
    )
    accuracy = (nearest_mode(guided) == labels).float().mean()
    assert accuracy >= 0.95, accuracy
    assert distance_to_own_mode(guided, labels).median() < 0.5
    # Guidance 0 is the unconditional model: samples spread over the modes of the mixture.
    gen = torch.Generator().manual_seed(1)
    free = sample_latents(
        model, toy_conditions(labels), uncond, steps=20, guidance=0.0, generator=gen
    )
    counts = torch.bincount(nearest_mode(free), minlength=3)
    assert (counts >= 10).all(), counts
    assert (nearest_mode(free) == labels).float().mean() < 0.6  # the condition is ignored
