"""Feed damaged meshes, images and prompt files to the checks users' files meet; each must be
accepted or refused with a clear error, never crash, hang or run away with memory.

    .venv/bin/python scripts/fuzz_inputs.py --cases 400 --seed 7
    .venv/bin/python scripts/fuzz_inputs.py --replay mesh:rabbit.obj:7:123

Each case takes one good file (the real meshes in ``tests/fixtures/meshes/real``, small PNG,
JPEG, WebP and HEIF images drawn here, a prompt file of each format), damages its bytes in one of
the ways files get damaged (cut short, bytes flipped, a run zeroed, a run pasted from
elsewhere in the file, a run deleted) and hands the result to ``server.uploads.accept_mesh``
or ``accept_image`` (the checks every upload meets before it is queued: a 4xx problem is a
refusal) or ``gen3d.batch.read_items`` (a BatchError is a refusal). The upload checks run the
same readers as the CLI and the pipeline (``gen3d.shape_input.load_shape``, ``gen3d.images``),
so this covers them too.

Each case runs in a forked child with a memory cap (3 GiB of address space beyond what the
parent held) and a time limit, so a hang or a runaway allocation is reported as one, not
suffered. A failing case prints its id; ``--replay`` runs
it again in this process, with the traceback. The test suite runs a fixed sample
(tests/server/test_fuzzed_uploads.py); run more here after touching a reader.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import random
import resource
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
MESHES = ROOT / "tests" / "fixtures" / "meshes" / "real"
IMAGE_FORMATS = ("PNG", "JPEG", "WEBP", "HEIF")
#: the largest of the fixture meshes is 660 KB; one damaged copy must not need more address
#: space than this beyond what the process held when it forked.
MEMORY_HEADROOM_BYTES = 3 * 1024**3
TIME_LIMIT_S = 60.0
#: prompt files for ``gen3d batch``, one of each format, using the options a row may set
PROMPT_FILES = {
    "prompts.txt": "# chairs first\na red wooden chair\n\na tall blue vase with handles\n",
    "prompts.csv": (
        "prompt,seed,face_count,texture_size\n"
        '"a lamp, brass, with a green shade",3,2000,512\n'
        "a round table,4,0,0\n"
        '"a mug with a ""quoted""\nname",,,\n'
    ),
    "prompts.jsonl": (
        '{"prompt": "a small stool", "seed": 7, "guidance": 5.0}\n'
        '{"prompt": "a red teapot", "steps": 12, "texture_size": 256}\n'
    ),
}
KINDS = ("mesh", "image", "prompts")

ACCEPTED, REFUSED = "accepted", "refused"
CRASHED, HUNG, KILLED = "crashed", "hung", "killed"  # the three failures


@dataclass(frozen=True)
class Case:
    """One damaged file: ``kind:name:seed:index`` names it, and rebuilds it exactly."""

    kind: str  # "mesh", "image" or "prompts"
    name: str  # a fixture mesh's file name, an image format or a prompt file's name
    seed: int
    index: int

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.name}:{self.seed}:{self.index}"

    @classmethod
    def parse(cls, text: str) -> Case:
        kind, name, seed, index = text.rsplit(":", 3)
        if kind not in KINDS:
            raise ValueError(f"{text!r}: a case id is kind:name:seed:index, kind one of {KINDS}")
        return cls(kind, name, int(seed), int(index))


@dataclass(frozen=True)
class Outcome:
    case: Case
    result: str  # ACCEPTED, REFUSED or a failure
    detail: str  # the problem's status and message, or what went wrong
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return self.result not in (ACCEPTED, REFUSED)


def good_image(fmt: str) -> bytes:
    """A small picture of an object on a plain backdrop, as a user would send one."""
    from pillow_heif import register_heif_opener

    register_heif_opener()  # HEIF: the format phones save, which uploads accept
    image = Image.new("RGB", (96, 96), (235, 235, 230))
    draw = ImageDraw.Draw(image)
    draw.ellipse((20, 14, 76, 70), fill=(180, 40, 30))
    draw.rectangle((40, 60, 56, 86), fill=(60, 90, 160))
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **({} if fmt == "PNG" else {"quality": 90}))
    return buffer.getvalue()


def original(kind: str, name: str) -> bytes:
    if kind == "image":
        return good_image(name)
    if kind == "prompts":
        return PROMPT_FILES[name].encode()
    return (MESHES / name).read_bytes()


def damaged(data: bytes, rng: random.Random) -> bytes:
    """``data`` with one kind of damage, chosen and placed by ``rng``."""
    out = bytearray(data)
    size = len(out)
    start = rng.randrange(size)
    run = min(size - start, rng.choice((1, 4, 16, 64, 512)))
    damage = rng.randrange(5)
    if damage == 0:  # cut short: an interrupted upload or copy
        return bytes(out[: rng.randrange(size)])
    if damage == 1:  # bit rot: a few bytes anywhere
        for _ in range(rng.randrange(1, 9)):
            out[rng.randrange(size)] = rng.randrange(256)
    elif damage == 2:  # a zeroed run: a bad sector
        out[start : start + run] = bytes(run)
    elif damage == 3:  # a run pasted over from elsewhere in the file
        source = rng.randrange(size)
        out[start : start + run] = data[source : source + run].ljust(run, b"\0")
    else:  # a run deleted: everything after it shifts
        del out[start : start + run]
    return bytes(out)


def case_bytes(case: Case) -> bytes:
    if case.index < 0:  # the original itself, as warm_up checks it
        return original(case.kind, case.name)
    rng = random.Random(f"{case.id}")  # the id alone rebuilds the case
    return damaged(original(case.kind, case.name), rng)


def check(case: Case, results_dir: Path) -> tuple[str, str]:
    """Run one case through the upload check (or, for a prompt file, ``gen3d batch``'s
    reader); raises anything that is not a 4xx Problem (or a BatchError)."""
    from gen3d.batch import BatchError, read_items
    from gen3d.settings import Settings
    from server.problems import Problem
    from server.uploads import accept_image, accept_mesh

    data = case_bytes(case)
    if case.kind == "prompts":
        prompt_file = results_dir / f"{case.index}-{case.name}"
        prompt_file.write_bytes(data)
        try:
            items = read_items(prompt_file)
        except BatchError as error:
            return REFUSED, str(error)
        finally:
            prompt_file.unlink()
        failed = sum(item.status == "failed" for item in items)  # bad lines, named
        return ACCEPTED, f"{failed} of {len(items)} items failed" if failed else ""
    limits = Settings.model_fields  # the service's own default limits
    try:
        if case.kind == "mesh":
            max_faces = limits["max_mesh_faces"].default
            accept_mesh(data, case.name, max_faces=max_faces, results_dir=results_dir)
        else:
            max_pixels = limits["max_image_pixels"].default
            accept_image(data, max_pixels=max_pixels, results_dir=results_dir)
    except Problem as problem:
        if not 400 <= problem.status < 500 or not str(problem.detail).strip():
            raise
        return REFUSED, f"{problem.status} {problem.code}: {problem.detail}"
    return ACCEPTED, ""


def _address_space_in_use() -> int:
    """This process's virtual memory in bytes (Linux; 0 where /proc is missing)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0
    return pages * resource.getpagesize()


def _child(case: Case, results_dir: str, send: Callable) -> None:
    # Headroom over what the fork inherited, not a fixed cap: a test worker that has loaded
    # models already holds gigabytes of address space, and under a fixed cap every allocation
    # failed (C++ readers then abort).
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = _address_space_in_use() + MEMORY_HEADROOM_BYTES
    resource.setrlimit(
        resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard)
    )
    try:
        send(check(case, Path(results_dir)))
    except BaseException:
        send((CRASHED, traceback.format_exc(limit=-4)))


def run_case(case: Case, results_dir: Path, time_limit: float = TIME_LIMIT_S) -> Outcome:
    """One case in a forked child: forking keeps the parent's imports, so a case costs its
    own work only, and a hang or a runaway allocation stays in the child."""
    started = time.perf_counter()
    fork = multiprocessing.get_context("fork")
    receive, send = fork.Pipe(duplex=False)
    child = fork.Process(target=_child, args=(case, str(results_dir), send.send))
    child.start()
    send.close()
    ready = receive.poll(time_limit)
    if not ready:
        child.kill()
        child.join()
        return Outcome(case, HUNG, f"no answer in {time_limit:.0f} s")
    try:
        result, detail = receive.recv()
    except EOFError:  # the child died without a word: the memory cap, or a signal
        child.join()
        return Outcome(case, KILLED, f"the child ended with exit code {child.exitcode}")
    child.join()
    return Outcome(case, result, detail, time.perf_counter() - started)


def cases(kinds: Iterable[str], count: int, seed: int) -> list[Case]:
    """``count`` cases spread evenly over the originals of each kind."""
    chosen: list[Case] = []
    for kind in kinds:
        names = {"image": IMAGE_FORMATS, "prompts": sorted(PROMPT_FILES)}.get(kind)
        names = names or sorted(path.name for path in MESHES.iterdir())
        chosen += [Case(kind, names[i % len(names)], seed, i) for i in range(count)]
    return chosen


def warm_up(chosen: list[Case], results_dir: Path) -> None:
    """Check each undamaged original here, in the parent, before any child is forked: the
    readers load parts of themselves on first use (seconds), which every child would
    otherwise repeat, and an original that is refused (or a prompt file with a bad line)
    would make its cases meaningless."""
    for kind, name in sorted({(case.kind, case.name) for case in chosen}):
        result, detail = check(Case(kind, name, 0, -1), results_dir)
        if result != ACCEPTED or detail:
            raise SystemExit(f"the undamaged {kind} {name} does not read cleanly ({detail})")


def fuzz(chosen: list[Case], *, progress: bool = False) -> list[Outcome]:
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="gen3d-fuzz-") as results_dir:
        warm_up(chosen, Path(results_dir))
        for number, case in enumerate(chosen, 1):
            outcomes.append(run_case(case, Path(results_dir)))
            if progress and (number % 25 == 0 or number == len(chosen)):
                failed = sum(outcome.failed for outcome in outcomes)
                print(f"{number}/{len(chosen)} cases, {failed} failed", file=sys.stderr)
    return outcomes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=200, help="cases per kind (default 200)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kinds", default=",".join(KINDS), help="a list of mesh, image, prompts")
    parser.add_argument("--replay", metavar="CASE_ID", help="run one case here, traceback shown")
    args = parser.parse_args()
    if args.replay:
        with tempfile.TemporaryDirectory() as results_dir:
            print(check(Case.parse(args.replay), Path(results_dir)))
        return 0
    kinds = [kind.strip() for kind in args.kinds.split(",") if kind.strip()]
    if args.cases < 1 or not kinds or not set(kinds) <= set(KINDS):
        parser.error(f"--cases must be at least 1 and --kinds a list of {', '.join(KINDS)}")
    started = time.perf_counter()
    outcomes = fuzz(cases(kinds, args.cases, args.seed), progress=True)
    tally = Counter((outcome.case.kind, outcome.result) for outcome in outcomes)
    elapsed = time.perf_counter() - started
    print(
        f"{len(outcomes)} cases in {elapsed:.0f} s: "
        + ", ".join(f"{kind} {result} {n}" for (kind, result), n in sorted(tally.items()))
    )
    slowest = sorted(outcomes, key=lambda outcome: -outcome.seconds)[:3]
    print("slowest: " + ", ".join(f"{o.case.id} {o.seconds:.1f} s ({o.result})" for o in slowest))
    for outcome in outcomes:
        if outcome.failed:
            print(f"\nFAILED {outcome.case.id} ({outcome.result})\n{outcome.detail}")
    return 1 if any(outcome.failed for outcome in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
