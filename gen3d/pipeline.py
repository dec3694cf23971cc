"""``gen3d.Pipeline``: text or image in, a textured mesh out.

The stages, numbered as the progress callback reports them:

1. ``encode``: the prompt (text encoder) or the image (image encoder, after centring the
   object on white) becomes condition tokens, plus the unconditional embedding for guidance;
2. ``sample``: the DiT samples shape latents with classifier-free guidance through diffusers'
   flow-matching scheduler, one step at a time (a batch of prompts is one DiT batch);
3. ``decode``: the VAE turns latents into fields (SDF and colour);
4. ``mesh``: hierarchical marching cubes, cleanup and decimation to ``face_count``;
5. ``texture``: xatlas UVs and the field's colour baked into a ``texture_size`` texture
   (``texture_size=0`` keeps vertex colours instead);
6. ``refine`` (image input, ``refine_steps > 0``): the camera the image was taken from is
   estimated (``gen3d.image_view``; or given as ``view``), the image's lighting is fitted
   (``render.lighting``), then the texture is optimised so that a render from that camera,
   under that light, matches the input image (see ``refine_from_photo``).

``shape=`` starts sampling from a mesh instead of noise (``gen3d.shape_input``): its latent is
noised to ``strength`` and denoised under the prompt or image. ``keep_geometry=True`` then
skips the mesh stage and paints the given mesh itself, in its own units.

A pipeline folder (``save_pretrained`` / ``from_pretrained``) holds ``vae/``, ``dit/``,
``conditioning/`` (an image encoder's weights, or a copied text encoder) and
``pipeline.json`` (latent statistics, scheduler shift, which encoders, default options and
those of image inputs).
The packaged all-MiniLM-L6-v2 text encoder is referenced, not copied.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import json
import logging
import random
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from gen3d.asset import Asset
from gen3d.errors import Gen3DError, unknown_names
from vae.field import with_query_dtype

log = logging.getLogger(__name__)
#: set while this context runs the quick shape for straightening: its log lines (warnings too)
#: would repeat the real run's. A context variable, not the logger's level, so that other
#: threads generating meanwhile keep theirs.
_quiet = contextvars.ContextVar("gen3d_pipeline_quiet", default=False)
log.addFilter(lambda record: not _quiet.get())


@contextlib.contextmanager
def _quietly() -> Iterator[None]:
    """This context's ``gen3d.pipeline`` log lines dropped while inside."""
    token = _quiet.set(True)
    try:
        yield
    finally:
        _quiet.reset(token)


PIPELINE_FILE = "pipeline.json"
#: where the default model's weights live inside the package once the default-model issue
#: ships them (a pipeline folder)
DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "models" / "default"
STAGES = ("straighten", "encode", "sample", "decode", "mesh", "texture", "refine")
#: each stage's rough share of a default CPU run, for one overall progress figure
STAGE_WEIGHTS = {
    "straighten": 0.15,
    "encode": 0.02,
    "sample": 0.3,
    "decode": 0.03,
    "mesh": 0.25,
    "texture": 0.3,
    "refine": 0.1,
}


def overall_progress(stage: str, fraction: float) -> float:
    """The whole run's progress in [0, 1] from a stage and the fraction done within it
    (stages a run skips leave their share unused: the last step jumps to done)."""
    if stage not in STAGE_WEIGHTS:
        return 0.0
    done = sum(STAGE_WEIGHTS[name] for name in STAGES[: STAGES.index(stage)])
    total = sum(STAGE_WEIGHTS.values())
    return min(1.0, (done + STAGE_WEIGHTS[stage] * min(max(fraction, 0.0), 1.0)) / total)


#: ``callback(stage, fraction done within the stage, info)``; returning False cancels
ProgressCallback = Callable[[str, float, dict[str, Any]], bool | None]


class PipelineError(Gen3DError):
    """A pipeline that cannot be loaded or run as asked (missing parts, bad options)."""


class EmptyShapeError(PipelineError):
    """The sampled latent decodes to a field with no surface to mesh (another seed usually
    gives one)."""


class GenerationCancelled(Gen3DError):
    """The progress callback asked to stop."""


@dataclass(frozen=True)
class OptionRange:
    low: float
    high: float
    help: str


#: the smallest texture worth baking (0 means vertex colours)
MIN_TEXTURE_SIZE = 64
#: the fewest faces decimation may aim at (0 means keep all)
MIN_TARGET_FACES = 100

#: every generation option with its allowed range (checked before any work starts)
OPTION_RANGES = {
    "steps": OptionRange(1, 200, "sampling steps"),
    "guidance": OptionRange(0.0, 30.0, "classifier-free guidance scale (1 = none)"),
    "resolution": OptionRange(32, 512, "marching-cubes grid resolution"),
    "face_count": OptionRange(0, 2_000_000, "target faces after decimation (0 = keep all)"),
    "texture_size": OptionRange(0, 4096, "texture side in pixels (0 = vertex colours)"),
    "refine_steps": OptionRange(
        0, 1000, "texture refinement steps against the input image (unset: the model's default)"
    ),
}
#: how far sampling from a given shape goes back towards noise unless told (0 keeps the
#: shape's own latent, 1 ignores the shape). Measured on 16 unseen shapes asked for a colour
#: they lack (scripts/bench_edit.py): a variation at 0.5 keeps F@0.05 0.69 to the input (0.52
#: for an unrelated sample), with the colour in 50%; painting, where the geometry is kept
#: anyway, gets the colour in 81% at 0.9 (69% at 0.7).
DEFAULT_STRENGTH = 0.5
DEFAULT_PAINT_STRENGTH = 0.9

#: pixels of the input image the texture is refined against, and its framing margin
REFINE_RESOLUTION = 384
PREPARE_MARGIN = 0.1
#: how firmly refinement from a photo keeps to the baked colours of a model whose bake is
#: trusted (``PipelineConfig.trust_bake``; ``RefineSettings.anchor_weight``): one photo,
#: under a light fitted on a generated mesh that never quite matches it, measures the
#: colour noisily. Measured on bench_pose's 12 shapes refined for 50 steps from their true
#: views (PSNR at the photo's view, unrefined 21.81): 0.01 22.38, 0.1 22.56, 0.3 22.76,
#: 1 22.95, 3 22.84, 10 22.55 dB. But a photo should still win where the bake is plainly
#: wrong: a red disc baked far off by an untrained model was refined 61% of the way to its
#: red at 0.3, 45% at 1
PHOTO_ANCHOR_WEIGHT = 0.3
#: refining a generated mesh (not the photographed object) trusts each pixel by how well the
#: bake already explains it (``RefineSettings.outlier_scale``): where the generated geometry
#: does not fit the photo (a shelf generated as a closed block, a view estimated from the
#: mirror side), the few pixels that disagree far more than most are not painted on. On
#: bench_pose's 12 shapes (seed 0) refined for 50 steps from their estimated views, PSNR at
#: the photo's view / 45 / 90 degrees round / the back: unrefined 21.62 / 21.62 / 21.67 /
#: 21.41, every pixel alike 21.33 / 20.90 / 21.08 / 21.42, scale 1 22.02 / 21.81 / 21.86 /
#: 21.59, 0.5 22.23 / 22.03 / 22.01 / 21.63, 0.25 22.34 / 22.14 / 22.06 / 21.64; on 12 others
#: (seed 1) 0.25 gave 21.48 / 21.67 / 22.62 / 22.80 against unrefined 21.22 / 21.30 / 22.05 /
#: 22.70. A mesh to paint is the object itself: its pixels are all trusted
GENERATED_OUTLIER_SCALE = 0.25
#: pixels this close to the edge of the photo's object left out of refinement
#: (``RefineSettings.edge_margin``, 2 by default). The prepared photo's mask is the object's
#: own outline (``gen3d.images.PreparedImage.mask``); the one before it, a pixel or two wider,
#: left out about one pixel of the object. Painting 12 shapes like their photos, refined from
#: the true view (seed 1, bench_pose --parts symmetry), PSNR at that view: 31.35 with the
#: wider mask at 2, 31.10 with this one at 2, 31.59 at 1
PHOTO_EDGE_MARGIN = 1
#: a pipeline folder's ``gen3d.view_net.ViewNet``, where it has one
VIEW_NET_FOLDER = "view"
#: straightening a photo taken askew (``straighten``): a quick shape (these sampling steps,
#: grid and faces) is sampled from it and its view estimated; the photo is turned back when
#: that view's roll is within these degrees and beats the best level view by this much score
#: (silhouette IoU less colour error). Further turns were false alarms on 16 level photos
#: (17.5 and 21 degrees, against 6.2-16 for true turns of 7 and 14 degrees). A 48-cell grid
#: and 2000 faces (from 64 and 5000) cost 1.45 s a photo instead of 2.1 (CPU, one thread) and
#: found the same turns: 7 of 10 turned 7-15 degrees, to a median 1.0 degree, and none of 10
#: level ones; a 32-cell grid missed 2 more and turned a level photo.
STRAIGHTEN_STEPS, STRAIGHTEN_RESOLUTION, STRAIGHTEN_FACES = 8, 48, 2000
#: and its view is estimated on silhouettes this size (96 for refinement): 35% faster, the
#: same rolls to 1 degree on 10 shapes turned 8-15 degrees
STRAIGHTEN_POSE_RESOLUTION = 64
STRAIGHTEN_ROLLS = (3.0, 15.0)
STRAIGHTEN_MIN_GAIN = 0.03
#: before any quick shape, the photo's upright edges (``gen3d.edge_tilt``): a reading this
#: strong, within ``STRAIGHTEN_ROLLS``, whose opposite turn reads below level, turns it back,
#: and no quick shape is sampled for it. On 200 unseen shapes (``scripts/bench_pose.py
#: --parts tilt --shapes 200 --seed 1``, as rendered and as noisy JPEGs) it read 30-31 of 200
#: photos turned 3-15 degrees, to a median 0.1 degree, and none of the 200 level ones;
#: without the opposite-turn guard 2 level ones read as turned (3.5, a camera looking down
#: sees a box's sides lean towards each other). It catches boxes (shelves), whose outline
#: turned looks like another view's.
STRAIGHTEN_EDGE_STRENGTH = 2.5


@dataclass
class GenerationOptions:
    steps: int = 25
    guidance: float = 4.0
    resolution: int = 192
    face_count: int = 20_000
    texture_size: int = 1024
    refine_steps: int = 0

    def __post_init__(self) -> None:
        for name, limits in OPTION_RANGES.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise PipelineError(f"{name} must be a number, not {value!r}")
            if not limits.low <= value <= limits.high:
                raise PipelineError(
                    f"{name}={value} is out of range: {limits.help} must be in "
                    f"{limits.low:g}..{limits.high:g}"
                )
        if 0 < self.texture_size < MIN_TEXTURE_SIZE:
            raise PipelineError(
                f"texture_size={self.texture_size}: use 0 or at least {MIN_TEXTURE_SIZE}"
            )
        if 0 < self.face_count < MIN_TARGET_FACES:
            raise PipelineError(
                f"face_count={self.face_count}: use 0 or at least {MIN_TARGET_FACES}"
            )
        self.steps, self.resolution = int(self.steps), int(self.resolution)
        self.face_count, self.texture_size = int(self.face_count), int(self.texture_size)
        self.refine_steps = int(self.refine_steps)


@dataclass
class PipelineConfig:
    """What ``pipeline.json`` holds."""

    latent_mean: float = 0.0  # the DiT samples standardised latents; these undo that
    latent_std: float = 1.0
    shift: float = 1.0  # the flow-matching scheduler's timestep shift
    text_encoder: str | None = "default"  # "default" (packaged MiniLM), "bundled", or None
    image_encoder: str | None = None  # "small" (SmallImageEncoder in conditioning/image) or None
    # The camera input images are taken to be seen from (azimuth, elevation in degrees; the
    # default orbit radius and field of view): the view the image encoder was trained on.
    reference_view: tuple[float, float] = (30.0, 20.0)
    defaults: dict[str, Any] = field(default_factory=dict)  # GenerationOptions overrides
    # Overrides of ``defaults`` for image inputs (a model may want other guidance for a
    # photo, which pins a shape down more than a caption does; the default model has none:
    # scripts/bench_parts.py measured guidance 2 and 4 within noise for its images).
    image_defaults: dict[str, Any] = field(default_factory=dict)
    # Whether the colour this model bakes from a photo is a fair guess at the surface colour
    # (a trained model's; set in the shipped default's pipeline.json, where it was measured:
    # scripts/bench_pose.py --parts pipeline-refine): refinement from the photo then fits the
    # photo's light against the bake too (``RefineSettings.light_from_texture``) and keeps
    # to it more firmly (``PHOTO_ANCHOR_WEIGHT``). An untrained model's bake is noise, which
    # the light fit would take for light: False, the photo alone tells the light.
    trust_bake: bool = False

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PipelineConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known - {"gen3d_version"})
        if unknown:
            raise PipelineError(f"{PIPELINE_FILE}: {unknown_names('keys', unknown, known)}")
        return cls(**{k: v for k, v in data.items() if k in known})

    @classmethod
    def load(cls, folder: Path) -> PipelineConfig:
        """A pipeline folder's ``pipeline.json``; a ``PipelineError`` naming what is wrong."""
        config_file = folder / PIPELINE_FILE
        if not config_file.is_file():
            raise PipelineError(
                f"{folder} is not a gen3d pipeline folder (no {PIPELINE_FILE}); a pipeline "
                "folder holds vae/, dit/, conditioning/ and pipeline.json"
            )
        try:
            return cls.from_dict(json.loads(config_file.read_text(encoding="utf-8")))
        except (json.JSONDecodeError, TypeError) as error:
            raise PipelineError(f"{config_file}: not a valid pipeline config ({error})") from None


def resolve_model_path(model: str | Path | None, settings: Any = None) -> Path:
    """The pipeline to load: ``model``, else the settings' ``model_path``
    (``GEN3D_MODEL_PATH``), else the packaged default weights."""
    if model is not None:
        return Path(model)
    if settings is not None and settings.model_path is not None:
        return Path(settings.model_path)
    if (DEFAULT_MODEL_DIR / PIPELINE_FILE).is_file():
        return DEFAULT_MODEL_DIR
    raise PipelineError(
        "no default weights are installed in this gen3d yet: pass --model PATH (a pipeline "
        "folder, e.g. one made with Pipeline.save_pretrained) or set GEN3D_MODEL_PATH"
    )


def _load_text_encoder(kind: str | None, folder: Path, device: torch.device) -> Any:
    from gen3d.conditioning import TextEncoder

    if kind is None:
        return None
    if kind == "default":
        return TextEncoder(device=device)
    if kind == "bundled":
        return TextEncoder(folder / "conditioning" / "text", device=device)
    raise PipelineError(f"{PIPELINE_FILE}: unknown text_encoder {kind!r}")


def load_view_net(folder: Path, device: torch.device) -> Any:
    """The pipeline folder's ``ViewNet`` (``view/``; shipped in float16, loaded as float32
    like the image encoder); None where it has none."""
    if not (folder / VIEW_NET_FOLDER / "config.json").is_file():
        return None
    from gen3d.view_net import ViewNet

    try:
        return ViewNet.from_pretrained(folder / VIEW_NET_FOLDER).to(device)
    except (ValueError, OSError) as error:
        raise PipelineError(
            f"{folder / VIEW_NET_FOLDER}: cannot load the view net ({error})"
        ) from error


def _load_image_encoder(kind: str | None, folder: Path, device: torch.device) -> Any:
    from gen3d.conditioning import SmallImageEncoder

    if kind is None:
        return None
    if kind == "small":
        return SmallImageEncoder.from_pretrained(folder / "conditioning" / "image").to(device)
    raise PipelineError(f"{PIPELINE_FILE}: unknown image_encoder {kind!r}")


class Pipeline:
    """Text or image to a textured mesh; see the module docstring for the stages.

    >>> pipe = Pipeline.from_pretrained("models/gen3d-small")   # doctest: +SKIP
    >>> asset = pipe(prompt="a red wooden chair", seed=7)        # doctest: +SKIP
    >>> asset.save("chair.glb")                                  # doctest: +SKIP
    """

    def __init__(
        self,
        vae: Any,
        dit: Any,
        text_encoder: Any = None,
        image_encoder: Any = None,
        config: PipelineConfig | None = None,
        dtype: torch.dtype = torch.float32,
        field_dtype: torch.dtype | None = None,
        known_prompts: Any = None,
        view_net: Any = None,
    ) -> None:
        """``dtype``: the compute precision of the DiT and the encoders (autocast on CUDA);
        ``field_dtype`` (None: ``dtype``): the precision of the decoded field's mesh and
        texture queries (``gen3d.device.resolve_field_dtype``); ``known_prompts``: the
        training captions' embeddings (``gen3d.vocabulary.KnownPrompts``), to tell how
        familiar a prompt is; ``view_net``: which way a photo looks at the object
        (``gen3d.view_net.ViewNet``), a prior for the view refinement estimates on generated
        meshes (None: the mesh alone decides)."""
        self.vae = vae.eval().requires_grad_(False)
        self.dit = dit.eval().requires_grad_(False)
        self.text_encoder = text_encoder
        self.image_encoder = image_encoder
        self.config = config or PipelineConfig()
        self.dtype = dtype
        self.field_dtype = field_dtype or dtype
        self.known_prompts = known_prompts if text_encoder is not None else None
        self.view_net = None if view_net is None else view_net.eval().requires_grad_(False)
        if text_encoder is None and image_encoder is None:
            raise PipelineError("a pipeline needs a text encoder, an image encoder or both")
        for name, encoder in (("text", text_encoder), ("image", image_encoder)):
            if encoder is None:
                continue
            dims = (encoder.token_dim, encoder.pooled_dim)
            expected = (dit.config.cond_dim, dit.config.pooled_dim)
            if dims != expected:
                raise PipelineError(
                    f"the {name} encoder gives (token, pooled) dims {dims} but the DiT was "
                    f"trained on {expected}"
                )
        self.defaults = GenerationOptions(**self.config.defaults)
        unknown = sorted(set(self.config.image_defaults) - set(OPTION_RANGES))
        if unknown:
            raise PipelineError(f"{PIPELINE_FILE}: unknown image_defaults {unknown}")
        self.image_defaults = dataclasses.replace(self.defaults, **self.config.image_defaults)

    # -- loading and saving ---------------------------------------------------------------

    @classmethod
    def from_pretrained(
        cls,
        path: str | Path | None = None,
        device: str | torch.device = "auto",
        dtype: str = "auto",
    ) -> Pipeline:
        """Load a pipeline folder (None: the default model packaged with gen3d);
        ``device``/``dtype`` as in gen3d's settings ("auto": CUDA with bf16 where supported,
        else CPU float32, with field queries in bf16 on CPUs that compute it natively)."""
        from dit.registry import load_dit
        from gen3d.device import resolve_device, resolve_dtype, resolve_field_dtype
        from gen3d.vocabulary import KnownPrompts
        from vae.registry import load_vae

        folder = resolve_model_path(path)
        config = PipelineConfig.load(folder)
        torch_device = device if isinstance(device, torch.device) else resolve_device(device)
        try:
            vae = load_vae(folder / "vae").to(torch_device)
            dit = load_dit(folder / "dit").to(torch_device)
        except (FileNotFoundError, ValueError, OSError) as error:
            raise PipelineError(f"{folder}: cannot load the models ({error})") from error
        return cls(
            vae,
            dit,
            _load_text_encoder(config.text_encoder, folder, torch_device),
            _load_image_encoder(config.image_encoder, folder, torch_device),
            config,
            dtype=resolve_dtype(dtype, torch_device),
            field_dtype=resolve_field_dtype(dtype, torch_device),
            known_prompts=KnownPrompts.load(folder / "conditioning"),
            view_net=load_view_net(folder, torch_device),
        )

    def save_pretrained(self, path: str | Path) -> Path:
        """Write the pipeline folder (weights as safetensors)."""
        from gen3d import __version__
        from gen3d.conditioning import SmallImageEncoder, default_text_encoder_path

        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        self.vae.save_pretrained(folder / "vae")
        self.dit.save_pretrained(folder / "dit")
        config = dataclasses.replace(self.config, defaults=dataclasses.asdict(self.defaults))
        if self.text_encoder is None:
            config.text_encoder = None
        elif Path(self.text_encoder.path).resolve() == default_text_encoder_path().resolve():
            config.text_encoder = "default"
        else:  # a local CLIP/T5 folder: copy it, so that the folder is self-contained
            target = folder / "conditioning" / "text"
            shutil.copytree(self.text_encoder.path, target, dirs_exist_ok=True)
            config.text_encoder = "bundled"
        if isinstance(self.image_encoder, SmallImageEncoder):
            self.image_encoder.save_pretrained(folder / "conditioning" / "image")
            config.image_encoder = "small"
        elif self.image_encoder is not None:
            raise PipelineError("only the built-in SmallImageEncoder can be saved in a pipeline")
        if self.known_prompts is not None:
            self.known_prompts.save(folder / "conditioning")
        if self.view_net is not None:
            self.view_net.save_pretrained(folder / VIEW_NET_FOLDER)
        data = {"gen3d_version": __version__, **dataclasses.asdict(config)}
        (folder / PIPELINE_FILE).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        return folder

    @property
    def device(self) -> torch.device:
        return next(self.dit.parameters()).device

    def to(self, device: str | torch.device, dtype: torch.dtype | None = None) -> Pipeline:
        """Move the models; a ``dtype`` sets both the compute and the field-query precision."""
        self.vae.to(device)
        self.dit.to(device)
        if self.text_encoder is not None:
            self.text_encoder.model.to(device)
        if self.image_encoder is not None:
            self.image_encoder.to(device)
        if self.view_net is not None:
            self.view_net.to(device)
        if dtype is not None:
            self.dtype = self.field_dtype = dtype
        return self

    # -- generation -----------------------------------------------------------------------

    def check_inputs(
        self, prompt: str | Sequence[str] | None, image: Any, options: dict[str, Any]
    ) -> tuple[list[str] | None, list[Any] | None, GenerationOptions]:
        """Validate everything before any work: exactly one of prompt or image, options in
        range, an encoder for the input."""
        unknown = sorted(set(options) - set(OPTION_RANGES))
        if unknown:
            raise PipelineError(unknown_names("options", unknown, OPTION_RANGES))
        if (prompt is None) == (image is None):
            raise PipelineError("give a prompt or an image (exactly one)")
        defaults = self.defaults if image is None else self.image_defaults
        merged = GenerationOptions(
            **{
                **dataclasses.asdict(defaults),
                **{k: v for k, v in options.items() if v is not None},
            }
        )
        if prompt is not None:
            prompts = [prompt] if isinstance(prompt, str) else list(prompt)
            if not prompts:
                raise PipelineError("the prompt list is empty")
            for text in prompts:
                if not isinstance(text, str) or not text.strip():
                    raise PipelineError(
                        "a prompt is empty: describe the object, e.g. 'a red chair'"
                    )
                if len(text) > 1000:
                    raise PipelineError(f"a prompt is {len(text)} characters; the limit is 1000")
            if self.text_encoder is None:
                raise PipelineError("this pipeline has no text encoder: give an image instead")
            if merged.refine_steps:
                raise PipelineError("refine_steps needs an image input to refine against")
            return [text.strip() for text in prompts], None, merged
        images = list(image) if isinstance(image, list | tuple) else [image]
        if self.image_encoder is None:
            raise PipelineError("this pipeline has no image encoder: give a prompt instead")
        if merged.refine_steps and not merged.texture_size:
            if options.get("refine_steps") is not None:
                raise PipelineError("refine_steps refines a texture: set texture_size > 0")
            # The pipeline's default refinement: vertex colours have no texture to refine.
            merged = dataclasses.replace(merged, refine_steps=0)
        return None, images, merged

    def __call__(
        self,
        prompt: str | Sequence[str] | None = None,
        image: Any = None,
        *,
        seed: int | Sequence[int] | None = None,
        callback: ProgressCallback | None = None,
        shape: Any = None,
        strength: float | None = None,
        keep_geometry: bool = False,
        keep_uvs: bool = True,
        up: str = "y",
        view: Any = None,
        straighten: bool = True,
        symmetry: bool = True,
        **options: Any,
    ) -> Asset | list[Asset]:
        """Generate one asset (a prompt or an image) or a list (a list of either).

        ``options``: steps, guidance, resolution, face_count, texture_size (see
        ``OPTION_RANGES``); unset ones take the pipeline's defaults. ``seed`` (one, or one
        per item) makes results reproducible; without it a random seed is drawn and recorded
        in each asset's metadata.

        ``shape`` (a mesh file, a ``trimesh.Trimesh`` or a ``gen3d.shape_input.ShapeInput``)
        starts every item from that mesh's latent, noised to ``strength`` (0-1, default
        ``DEFAULT_STRENGTH``, or ``DEFAULT_PAINT_STRENGTH`` with ``keep_geometry``).
        ``keep_geometry`` returns the mesh itself, painted with the generated colour, in its
        own units (``resolution`` and ``face_count`` then do not apply), baked into the mesh's
        own UVs when it has usable ones (inside the unit square; one part, or parts sharing
        one atlas) unless
        ``keep_uvs=False``. ``up`` names the mesh's up axis (``"y"``, or ``"z"`` for Z-up
        files); the model sees it upright, and a painted mesh comes back in its own axes.

        ``view``: the camera an image input was taken from, for ``refine_steps``: ``"auto"``
        (the default: estimated from the image and the mesh), ``"reference"`` (the view the
        image encoder was trained on) or ``(azimuth, elevation)`` in degrees
        (``gen3d.image_view``).

        ``straighten``: an image input taken with the camera held askew is turned upright
        first (the image encoder learnt upright objects): by its upright edges where they
        show (``gen3d.edge_tilt``), else a quick shape is sampled from it and its view
        estimated (``render.pose``); a photo turned 3-15 degrees is turned back
        (``straightened`` in the metadata: by how much). Not for painting (``shape``).

        ``symmetry``: refining from an image input, the photo's colours are carried round a
        round shape, or mirrored onto the far half of a mirror-symmetric one, where the photo
        does not show it (``render.symmetry``; False keeps the model's colours there).
        """
        prompts, images, opts = self.check_inputs(prompt, image, options)
        start_shape, strength = self.check_shape(shape, strength, keep_geometry, up)
        view = self.check_view(view, images is not None and opts.refine_steps > 0)
        items = prompts if prompts is not None else images
        names = [_image_name(item) for item in items] if images is not None else None
        seeds = self._seeds(seed, len(items))
        report = _Reporter(callback)
        timings: dict[str, float] = {}

        turned_back: list[float] = [0.0] * len(items)
        if images is not None and straighten and start_shape is None:
            started = time.perf_counter()
            images, turned_back = self._straighten(images, seeds, opts, report)
            items = images
            timings["straighten"] = time.perf_counter() - started

        started = time.perf_counter()
        report("encode", 0.0)
        cond, uncond, input_warnings = self._encode(prompts, images, names)
        familiarity = self._familiarity(prompts, cond)
        init = None if start_shape is None else self._encode_shape(start_shape)
        timings["encode"] = time.perf_counter() - started

        started = time.perf_counter()
        latents = self._sample(cond, uncond, seeds, opts, report, init=init, strength=strength)
        timings["sample"] = time.perf_counter() - started

        started = time.perf_counter()
        report("decode", 0.0)
        # In float32, like the query head's weights (it costs next to nothing); the field's
        # mesh and texture queries then run in field_dtype.
        with torch.no_grad():
            fields = with_query_dtype(self.vae.decode(latents), self.field_dtype)
        timings["decode"] = time.perf_counter() - started

        count = len(items)
        item_timings = [dict(timings) for _ in items]
        # Stage by stage (every mesh, then every texture), so that progress never goes back;
        # painting keeps the given mesh, so it has no mesh stage.
        meshes = [
            None
            if keep_geometry
            else self._mesh(fields[index], opts, item_timings[index], report, index, count)
            for index in range(count)
        ]
        for index in range(count):
            report("texture", index / count, {"item": index})
            if keep_geometry:
                meshes[index] = self._paint(
                    fields[index], start_shape, opts, item_timings[index], keep_uvs
                )
            else:
                meshes[index] = self._texture(
                    fields[index], meshes[index], opts, item_timings[index]
                )
        report("texture", 1.0, {"item": count - 1})

        assets = []
        for index, item in enumerate(items):
            mesh, refinement = meshes[index], {}
            if images is not None and opts.refine_steps:
                started = time.perf_counter()
                in_model_frame = start_shape is None  # a given shape faces its own way
                mesh, refinement = self._refine(
                    mesh,
                    item,
                    opts,
                    report,
                    view,
                    in_model_frame,
                    generated=not keep_geometry,
                    symmetry=symmetry,
                )
                item_timings[index]["refine"] = time.perf_counter() - started
            if keep_geometry:  # painted in the model's frame; back to the mesh's own
                mesh.vertices = start_shape.to_own_frame(mesh.vertices)
            source = {"prompt": item} if names is None else {"image": names[index]}
            metadata = {
                **source,
                "seed": seeds[index],
                **dataclasses.asdict(opts),
                "batch_size": len(items),
            }
            if start_shape is not None:
                metadata.update(
                    shape=start_shape.name, strength=strength, keep_geometry=keep_geometry, up=up
                )
                if keep_geometry and opts.texture_size:
                    metadata["kept_uvs"] = keep_uvs and start_shape.uv is not None
            metadata.update(refinement)
            if familiarity is not None:
                metadata["familiarity"] = familiarity[index].as_metadata()
            if input_warnings[index]:
                metadata["warnings"] = [input_warnings[index]]
            if turned_back[index]:
                metadata["straightened"] = round(turned_back[index], 1)
            assets.append(Asset(mesh, metadata, item_timings[index]))
        return (
            assets
            if isinstance(prompt, list | tuple) or isinstance(image, list | tuple)
            else assets[0]
        )

    # -- stages -----------------------------------------------------------------------------

    def _autocast(self) -> Any:
        enabled = self.device.type == "cuda" and self.dtype != torch.float32
        return torch.autocast(self.device.type, dtype=self.dtype, enabled=enabled)

    def _familiarity(self, prompts: list[str] | None, cond: Any) -> list[Any] | None:
        """How close each prompt is to the training captions (None without known prompts);
        a prompt unlike all of them gets a warning: the shape will be one the model knows."""
        if prompts is None or self.known_prompts is None:
            return None
        found = self.known_prompts.familiarity(cond.pooled)
        for prompt, item in zip(prompts, found, strict=True):
            if not item.familiar:
                log.warning("%s", item.warning(prompt))
        return found

    @staticmethod
    def _seeds(seed: int | Sequence[int] | None, count: int) -> list[int]:
        if seed is None:
            return [random.randrange(2**31) for _ in range(count)]
        seeds = [seed] if isinstance(seed, int) else list(seed)
        if len(seeds) == 1 and count > 1:
            seeds = [seeds[0] + offset for offset in range(count)]
        if len(seeds) != count:
            raise PipelineError(f"{len(seeds)} seeds for {count} items")
        for value in seeds:
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
                raise PipelineError(f"a seed must be an integer in 0..2^63-1, not {value!r}")
        return seeds

    def _straighten(
        self, images: list[Any], seeds: list[int], opts: GenerationOptions, report: _Reporter
    ) -> tuple[list[Any], list[float]]:
        """``images`` with those taken askew turned upright (``gen3d.images.straightened``),
        and by how many degrees each was turned back (0: left as it was)."""
        from gen3d.edge_tilt import edge_tilt
        from gen3d.image_view import prepared_photo
        from gen3d.images import cut_image

        report("straighten", 0.0)
        # Each distinct input (variations of one photo share it) read and cut out once for the
        # readings and the real run.
        keys = [str(image) if isinstance(image, str | Path) else id(image) for image in images]
        firsts = {key: index for index, key in reversed(list(enumerate(keys)))}
        distinct = sorted(firsts.values())
        cuts = {keys[index]: cut_image(images[index]) for index in distinct}
        photos = {
            key: prepared_photo(cut, REFINE_RESOLUTION, PREPARE_MARGIN) for key, cut in cuts.items()
        }
        low, high = STRAIGHTEN_ROLLS
        # First the upright edges: cheap, and to a tenth of a degree where they read at all.
        roll_of: dict[Any, float] = {}
        for key, photo in photos.items():
            tilt = edge_tilt(*photo)
            # A level camera looking down sees upright edges on either side lean towards
            # each other: a reading counts only where the opposite turn reads worse than none.
            if (
                tilt.strength >= STRAIGHTEN_EDGE_STRENGTH
                and tilt.mirrored < 1.0
                and low <= abs(tilt.roll) <= high
            ):
                roll_of[key] = tilt.roll
                log.info(
                    "%s looks turned %+.0f degrees (its upright edges): turned back",
                    cuts[key].name,
                    tilt.roll,
                )
        unread = [index for index in distinct if keys[index] not in roll_of]
        report("straighten", 1.0 - len(unread) / len(distinct))
        if unread:
            roll_of |= self._roll_by_outline(unread, keys, cuts, photos, seeds, opts, report)
        rolls = [roll_of[key] for key in keys]
        turned = [
            cuts[key].turned(roll) if roll else cuts[key]
            for key, roll in zip(keys, rolls, strict=True)
        ]
        return turned, rolls

    def _roll_by_outline(
        self,
        unread: list[int],
        keys: list[Any],
        cuts: dict[Any, Any],
        photos: dict[Any, Any],
        seeds: list[int],
        opts: GenerationOptions,
        report: _Reporter,
    ) -> dict[Any, float]:
        """The turn of each of ``unread`` (indices of distinct inputs whose edges gave no
        reading) by its outline: a quick shape is sampled from the photo and its view
        estimated with roll (0: level, or no reading)."""
        from gen3d.image_view import estimate_photo_view
        from render import RenderError

        roll_of = {keys[index]: 0.0 for index in unread}
        try:
            with _quietly():
                quick = self(
                    image=[cuts[keys[index]] for index in unread],
                    seed=[seeds[index] for index in unread],
                    steps=STRAIGHTEN_STEPS,
                    guidance=opts.guidance,
                    resolution=STRAIGHTEN_RESOLUTION,
                    face_count=STRAIGHTEN_FACES,
                    texture_size=0,
                    refine_steps=0,
                    straighten=False,
                )
        except EmptyShapeError as error:  # the quick shape, not the real one: go on without
            log.info("not straightened: the quick shape had no surface (%s)", error)
            return roll_of
        quick = quick if isinstance(quick, list) else [quick]
        low, high = STRAIGHTEN_ROLLS
        for done, (index, asset) in enumerate(zip(unread, quick, strict=True)):
            key = keys[index]
            try:
                estimate = estimate_photo_view(
                    asset.mesh,
                    photos[key],
                    PREPARE_MARGIN,
                    resolution=STRAIGHTEN_POSE_RESOLUTION,
                    polish=False,  # only the roll is wanted
                )
            except RenderError as error:  # e.g. a quick shape with no faces left
                log.info("%s not straightened: %s", cuts[key].name, error)
                continue
            gain = estimate.score - (estimate.level_score or estimate.score)
            if low <= abs(estimate.roll) <= high and gain >= STRAIGHTEN_MIN_GAIN:
                roll_of[key] = estimate.roll
                log.info(
                    "%s looks turned %+.0f degrees (its outline): turned back",
                    cuts[key].name,
                    estimate.roll,
                )
            report("straighten", (len(cuts) - len(unread) + done + 1) / len(cuts))
        return roll_of

    def _encode(
        self, prompts: list[str] | None, images: list[Any] | None, names: list[str] | None
    ) -> tuple[Any, Any, list[str | None]]:
        """The condition, the unconditional embedding, and per item what the user should know
        about how an image's object was cut out (None for prompts and clean cut-outs)."""
        from gen3d.images import prepare_input

        warnings: list[str | None] = [None] * len(prompts or images or [])
        with torch.no_grad():
            if prompts is not None:
                encoder, cond = self.text_encoder, self.text_encoder.encode(prompts)
            else:
                encoder = self.image_encoder
                size = int(encoder.config.image_size)
                prepared = [prepare_input(image, size) for image in images]
                for name, item in zip(names or [], prepared, strict=True):
                    if item.warning:
                        log.warning("%s: %s", name, item.warning)
                warnings = [item.warning for item in prepared]
                cond = encoder.encode([item.image for item in prepared])
            uncond = encoder.unconditional(len(cond)).to(self.device)
            return cond.to(self.device), uncond, warnings

    @staticmethod
    def check_shape(
        shape: Any = None,
        strength: float | None = None,
        keep_geometry: bool = False,
        up: str = "y",
    ) -> tuple[Any, float]:
        """The starting mesh (a ``ShapeInput``, loaded and checked; None without one) and the
        strength, before any work; raises ``PipelineError`` or ``MeshError`` saying why."""
        from gen3d.shape_input import load_shape

        if shape is None:
            if strength is not None or keep_geometry or up != "y":
                raise PipelineError("strength, keep_geometry and up need a starting shape (shape=)")
            return None, 1.0
        if strength is None:
            strength = DEFAULT_PAINT_STRENGTH if keep_geometry else DEFAULT_STRENGTH
        if isinstance(strength, bool) or not isinstance(strength, int | float):
            raise PipelineError(f"strength must be a number, not {strength!r}")
        if not 0.0 <= strength <= 1.0:
            raise PipelineError(
                f"strength={strength} is out of range: 0 keeps the shape, 1 ignores it"
            )
        return load_shape(shape, up), float(strength)

    @staticmethod
    def check_view(view: Any, refining: bool) -> Any:
        """The checked ``view`` ("auto" when None); only refinement against an image uses one."""
        from gen3d.image_view import ViewError, parse_view

        if view is None:
            return "auto"
        if not refining:
            raise PipelineError(
                "view is the camera an image was taken from, for refinement: it needs an image "
                "and refine_steps > 0"
            )
        try:
            return parse_view(view)
        except ViewError as error:
            raise PipelineError(str(error)) from None

    def _encode_shape(self, shape: Any) -> torch.Tensor:
        """The shape's latent, standardised as the DiT samples them."""
        from gen3d.shape_input import encode_shape

        latents = encode_shape(self.vae, shape)
        return (latents - self.config.latent_mean) / self.config.latent_std

    def _sample(
        self,
        cond: Any,
        uncond: Any,
        seeds: list[int],
        opts: GenerationOptions,
        report: _Reporter,
        init: torch.Tensor | None = None,
        strength: float = 1.0,
    ) -> torch.Tensor:
        from dit.sampling import SamplingCancelled, sample_latents

        if init is not None and strength == 0.0:  # the shape's own latent, nothing sampled
            report("sample", 1.0, {"step": 0, "steps": 0})
            latents = init.expand(len(seeds), *init.shape[1:])
            return latents.float() * self.config.latent_std + self.config.latent_mean
        generators = [torch.Generator(device=self.device).manual_seed(s) for s in seeds]

        def on_step(step: int, steps: int, t: float, latents: torch.Tensor) -> bool:
            return report("sample", step / steps, {"step": step, "steps": steps})

        # from a shape, only the last steps run (dit.sampling.sample_latents)
        steps = opts.steps if init is None else max(1, round(opts.steps * strength))
        report("sample", 0.0, {"step": 0, "steps": steps})
        try:
            with self._autocast():
                latents = sample_latents(
                    self.dit,
                    cond,
                    uncond,
                    steps=opts.steps,
                    guidance=opts.guidance,
                    shift=self.config.shift,
                    generator=generators,
                    init_latents=None if init is None else init.expand(len(seeds), *init.shape[1:]),
                    strength=strength,
                    callback=on_step,
                )
        except SamplingCancelled as error:
            raise GenerationCancelled(str(error)) from None
        return latents.float() * self.config.latent_std + self.config.latent_mean

    def _mesh(
        self,
        field_: Any,
        opts: GenerationOptions,
        timings: dict[str, float],
        report: _Reporter,
        index: int,
        count: int,
    ) -> Any:
        from gen3d.mesh import FieldError, clean_mesh, extract_hierarchical

        started = time.perf_counter()
        report("mesh", index / count, {"item": index})
        try:
            mesh = extract_hierarchical(field_, opts.resolution).mesh
        except FieldError as error:
            raise EmptyShapeError(
                f"the sampled shape could not be meshed: {error}; try another seed"
            ) from error
        mesh = clean_mesh(mesh, face_count=opts.face_count or None)
        timings["mesh"] = time.perf_counter() - started
        return mesh

    def _paint(
        self,
        field_: Any,
        shape: Any,
        opts: GenerationOptions,
        timings: dict[str, float],
        keep_uvs: bool,
    ) -> Any:
        """The given mesh's geometry painted with the field's colour, in the model's frame (the
        caller takes it back to the mesh's own units and axes, after any refinement). The
        colour is read on the field's own surface (``SurfaceColourField``), found by finite
        differences, which need float32's digits."""
        import trimesh

        from gen3d.mesh.field import SurfaceColourField
        from gen3d.mesh.texture import TextureError

        mesh = trimesh.Trimesh(
            shape.to_model_frame(shape.mesh.vertices), shape.mesh.faces, process=False
        )
        colour = SurfaceColourField(with_query_dtype(field_, torch.float32))
        try:
            mesh = self._texture(colour, mesh, opts, timings, shape.uv if keep_uvs else None)
        except TextureError as error:
            painting = _painting_error(error, shape)
            if painting is None:
                raise
            raise painting from error
        return mesh

    def _texture(
        self,
        field_: Any,
        mesh: Any,
        opts: GenerationOptions,
        timings: dict[str, float],
        uv: Any = None,
    ) -> Any:
        """The field's colour baked into a UV texture (new UVs, or ``uv``), or vertex colours
        (texture_size 0)."""
        from gen3d.mesh import bake_field_texture, vertex_colours

        started = time.perf_counter()
        if opts.texture_size:
            mesh = bake_field_texture(mesh, field_, texture_size=opts.texture_size, uv=uv)
        else:
            vertex_colours(field_, mesh)
        timings["texture"] = time.perf_counter() - started
        return mesh

    def _refine(
        self,
        mesh: Any,
        image: Any,
        opts: GenerationOptions,
        report: _Reporter,
        view: Any,
        in_model_frame: bool = True,
        generated: bool = True,
        symmetry: bool = True,
    ) -> tuple[Any, dict[str, Any]]:
        """The mesh with its texture refined against ``image``, and the asset's metadata on it:
        ``view``, the view it was seen from, ``light_contrast``, how uneven its fitted
        lighting was (0: even; 0.5: the shadows had half the light of the brightest parts),
        ``colour_cast``, the gain per channel its whole texture was white-balanced by, and
        ``symmetry``, what its shape is symmetric under and the share of its texels given
        colours carried from the photo's side (``_symmetry_metadata``).
        ``in_model_frame``: the mesh faces the way the model generates shapes, so the view
        net's reading of the photo (``view_net``) applies to it. ``generated``: the mesh
        was generated, not given to paint, and ``symmetry`` whether to carry its colours
        round or mirror them (``refine_from_photo``)."""
        from gen3d.image_view import estimate_photo_view, prepared_photo
        from render import RefinementCancelled

        def on_step(step: int, steps: int, loss: float) -> bool:
            return report("refine", step / steps, {"step": step, "steps": steps, "loss": loss})

        report("refine", 0.0, {"step": 0, "steps": opts.refine_steps})
        # Read and framed once, for the view estimate and the refinement alike.
        photo = prepared_photo(image, REFINE_RESOLUTION, PREPARE_MARGIN)
        if view == "auto":
            direction_prior = None
            if self.view_net is not None and in_model_frame:
                direction_prior = self.view_net.prior(photo[0])
            estimate = estimate_photo_view(
                mesh,
                photo,
                PREPARE_MARGIN,
                prior=self.config.reference_view,
                direction_prior=direction_prior,
            )
            seen_from, angles = {"source": "estimated", **estimate.as_metadata()}, estimate.camera
            if direction_prior is not None:
                # What the photo alone said, beside what was found: where they disagree, the
                # mesh outweighed the net (or the net was wrong).
                reading = direction_prior.most_likely()
                seen_from["view_net"] = {
                    "azimuth": round(reading[0], 1),
                    "elevation": round(reading[1], 1),
                }
            log.info(
                "%s seen from azimuth %.0f, elevation %.0f, roll %.0f (silhouette IoU %.2f)",
                _image_name(image),
                *angles,
                estimate.iou,
            )
        else:
            angles = self.config.reference_view if view == "reference" else view
            seen_from = {"source": "reference" if view == "reference" else "given"}
            seen_from.update(azimuth=float(angles[0]), elevation=float(angles[1]))
            if len(angles) > 2 and angles[2]:
                seen_from["roll"] = float(angles[2])
        try:
            refined, result = refine_from_photo(
                mesh,
                photo,
                angles,
                opts.refine_steps,
                trust_bake=self.config.trust_bake,
                generated=generated,
                symmetry=symmetry,
                callback=on_step,
            )
        except RefinementCancelled as error:
            raise GenerationCancelled(str(error)) from None
        return refined, {
            "view": seen_from,
            "light_contrast": round(result.light_contrast, 3),
            "highlights": len(result.highlights),
            "shadow_light": None if result.shadow_light is None else round(result.shadow_light, 3),
            "colour_cast": list(result.colour_cast),  # refine_from_photo balances by default
            "symmetry": _symmetry_metadata(result),
        }


def _symmetry_metadata(result: Any) -> dict[str, Any]:
    """What ``render.symmetry`` found of a refined asset's shape and did with it: ``turns``
    about the upright axis it is symmetric under (``round``: every one tried), the
    ``mirror`` plane its colours were reflected across (the azimuth of its normal; None:
    none), and the share of its texels ``carried`` from the photo's side."""
    from render.symmetry import TURNS

    turns = result.symmetric_turns
    mirror = result.mirror_plane
    return {
        "turns": turns,
        "round": len(turns) >= len(TURNS),
        "mirror": None if mirror is None else round(mirror, 1),
        "carried": round(result.carried, 3),
    }


def _painting_error(error: Exception, shape: Any) -> PipelineError | None:
    """An unwrapping failure while painting a mesh, with the ways round it that keep every
    face (decimating, the generic advice, would change the mesh); None for other errors."""
    from render import UnwrapError

    cause = error.__cause__
    if not isinstance(cause, UnwrapError):
        return None
    return PipelineError(
        f"cannot unwrap {shape.name} for a texture: {cause.fact}; paint it with vertex colours "
        "(texture_size 0) instead, or give it UVs of its own (one atlas), which painting bakes "
        "into without unwrapping"
    )


def reference_cameras(mesh_vertices: torch.Tensor, view: tuple[float, ...], size: int) -> Any:
    """The camera of ``view`` (azimuth, elevation[, roll]: the picture turned that many
    degrees counter-clockwise), framed on the mesh as ``gen3d.images.prepare_image`` frames
    an input's object (``Cameras.framed``)."""
    from render import Cameras

    cameras = Cameras.orbit([view[0]], view[1], resolution=size)
    if len(view) > 2 and view[2]:
        cameras = cameras.rolled(view[2])
    return cameras.framed(mesh_vertices, PREPARE_MARGIN)


def refine_from_photo(
    mesh: Any,
    photo: tuple[torch.Tensor, torch.Tensor],
    view: tuple[float, ...],
    steps: int,
    *,
    fit_lighting: bool = True,
    light_colour: bool = True,
    highlights: bool = True,
    shadows: bool = True,
    trust_bake: bool = False,
    generated: bool = False,
    colour_cast: bool = True,
    symmetry: bool = True,
    callback: Callable[[int, int, float], bool | None] | None = None,
) -> tuple[Any, Any]:
    """A copy of textured ``mesh`` whose texture is refined against ``photo`` (an input image
    as ``gen3d.image_view.prepared_photo(image, REFINE_RESOLUTION, PREPARE_MARGIN)`` gives
    it) seen from ``view`` (azimuth, elevation[, roll]; the object's pixels only; texels the view
    cannot see stay as baked), and the ``render.RefineResult`` (its ``light_contrast``: how
    uneven the photo's lighting was; ``highlights``: those taken out; ``shadow_light``: the
    light left in the cast shadows taken out, None if none).

    ``fit_lighting``: fit the photo's shading and refine the surface colour under it, so that
    the texture does not keep the photo's shadows (``render.lighting``; an evenly lit photo
    gets no shading, contrast about 0). False copies the photo's colours as they are.
    ``light_colour``: with ``fit_lighting``, fit how the light's colour changes over the
    object too (a warm lamp and a blue sky); False: grey light. ``highlights``: with
    ``fit_lighting``, take a glossy surface's highlights out of the photo first
    (``render.highlights``). ``shadows``: with ``fit_lighting``, find the shadows the photo's
    lamp casts from one part onto another and fit their darkness (``render.shadows``).
    ``trust_bake``: the texture is a trained model's bake, a fair guess at the surface colour
    (``PipelineConfig.trust_bake``): fit the light against it too and keep to it more firmly.
    ``generated``: the mesh was generated from the photo, so it is near the photographed object
    but not it: pixels its bake explains far worse than most are trusted less
    (``GENERATED_OUTLIER_SCALE``). ``colour_cast``: white-balance the whole texture to the
    photo first (``RefineSettings.colour_cast``): the bake's colour is a model's guess, and
    the sides the photo does not show would keep it. On bench_pose's 12 shapes refined from
    their estimated views it gained at every angle: generated meshes +0.37 / +0.81 dB at the
    photo's view and +0.46 / +0.89 at the back (seeds 0 / 1), meshes painted +1.1 / +1.5 and
    +1.1 / +1.3, painted under an orange lamp and a blue sky +3.2 and +3.2. ``symmetry``:
    where the shape is round about its upright axis (a bottle, a vase), carry the refined
    colours round to the sides the photo does not show (``RefineSettings.symmetry``)
    instead of leaving them the bake's; where it is its own mirror image across an upright
    plane (a car, a chair), mirror them onto the half the photo does not show."""
    import numpy as np

    from gen3d.mesh.texture import texture_image, textured_mesh
    from render import RefineSettings, RenderMesh, refine_texture

    colours, mask = photo
    reference, mask = colours[None], mask[None]
    render_mesh = RenderMesh.from_trimesh(mesh)
    if render_mesh.texture is None:
        raise PipelineError("refinement needs a textured mesh (texture_size > 0)")
    cameras = reference_cameras(render_mesh.vertices, view, REFINE_RESOLUTION)
    result = refine_texture(
        render_mesh,
        cameras,
        reference,
        mask,
        settings=RefineSettings(
            steps=steps,
            fit_lighting=fit_lighting,
            light_colour=light_colour,
            highlights=highlights,
            shadows=shadows,
            # A trusted bake guesses the surface colour: its ratio to the photo tells the
            # light on faces whose one normal the photo's own changes cannot read.
            light_from_texture=trust_bake,
            **({"anchor_weight": PHOTO_ANCHOR_WEIGHT} if trust_bake else {}),
            outlier_scale=GENERATED_OUTLIER_SCALE if generated else None,
            colour_cast=colour_cast,
            symmetry=symmetry,
            edge_margin=PHOTO_EDGE_MARGIN,
        ),
        callback=callback,
    )
    uv = np.asarray(mesh.visual.uv)
    refined = textured_mesh(mesh.vertices, mesh.faces, uv, texture_image(result.texture))
    return refined, result


class _Reporter:
    """Calls the user's progress callback and turns a False answer into a cancel."""

    def __init__(self, callback: ProgressCallback | None) -> None:
        self.callback = callback

    def __call__(self, stage: str, fraction: float, info: dict[str, Any] | None = None) -> bool:
        if self.callback is not None and self.callback(stage, fraction, info or {}) is False:
            where = f" at step {info['step']} of {info['steps']}" if info and "step" in info else ""
            raise GenerationCancelled(f"generation cancelled during {stage}{where}")
        return True


def _image_name(image: Any) -> str:
    from gen3d.images import CutImage

    if isinstance(image, CutImage):
        return image.name
    if isinstance(image, str | Path):
        return Path(image).name
    return type(image).__name__
