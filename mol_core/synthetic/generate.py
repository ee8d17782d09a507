"""Write the embedded synthetic dataset in the form of a real one, with exact ground truth.

Layout under ``root`` (CASME II-like, so the real loader path is exercised)::

    coding.csv                       Subject, Filename, OnsetFrame, ApexFrame, OffsetFrame,
                                     Action Units, Estimated Emotion (one row per video)
    {Subject}/{Filename}/img{N}.png  colour frames, N = first .. last frame number
    extra/ext{NN}/EP{MM}/img{N}.png  ``extra_subjects`` more identities, ``extra_videos``
                                     each, in no coding file and with no ground truth:
                                     unlabelled videos for a label-free pre-training
                                     (the ``folder`` loader) outside the LOSO subjects.
                                     ``part="subjects"`` writes all but these, and
                                     ``part="extra"`` only these, as ``{root}/ext{NN}/...``
                                     (the workflow makes the two parts in two jobs; the
                                     frames are those of ``part="all"``)
    ground_truth/{Subject}/{Filename}.npz
                                     flow float16 [N-1,2,H,W] for every consecutive pair
                                     (pixels; float16 keeps ~0.004 px at 4 px),
                                     landmarks float32 [N,68,2], frame_numbers int32 [N],
                                     head float64 [N,2,3] (each frame's rigid head
                                     motion, so the expression can be told apart)
    identities.csv                   how each subject was made
    synthetic.json                   the generator settings and package version

Everything is a deterministic function of the settings (seed included).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from itertools import combinations
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from .. import __version__
from ..errors import ConfigError
from ..util.atomic import atomic_path
from ..util.settings import from_fields
from .faces import SourceFace, load_source_faces
from .identity import Identity, draw_identity_params
from .layout import CODING_FILE, EXTRA_DIR, GROUND_TRUTH_DIR
from .motion import ACTION_UNITS, CLASSES, draw_motion
from .render import render_video


@dataclass(frozen=True)
class SyntheticSettings:
    """Size and difficulty of the synthetic dataset (the ``synthetic`` section of config.yaml)."""

    subjects: int = 8
    videos_per_class: int = 2
    frames: int = 16  # annotated frames, onset to offset
    pad_frames: int = 2  # neutral frames before the onset and after the offset
    height: int = 224
    width: int = 192
    eye_distance: float = 50.0  # eye-centre distance of the neutral face, pixels
    amplitude: tuple[float, float] = (2.5, 4.5)  # displacement at the apex, pixels
    head_motion_px: float = 0.3
    head_motion_deg: float = 0.15
    noise_sigma: float = 1.0  # sensor noise, grey levels
    distractor: float = 0.0  # probability that a video also moves random "others" points (a blink)
    classes: tuple[str, ...] = field(default=CLASSES)
    seed: int = 0
    extra_subjects: int = 0  # identities for pre-training only (under extra/), never in the coding file
    extra_videos: int = 2  # videos per extra identity (expressions drawn at random)

    def __post_init__(self):
        unknown = set(self.classes) - set(CLASSES)
        if unknown:
            raise ConfigError(f"unknown synthetic classes {sorted(unknown)}; known: {', '.join(CLASSES)}")
        if self.subjects < 1 or self.videos_per_class < 1:
            raise ConfigError("synthetic: subjects and videos_per_class must be at least 1")
        if self.extra_subjects < 0 or self.extra_videos < 1:
            raise ConfigError("synthetic: extra_subjects must be at least 0 and extra_videos at least 1")
        if not 0.0 <= self.distractor <= 1.0:
            raise ConfigError(f"synthetic: distractor is a probability in [0, 1], got {self.distractor}")
        if self.frames < 3:
            raise ConfigError("synthetic: frames must be at least 3 (onset, apex, offset)")

    @classmethod
    def from_dict(cls, values: dict) -> SyntheticSettings:
        """From the ``synthetic`` section of config.yaml (ConfigError for unknown keys)."""
        if isinstance(values, dict):
            values = {k: tuple(v) if k in ("amplitude", "classes") else v for k, v in values.items()}
        return from_fields(cls, values, "synthetic settings")


def subject_name(index: int) -> str:
    return f"sub{index + 1:02d}"


def extra_subject_name(index: int) -> str:
    return f"ext{index + 1:02d}"


def _parent_pairs(n_faces: int, n_subjects: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    pairs = list(combinations(range(n_faces), 2))
    out: list[tuple[int, int]] = []
    while len(out) < n_subjects:
        order = rng.permutation(len(pairs))
        out.extend(pairs[i] if rng.random() < 0.5 else pairs[i][::-1] for i in order)
    return out[:n_subjects]


def _make_subject(
    subject: str,
    parents: tuple[int, int],
    faces: list[SourceFace],
    settings: SyntheticSettings,
    root: Path,
    seed: np.random.SeedSequence,
    extra: bool = False,
) -> tuple[list[dict], dict]:
    """Render one identity's videos as ``root/{subject}/{video}``: the coding rows and the
    identity's description. ``extra``: ``extra_videos`` videos of random expressions, without
    ground truth (their rows are returned but not written)."""
    rng = np.random.default_rng(seed)
    params = draw_identity_params(rng, len(faces), parents)
    identity = Identity(subject, params, faces, settings.height, settings.width, settings.eye_distance)
    if extra:
        emotions = [settings.classes[i] for i in rng.integers(0, len(settings.classes), settings.extra_videos)]
    else:
        emotions = [c for c in settings.classes for _ in range(settings.videos_per_class)]
        emotions = [emotions[i] for i in rng.permutation(len(emotions))]
    rows = []
    n_files = settings.frames + 2 * settings.pad_frames
    for k, emotion in enumerate(emotions):
        video = f"EP{k + 1:02d}"
        first = int(rng.integers(1, 100))
        motion = draw_motion(
            rng,
            emotion,
            identity.landmarks,
            identity.up,
            settings.eye_distance,
            n_files,
            onset=settings.pad_frames,
            offset=settings.pad_frames + settings.frames - 1,
            amplitude=settings.amplitude,
            head_motion_px=settings.head_motion_px,
            head_motion_deg=settings.head_motion_deg,
            distractor=settings.distractor,
        )
        rendered = render_video(identity, motion, settings.noise_sigma, rng)
        folder = root / subject / video
        folder.mkdir(parents=True, exist_ok=True)
        numbers = np.arange(first, first + n_files, dtype=np.int32)
        for number, frame in zip(numbers, rendered.frames, strict=True):
            cv2.imwrite(str(folder / f"img{number}.png"), frame)
        if not extra:
            gt = root / GROUND_TRUTH_DIR / subject
            gt.mkdir(parents=True, exist_ok=True)
            np.savez_compressed(
                gt / f"{video}.npz",
                flow=rendered.flow.astype(np.float16),
                landmarks=rendered.landmarks,
                frame_numbers=numbers,
                head=rendered.head,
            )
        rows.append(
            {
                "Subject": subject,
                "Filename": video,
                "OnsetFrame": int(numbers[motion.onset]),
                "ApexFrame": int(numbers[motion.apex]),
                "OffsetFrame": int(numbers[motion.offset]),
                "Action Units": ACTION_UNITS[emotion],
                "Estimated Emotion": emotion,
            }
        )
    info = {
        "Subject": subject,
        "parent_a": faces[parents[0]].name,
        "parent_b": faces[parents[1]].name,
        **{k: json.dumps(v) if isinstance(v, (tuple, list)) else v for k, v in params.to_dict().items() if k != "parents"},
    }
    return rows, info


GENERATED_PARTS = ("all", "subjects", "extra")


def generate_dataset(
    root: str | Path, faces_dir: str | Path, settings: SyntheticSettings, n_jobs: int = 1, verbose: bool = True, part: str = "all"
) -> Path:
    """Generate the dataset into ``root`` (written to a temporary folder, then renamed):
    ``part`` "all" (the layout above), "subjects" (without ``extra/``) or "extra" (the extra
    identities only, directly under ``root``)."""
    if part not in GENERATED_PARTS:
        raise ConfigError(f"synthetic part must be one of {', '.join(GENERATED_PARTS)}, got {part!r}")
    if part == "extra" and not settings.extra_subjects:
        raise ConfigError("synthetic: part 'extra' needs extra_subjects > 0")
    root = Path(root)
    started = time.perf_counter()
    faces = load_source_faces(faces_dir, settings.eye_distance)
    # Child k of a SeedSequence does not depend on how many are spawned, and the parent pairs
    # only extend: the extra identities leave the LOSO subjects exactly as without them.
    n, n_extra = settings.subjects, settings.extra_subjects
    seeds = np.random.SeedSequence(settings.seed).spawn(n + 1 + n_extra)
    pairs = _parent_pairs(len(faces), n + n_extra, np.random.default_rng(seeds[n]))
    jobs = [(subject_name(i), pairs[i], seeds[i], False) for i in range(n)] if part != "extra" else []
    if part != "subjects":
        jobs += [(extra_subject_name(j), pairs[n + j], seeds[n + 1 + j], True) for j in range(n_extra)]
    if verbose:
        made = []
        if part != "extra":
            made.append(f"{n} subjects x {len(settings.classes) * settings.videos_per_class} videos")
        if part != "subjects" and n_extra:
            made.append(f"{n_extra} extra identities x {settings.extra_videos} videos")
        photographs = ", ".join(f.name for f in faces)
        print(f"synthetic: {' and '.join(made)} from {len(faces)} photographs ({photographs}), {n_jobs} worker(s)", flush=True)
    with atomic_path(root) as tmp:
        tmp.mkdir(parents=True)
        results = Parallel(n_jobs=n_jobs, verbose=0)(
            # the extra identities go under extra/, or directly under root when they are the part
            delayed(_make_subject)(name, parents, faces, settings, tmp / EXTRA_DIR if extra and part == "all" else tmp, seed, extra)
            for name, parents, seed, extra in jobs
        )
        coding = pd.DataFrame([row for (rows, _), job in zip(results, jobs, strict=True) if not job[3] for row in rows])
        if part != "extra":
            coding.to_csv(tmp / CODING_FILE, index=False)
        pd.DataFrame([info for _, info in results]).to_csv(tmp / "identities.csv", index=False)
        manifest = {
            "generator": "mol_core.synthetic",
            "version": __version__,
            "settings": asdict(settings),
            "part": part,
            "faces": [f.name for f in faces],
            "classes": list(settings.classes),
        }
        (tmp / "synthetic.json").write_text(json.dumps(manifest, indent=2))
    if verbose:
        videos = sum(len(rows) for rows, _ in results)
        print(f"synthetic: wrote {videos} videos to {root} in {time.perf_counter() - started:.1f} s", flush=True)
    return root
