"""Latent posteriors and decoded fields: what every shape autoencoder hands downstream.

A decoded field answers ``query(xyz)`` with ``(sdf, rgb)``. Mesh extraction and texture
baking see only this interface, so a new autoencoder needs no change downstream.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

import numpy as np
import torch


class DiagonalGaussian:
    """A diagonal Gaussian over latents: ``params`` holds means and log-variances stacked
    along ``dim`` (``(B, M, 2C)`` -> latents ``(B, M, C)`` for vecsets, ``dim=2`` for
    triplanes ``(B, 3, 2C, R, R)``)."""

    def __init__(self, params: torch.Tensor, dim: int = -1):
        self.mean, logvar = params.chunk(2, dim=dim)
        self.logvar = logvar.clamp(-30.0, 20.0)
        self.std = torch.exp(0.5 * self.logvar)

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        noise = torch.randn(
            self.mean.shape, generator=generator, device=self.mean.device, dtype=self.mean.dtype
        )
        return self.mean + self.std * noise

    def mode(self) -> torch.Tensor:
        return self.mean

    def kl(self) -> torch.Tensor:
        """KL divergence to N(0, I), averaged over latent elements: ``(B,)``."""
        per_element = 0.5 * (self.mean.pow(2) + self.logvar.exp() - 1.0 - self.logvar)
        return per_element.flatten(1).mean(dim=1)


#: ``head(latent_features, xyz (B, N, 3)) -> (sdf (B, N), rgb (B, N, 3))``
Head = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


class DecodedField:
    """The SDF and colour of decoded shapes.

    ``query(xyz)`` takes a torch tensor ``(B, N, 3)`` and returns ``sdf (B, N)`` and
    ``rgb (B, N, 3)`` in [0, 1], differentiable. For one shape it also takes a numpy array
    ``(N, 3)`` and answers in numpy, in chunks of ``chunk`` points without gradients, so that
    a 256^3 grid query fits in memory (this is the form mesh extraction uses).

    ``query_dtype`` (None: the features' dtype) is the precision numpy queries compute in,
    through autocast: bfloat16 halves the cost of meshing and baking on CPUs with native
    bfloat16 and moves the surface by well under a grid cell (see ``gen3d.device``).
    """

    def __init__(
        self,
        head: Head,
        features: torch.Tensor,
        chunk: int = 32_768,
        query_dtype: torch.dtype | None = None,
    ):
        self._head = head
        self.features = features  # decoded latent features, batch first
        self.batch_size = features.shape[0]
        self.device, self.dtype = features.device, features.dtype
        self.chunk = chunk
        self.query_dtype = query_dtype

    def __len__(self) -> int:
        return self.batch_size

    def float(self) -> DecodedField:
        """The same field with float32 features (differentiably cast). accelerate calls this
        on a bf16 or fp16 model's outputs, as on tensors: anything with a ``dtype``."""
        return DecodedField(self._head, self.features.float(), self.chunk, self.query_dtype)

    def __getitem__(self, index: int) -> DecodedField:
        """The field of one shape of the batch."""
        if not -self.batch_size <= index < self.batch_size:
            raise IndexError(f"shape {index} of a batch of {self.batch_size}")
        index %= self.batch_size
        return DecodedField(
            self._head, self.features[index : index + 1], self.chunk, self.query_dtype
        )

    def _query(self, xyz: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self._head(self.features, xyz)

    def query(self, xyz: Any) -> tuple[Any, Any]:
        if isinstance(xyz, torch.Tensor):
            if xyz.ndim != 3 or xyz.shape[0] != self.batch_size or xyz.shape[-1] != 3:
                raise ValueError(
                    f"query points must be ({self.batch_size}, N, 3), not {tuple(xyz.shape)}"
                )
            return self._query(xyz)
        points = np.asarray(xyz, dtype=np.float32)
        if points.ndim != 2 or points.shape[1] != 3:
            raise ValueError(f"numpy query points must be (N, 3), not {points.shape}")
        if self.batch_size != 1:
            raise ValueError("numpy queries need a field of one shape; index the batch first")
        sdf, rgb = [], []
        dtype = self.query_dtype or self.dtype
        # Autocast whenever the answer is not computed in float32: features decoded under
        # autocast come out bfloat16 while the query head's weights stay float32.
        lower = dtype != torch.float32 and self.device.type in ("cpu", "cuda")
        precision = torch.autocast(self.device.type, dtype=dtype) if lower else nullcontext()
        with torch.no_grad(), precision:
            for start in range(0, len(points), self.chunk):
                part = torch.from_numpy(points[start : start + self.chunk]).to(
                    self.device, self.dtype
                )
                d, c = self._query(part[None])
                sdf.append(d[0].float().cpu().numpy())
                rgb.append(c[0].float().cpu().numpy())
        return np.concatenate(sdf), np.concatenate(rgb)

    def sdf(self, xyz: Any) -> Any:
        return self.query(xyz)[0]

    def colour(self, xyz: Any) -> Any:
        return self.query(xyz)[1]


def with_query_dtype(field: Any, dtype: torch.dtype | None) -> Any:
    """``field`` set to answer numpy queries in ``dtype`` when it is a ``DecodedField`` (None
    leaves it as it is); other fields keep their own precision. Returns ``field``."""
    if dtype is not None and isinstance(field, DecodedField):
        field.query_dtype = dtype
    return field


# The encoder's colour input for a shape that has none (an uncoloured mesh): mid grey, the
# colour a decoder would paint it anyway, so such shapes do not teach "black".
UNCOLOURED = 0.5


def encoder_inputs(
    embedded_xyz: torch.Tensor,
    normals: torch.Tensor | None,
    colours: torch.Tensor | None,
    *,
    use_normals: bool,
    use_colours: bool,
) -> torch.Tensor:
    """Per-point encoder features: the xyz embedding, then normals, then RGB in [0, 1].

    The order is fixed: a warm start from a VAE without colour input appends the colour
    columns at the end (``vae.warm_start``). ``colours=None`` on a colour VAE means the shape
    has no colour; it is encoded as ``UNCOLOURED``.
    """
    features = [embedded_xyz]
    if use_normals:
        if normals is None:
            raise ValueError("this VAE was built with use_normals=True: pass normals")
        features.append(normals.to(embedded_xyz.dtype))
    if use_colours:
        if colours is None:
            colours = torch.full_like(embedded_xyz[..., :3], UNCOLOURED)
        features.append(colours.to(embedded_xyz.dtype))
    return torch.cat(features, dim=-1)


def surface_colours_or_grey(colours: torch.Tensor, has_colour: torch.Tensor) -> torch.Tensor:
    """A batch's ``surface_colours (B, N, 3)``, with shapes whose ``has_colour`` is False
    (stored as zeros) replaced by ``UNCOLOURED``."""
    mask = has_colour.to(torch.bool).reshape(-1, *([1] * (colours.dim() - 1)))
    return torch.where(mask, colours, torch.full_like(colours, UNCOLOURED))


class ShapeAutoencoder:
    """The training entry point shared by the shape VAEs (mixed in before ModelMixin).

    A subclass provides ``encode(points, normals, colours) -> DiagonalGaussian`` and
    ``decode(latents) -> DecodedField``. A VAE built without colour input ignores
    ``colours``, so callers always pass what they have.
    """

    #: the top-level submodules and parameters that make up the encoder (up to the posterior)
    ENCODER_PARTS: tuple[str, ...] = ()

    def encoder_parameters(self) -> list[torch.nn.Parameter]:
        """The parameters that latents depend on: everything in ``ENCODER_PARTS``."""
        if not self.ENCODER_PARTS:  # else freezing "the encoder" would silently freeze nothing
            raise NotImplementedError(f"{type(self).__name__} does not name its ENCODER_PARTS")
        return [
            parameter
            for name, parameter in self.named_parameters()  # type: ignore[attr-defined]
            if name.split(".")[0] in self.ENCODER_PARTS
        ]

    def _encoder_features(
        self, points: torch.Tensor, normals: torch.Tensor | None, colours: torch.Tensor | None
    ) -> torch.Tensor:
        """``encoder_inputs`` for this model: its ``fourier`` embedding and config flags."""
        return encoder_inputs(
            self.fourier(points),  # type: ignore[attr-defined]
            normals,
            colours,
            use_normals=self.config.use_normals,  # type: ignore[attr-defined]
            use_colours=self.config.use_colours,  # type: ignore[attr-defined]
        )

    def forward(
        self,
        points: torch.Tensor,
        normals: torch.Tensor | None,
        query_xyz: torch.Tensor | None = None,
        sample_posterior: bool = True,
        generator: torch.Generator | None = None,
        colours: torch.Tensor | None = None,
        latent_noise: float = 0.0,
    ) -> dict[str, Any]:
        """Encode, sample (or take the mean) and decode; query ``query_xyz`` if given.

        ``latent_noise`` adds Gaussian noise of that many times the latents' standard
        deviation (over the batch) before decoding: the decoder then learns the slightly
        displaced latents a DiT samples, not only the encoder's.

        Returns ``posterior``, ``latents`` and ``field``, plus ``sdf`` and ``rgb`` at the
        query points. Training goes through here so that distributed wrappers see a forward.
        """
        posterior = self.encode(points, normals, colours)  # type: ignore[attr-defined]
        latents = posterior.sample(generator) if sample_posterior else posterior.mode()
        if latent_noise:
            noise = torch.randn(
                latents.shape, generator=generator, device=latents.device, dtype=latents.dtype
            )
            latents = latents + latent_noise * latents.detach().std() * noise
        field = self.decode(latents)  # type: ignore[attr-defined]
        out: dict[str, Any] = {"posterior": posterior, "latents": latents, "field": field}
        if query_xyz is not None:
            out["sdf"], out["rgb"] = field.query(query_xyz)
        return out
