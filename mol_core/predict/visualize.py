"""Pictures of what the model sees: flow in the standard colour-wheel coding, landmarks on
the aligned frames, and class probabilities, as a PNG contact sheet and an MP4."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..util.atomic import atomic_path


def _colour_wheel() -> np.ndarray:
    """The Middlebury colour wheel (Baker et al.): 55 hues, red-yellow-green-cyan-blue-magenta, RGB [55,3] in 0..255."""
    segments = [
        (15, (255, 0, 0), (255, 255, 0)),
        (6, (255, 255, 0), (0, 255, 0)),
        (4, (0, 255, 0), (0, 255, 255)),
        (11, (0, 255, 255), (0, 0, 255)),
        (13, (0, 0, 255), (255, 0, 255)),
        (6, (255, 0, 255), (255, 0, 0)),
    ]
    colours = []
    for count, start, end in segments:
        t = np.arange(count)[:, None] / count
        colours.append((1 - t) * np.asarray(start) + t * np.asarray(end))
    return np.concatenate(colours)


WHEEL = _colour_wheel()


def flow_to_colour(flow: np.ndarray, max_magnitude: float | None = None) -> np.ndarray:
    """Flow [2,H,W] (x, y) -> BGR uint8 [H,W,3]: hue = direction, saturation = magnitude
    relative to ``max_magnitude`` (default: the largest in this flow); no motion is white."""
    u, v = np.asarray(flow[0], np.float64), np.asarray(flow[1], np.float64)
    magnitude = np.hypot(u, v)
    scale = max_magnitude if max_magnitude else max(magnitude.max(), 1e-6)
    radius = np.clip(magnitude / scale, 0, 1)
    angle = np.arctan2(-v, -u) / np.pi  # -1..1
    position = (angle + 1) / 2 * (len(WHEEL) - 1)
    k0 = np.floor(position).astype(int)
    k1 = (k0 + 1) % len(WHEEL)
    f = (position - k0)[..., None]
    colour = (1 - f) * WHEEL[k0] + f * WHEEL[k1]
    colour = 255 - radius[..., None] * (255 - colour)  # white at the centre of the wheel
    return np.ascontiguousarray(colour[..., ::-1].astype(np.uint8))


def draw_landmarks(gray: np.ndarray, points: np.ndarray, scale: int = 2, colour=(0, 0, 255)) -> np.ndarray:
    """Grey frame [H,W] enlarged ``scale`` times, BGR, with the points drawn."""
    image = cv2.cvtColor(cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR), cv2.COLOR_GRAY2BGR)
    for x, y in np.asarray(points):
        cv2.circle(
            image,
            (int(round((x + 0.5) * scale - 0.5)), int(round((y + 0.5) * scale - 0.5))),
            max(1, scale // 2 + 1),
            colour,
            -1,
            lineType=cv2.LINE_AA,
        )
    return image


CAPTION = 18  # pixels of the white band above a tile that holds its caption


def _label(image: np.ndarray, text: str) -> np.ndarray:
    """``image`` [H,W,3] under a white band with ``text`` in black: a caption that never
    covers the picture, readable on any frame or flow colour."""
    band = np.full((CAPTION, image.shape[1], 3), 255, np.uint8)
    cv2.putText(band, text, (4, CAPTION - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([band, image])


def flow_limit(flows: np.ndarray) -> float:
    """The magnitude (pixels) that gets full colour: the largest of ``flows`` [N,2,H,W], at
    least 0.5 px (so that noise on a still face stays pale)."""
    return float(max(np.hypot(*np.asarray(flows, np.float64).transpose(1, 0, 2, 3)).max(), 0.5))


def overlay_tiles(
    frames: np.ndarray, landmarks: np.ndarray, predicted_flow: np.ndarray, tvl1_flow: np.ndarray, scale: int = 2
) -> list[np.ndarray]:
    """One BGR tile row per pair k: frame k+1 with predicted landmarks | predicted flow | TV-L1 flow,
    each under its caption; both flows coloured on the scale of :func:`flow_limit` of TV-L1's.

    frames [T,H,W] uint8 (the clip's crops); landmarks [T-1,68,2]; flows [T-1,2,H,W]."""
    limit = flow_limit(tvl1_flow)
    rows = []
    for k in range(len(landmarks)):
        face = draw_landmarks(frames[k + 1], landmarks[k], scale)
        size = face.shape[1::-1]
        ours = cv2.resize(flow_to_colour(predicted_flow[k], limit), size, interpolation=cv2.INTER_NEAREST)
        tvl1 = cv2.resize(flow_to_colour(tvl1_flow[k], limit), size, interpolation=cv2.INTER_NEAREST)
        rows.append(
            np.hstack(
                [_label(face, f"frame {k + 1}: MOL landmarks"), _label(ours, f"MOL flow {k}->{k + 1}"), _label(tvl1, f"TV-L1 flow {k}->{k + 1}")]
            )
        )
    return rows


def flow_legend(width: int, limit: float, diameter: int = 64) -> np.ndarray:
    """A legend strip, BGR uint8 [h,width,3]: the colour wheel (hue = direction of motion,
    white = none, full colour = ``limit`` px or more) and what it means."""
    radius = (diameter - 1) / 2
    ys, xs = np.mgrid[0:diameter, 0:diameter].astype(np.float64)
    wheel = flow_to_colour(np.stack([xs - radius, ys - radius]), radius)
    wheel[np.hypot(xs - radius, ys - radius) > radius] = 255
    strip = np.full((diameter + 8, width, 3), 255, np.uint8)
    strip[4 : 4 + diameter, 8 : 8 + diameter] = wheel
    lines = (
        "Flow colours: the hue is the direction a pixel moves (as from the wheel's centre),",
        f"white is no motion, full colour {limit:.2f} px or more (both flows on this scale).",
        "Red dots: the landmark head's 68 points.",
    )
    for i, text in enumerate(lines):
        cv2.putText(strip, text, (diameter + 20, 20 + 20 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return strip


def probability_panel(probabilities: dict[str, float], width: int, title: str, truth: str | None = None, subtitle: str = "") -> np.ndarray:
    """Horizontal bars of the class probabilities, BGR uint8 [h,width,3]; the predicted class
    in red, the true one (when known) marked "(truth)"."""
    top = 30 + (18 if subtitle else 0)
    height = top + 22 * len(probabilities)
    panel = np.full((height, width, 3), 255, np.uint8)
    cv2.putText(panel, title, (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    if subtitle:
        cv2.putText(panel, subtitle, (8, 38), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (60, 60, 60), 1, cv2.LINE_AA)
    best = max(probabilities, key=lambda name: probabilities[name])
    for i, (name, p) in enumerate(probabilities.items()):
        y = top + 22 * i
        cv2.rectangle(panel, (150, y + 4), (150 + int((width - 220) * p), y + 18), (60, 60, 200) if name == best else (170, 170, 170), -1)
        label = f"{name} (truth)" if name == truth else name
        cv2.putText(panel, label, (8, y + 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        cv2.putText(panel, f"{100 * p:.1f}%", (width - 64, y + 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return panel


def contact_sheet(
    rows: list[np.ndarray], probabilities: dict[str, float], title: str, limit: float, truth: str | None = None, subtitle: str = ""
) -> np.ndarray:
    """The probability panel, the tile rows, and the flow legend (``limit``: :func:`flow_limit`)."""
    width = rows[0].shape[1]
    return np.vstack([probability_panel(probabilities, width, title, truth, subtitle)] + rows + [flow_legend(width, limit)])


def write_png(image: np.ndarray, path: str | Path) -> Path:
    with atomic_path(path) as tmp:
        ok, data = cv2.imencode(".png", image)
        if not ok:
            raise OSError(f"cannot encode {path}")
        Path(tmp).write_bytes(data.tobytes())
    return Path(path)


def write_mp4(rows: list[np.ndarray], path: str | Path, fps: float = 4.0) -> Path:
    """One video frame per tile row (mp4v codec)."""
    height, width = rows[0].shape[:2]
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp = Path(str(tmp) + ".mp4")  # OpenCV picks the container from the suffix
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter.fourcc(*"mp4v"), fps, (width, height))
        if not writer.isOpened():
            raise OSError(f"OpenCV cannot write MP4 video to {path}")
        for row in rows:
            writer.write(row)
        writer.release()
        tmp.rename(str(tmp)[:-4])
    return path
