"""Preprocess one video: a store of aligned frames and landmarks, then the TV-L1 flow of the
frame pairs a clip sampling needs. Both steps reuse what the cache already holds."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import zarr
from joblib import Parallel, delayed

from ..clips.sampling import Sampling
from ..errors import DataError, NoFaceError
from ..store.keys import PreprocessSettings, flow_name, plain, source_fingerprint
from ..store.lock import entry_lock
from ..store.zarr_store import add_flow, flow_problem, open_store, store_status, write_skipped, write_store
from ..util.video_io import read_gray_frames
from .alignment import alignment_transform, frame_transforms, transform_landmarks, warp_to_crop
from .detector import HogFaceDetector, build_detector
from .flow import tvl1_flow
from .landmarks import predict_landmarks
from .step_result import StepResult, VideoResult


@dataclass(frozen=True)
class FoundFace:
    """Where a video's face was first found: the frame index, the detector's name, its box
    (left, top, right, bottom; frame pixels) and the 68 landmarks [68,2] in that frame."""

    frame: int
    detector: str
    box: tuple[float, float, float, float]
    landmarks: np.ndarray


def find_face(frames: np.ndarray, settings: PreprocessSettings) -> FoundFace:
    """The first frame with a face: HOG over the frames in order, then the CNN detector on
    the first ``cnn_frames``."""
    hog = HogFaceDetector(settings.hog_upsample)
    for index, frame in enumerate(frames):
        boxes = hog.detect(frame)
        if boxes:
            return FoundFace(index, hog.name, boxes[0], predict_landmarks(frame, boxes[0], settings.landmark_upscale))
    if settings.cnn_fallback:
        cnn = build_detector(settings.hog_upsample, cnn_fallback=True).detectors[-1]
        for index, frame in enumerate(frames[: settings.cnn_frames]):
            boxes = cnn.detect(frame)
            if boxes:
                return FoundFace(index, cnn.name, boxes[0], predict_landmarks(frame, boxes[0], settings.landmark_upscale))
    raise NoFaceError(f"no face found in any of the {len(frames)} frames")


def track_landmarks(frames: np.ndarray, face: FoundFace, upscale: int) -> np.ndarray:
    """dlib landmarks [T,68,2] in every frame's own pixels. The face box found on frame
    ``face.frame`` is never detected again: going outwards from that frame, each frame's box
    is that box moved by the shift of the landmarks' mean from the found frame to its
    neighbour towards it, so the box follows the head without the detector's own jitter."""
    out = np.empty((len(frames), 68, 2), np.float32)
    out[face.frame] = face.landmarks
    centre = face.landmarks.mean(0)
    left, top, right, bottom = face.box
    for order in (range(face.frame + 1, len(frames)), range(face.frame - 1, -1, -1)):
        previous = face.frame
        for t in order:
            dx, dy = out[previous].mean(0) - centre
            out[t] = predict_landmarks(frames[t], (left + dx, top + dy, right + dx, bottom + dy), upscale)
            previous = t
    return out


def align_video(frames: np.ndarray, face: FoundFace, settings: PreprocessSettings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Aligned crops uint8 [T,size,size], their landmarks float32 [T,68,2] (crop pixels) and
    the transforms [T,2,3] (frame -> crop) under ``settings.align``
    (:mod:`mol_core.preprocess.alignment`). Per frame or smoothed: each frame's dlib
    landmarks, mapped by its transform. Per video: dlib run again on the crops, from one box."""
    size = settings.size
    if settings.align == "per_video":
        transform = alignment_transform(face.landmarks, size, settings.box_enlarge)
        crops = np.stack([warp_to_crop(f, transform, size) for f in frames])
        points = crop_landmarks(crops, transform_landmarks(face.landmarks, transform), settings.landmark_upscale)
        return crops, points, np.repeat(transform[None], len(frames), axis=0)
    landmarks = track_landmarks(frames, face, settings.landmark_upscale)
    try:
        transforms = frame_transforms(landmarks, settings.align, size, settings.box_enlarge, settings.align_sigma, face.frame)
    except ValueError as error:  # a frame whose eye centres coincide: the face was lost
        raise DataError(f"per-frame alignment failed: {error}") from error
    crops = np.stack([warp_to_crop(f, m, size) for f, m in zip(frames, transforms, strict=True)])
    points = np.stack([transform_landmarks(p, m) for p, m in zip(landmarks, transforms, strict=True)])
    return crops, points, transforms


def crop_landmarks(crops: np.ndarray, fallback_landmarks: np.ndarray, upscale: int) -> np.ndarray:
    """dlib landmarks [T,68,2] on aligned crops, all from one face box (found on the first
    crop, else the box of the transformed landmarks), so the box itself never jitters."""
    boxes = HogFaceDetector(0).detect(crops[0])
    if boxes:
        box = boxes[0]
    else:
        lo, hi = fallback_landmarks.min(0), fallback_landmarks.max(0)
        box = (float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]))
    return np.stack([predict_landmarks(crop, box, upscale) for crop in crops])


def compute_flows(crops: np.ndarray, pairs: list[tuple[int, int]], flow_params: dict, threads: int) -> np.ndarray:
    """TV-L1 for each pair [P,2,H,W], ``threads`` pairs at a time (OpenCV itself held to one
    thread, so cores are not oversubscribed)."""
    if not pairs:
        return np.zeros((0, 2) + crops.shape[1:], np.float32)
    previous = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        flows = Parallel(n_jobs=max(1, threads), backend="threading")(delayed(tvl1_flow)(crops[a], crops[b], **flow_params) for a, b in pairs)
    finally:
        cv2.setNumThreads(previous)
    return np.stack(flows)


def reuse_problem(store: str | Path, fingerprint: str) -> str | None:
    """Why ``store`` cannot be reused for sources with ``fingerprint`` (absent, partial,
    damaged, made from other sources), or None when it can (complete or skipped)."""
    status, detail = store_status(store)
    if status == "invalid":
        return detail
    made_from = zarr.open_group(str(store), mode="r").attrs.get("fingerprint")
    if made_from != fingerprint:
        return f"{store}: its sources changed (frame files or coding row)"
    return None


def build_store(frame_paths: list[str], store: str | Path, settings: PreprocessSettings, source: dict) -> StepResult:
    """Make sure ``store`` holds the aligned frames and landmarks of the video (or records why
    it cannot). Reuses a complete or skipped store made from the same sources
    (:func:`mol_core.store.keys.source_fingerprint` of the frame files and of ``source``'s
    onset, apex and offset); rebuilds a partial or damaged one, or one whose sources
    changed."""
    started = time.perf_counter()
    source = {k: plain(v) for k, v in source.items()}
    fingerprint = source_fingerprint(frame_paths, source)
    # Stores are written whole and renamed, so reading one needs no lock (a read-only cache
    # serves as it is); the lock is taken to build, and the check repeated under it (another
    # job may have built the store while this one waited).
    if reuse_problem(store, fingerprint) is not None:
        with entry_lock(store):
            why = reuse_problem(store, fingerprint)
            if why is not None:
                reason = make_store(frame_paths, store, settings, source, fingerprint)
                return StepResult(
                    "skipped" if reason else "complete",
                    reason,
                    reused=False,
                    rebuilt="" if why.endswith(": absent") else why,
                    seconds=time.perf_counter() - started,
                )
    status, detail = store_status(store)
    return StepResult(status, detail, seconds=time.perf_counter() - started)


def make_store(frame_paths: list[str], store: str | Path, settings: PreprocessSettings, source: dict, fingerprint: str) -> str:
    """Read the frames, find the face, align and write the store (or a skipped one with the
    reason): the reason it was skipped, or ''."""
    # Absolute frame paths: a workflow in another folder sharing the cache finds them.
    attrs = {
        "source": {**source, "frames": [os.path.abspath(p) for p in map(str, frame_paths)]},
        "fingerprint": fingerprint,
        "params": settings.store_params(),
    }
    try:
        frames = read_gray_frames(frame_paths)
        face = find_face(frames, settings)
        crops, crop_points, transforms = align_video(frames, face, settings)
    except DataError as error:
        write_skipped(store, str(error), attrs)
        return str(error)
    attrs.update(
        align=settings.align,
        detection={"frame": int(face.frame), "detector": face.detector},
        frame_size=[int(frames.shape[2]), int(frames.shape[1])],
    )
    if settings.align == "per_video":
        attrs["transform"] = transforms[0].tolist()
    else:
        attrs["transforms"] = transforms.tolist()
    write_store(store, crops, crop_points, attrs)
    return ""


def build_flow(
    store: str | Path, sampling: Sampling, settings: PreprocessSettings, threads: int = 1, apex_index: int | None = None
) -> StepResult:
    """Make sure a complete ``store`` holds the flow of ``sampling``'s pairs (the step names
    the flow and its pairs); a video that gives no clip (shorter than the clip length, no
    apex for onset_apex) is skipped. ``apex_index``: the apex's position in the stored frames."""
    started = time.perf_counter()
    result = StepResult("complete", flow=flow_name(sampling, settings))
    status, detail = store_status(store)
    if status != "complete":
        return result.skipped(detail)
    n_frames = open_store(store)["frames"].shape[0]
    reason = sampling.why_no_clip(n_frames, apex_index)
    if reason:
        return result.skipped(reason)
    pairs = sampling.pairs(n_frames, apex_index)
    result = replace(result, pairs=len(pairs))
    if flow_problem(store, result.flow) is not None:  # a complete one is read without a lock
        with entry_lock(f"{store}.{result.flow}"):
            problem = flow_problem(store, result.flow)
            if problem:
                crops = open_store(store)["frames"][:]
                params = settings.flow_params()
                flows = compute_flows(crops, pairs, params["tvl1"], threads)
                attrs = {"params": params, "sampling": sampling.name}
                add_flow(store, result.flow, np.array(pairs, np.int32), flows, attrs, settings.flow_dtype)
                rebuilt = "" if problem.endswith(f"no flow {result.flow}") else problem
                result = replace(result, reused=False, rebuilt=rebuilt)
    return replace(result, seconds=time.perf_counter() - started)


def preprocess_video(
    frame_paths: list[str],
    store: str | Path,
    settings: PreprocessSettings,
    samplings: list[Sampling],
    source: dict,
    threads: int = 1,
    apex_index: int | None = None,
) -> VideoResult:
    """Store and flows of one video; skipped (with the reason) if the store or any flow
    could not be made."""
    made = build_store(frame_paths, store, settings, source)
    flows = [build_flow(store, sampling, settings, threads, apex_index) for sampling in samplings]
    return VideoResult(made, {flow.flow: flow for flow in flows})
