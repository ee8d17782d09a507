"""2-D transforms on point sets and dense coordinate maps.

Conventions: points are float arrays [...,2] of (x, y) pixel coordinates with the pixel
centre at integer positions (OpenCV's convention); an affine transform is a float64 [2,3]
matrix ``M`` acting as ``M @ [x, y, 1]``.
"""

from __future__ import annotations

import cv2
import numpy as np


def apply_affine(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Map points [...,2] through an affine [2,3]."""
    points = np.asarray(points, dtype=np.float64)
    return points @ matrix[:, :2].T + matrix[:, 2]


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    return cv2.invertAffineTransform(np.asarray(matrix, dtype=np.float64))


def similarity_matrix(scale: float, angle_rad: float, tx: float, ty: float) -> np.ndarray:
    c, s = scale * np.cos(angle_rad), scale * np.sin(angle_rad)
    return np.array([[c, -s, tx], [s, c, ty]], dtype=np.float64)


def fit_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (scale, rotation, translation) mapping src [N,2] onto dst [N,2]."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    denom = (s**2).sum()
    if denom <= 0:
        raise ValueError("cannot fit a similarity to coincident points")
    a = (s * d).sum() / denom
    b = (s[:, 0] * d[:, 1] - s[:, 1] * d[:, 0]).sum() / denom
    rot = np.array([[a, -b], [b, a]])
    return np.hstack([rot, (mu_d - rot @ mu_s)[:, None]])


def pixel_grid(height: int, width: int) -> np.ndarray:
    """Coordinates of every pixel centre, float64 [H,W,2] (x, y)."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    return np.stack([xs, ys], axis=-1)


def delaunay_triangles(points: np.ndarray, width: int, height: int) -> np.ndarray:
    """Delaunay triangulation of points [N,2] inside a W x H canvas, as index triples [T,3]."""
    points = np.asarray(points, dtype=np.float64)
    margin = 4 * max(width, height)
    subdiv = cv2.Subdiv2D((-margin, -margin, width + 2 * margin, height + 2 * margin))
    for x, y in points:
        subdiv.insert((float(x), float(y)))
    triangles = []
    for tri in np.asarray(subdiv.getTriangleList()).reshape(-1, 3, 2):
        dist = np.linalg.norm(points[None, :, :] - tri[:, None, :], axis=-1)
        idx = dist.argmin(axis=1)
        if dist[np.arange(3), idx].max() < 1e-3 and len(set(idx)) == 3:
            triangles.append(idx)
    return np.array(triangles, dtype=np.int64)


def piecewise_affine_map(src_points: np.ndarray, dst_points: np.ndarray, triangles: np.ndarray, height: int, width: int) -> np.ndarray:
    """Dense map [H,W,2] sending each pixel of the src canvas to dst coordinates.

    Each triangle of ``src_points`` is mapped affinely onto the same triangle of
    ``dst_points``; pixels outside every triangle use the triangle whose centroid is nearest.
    """
    src_points = np.asarray(src_points, dtype=np.float64)
    dst_points = np.asarray(dst_points, dtype=np.float64)
    labels = np.full((height, width), -1, dtype=np.int32)
    matrices = np.empty((len(triangles), 2, 3))
    for i, tri in enumerate(triangles):
        matrices[i] = cv2.getAffineTransform(src_points[tri].astype(np.float32), dst_points[tri].astype(np.float32))
        cv2.fillConvexPoly(labels, np.round(src_points[tri] * 16).astype(np.int32), i, shift=4)
    grid = pixel_grid(height, width)
    if (labels < 0).any():
        centroids = src_points[triangles].mean(axis=1)
        missing = np.nonzero(labels < 0)
        pts = grid[missing]
        labels[missing] = np.linalg.norm(pts[:, None, :] - centroids[None], axis=-1).argmin(1)
    m = matrices[labels]  # [H,W,2,3]
    return np.einsum("hwij,hwj->hwi", m[..., :2], grid) + m[..., 2]


def bilinear_sample(image: np.ndarray, coords: np.ndarray) -> np.ndarray:
    """Sample ``image`` [H,W] or [H,W,C] at float coords [...,2] (x, y) in float64.

    Exact bilinear interpolation (``cv2.remap`` quantises coordinates to 1/32 px); points
    outside the image take the nearest border value.
    """
    height, width = image.shape[:2]
    x = np.clip(coords[..., 0], 0, width - 1)
    y = np.clip(coords[..., 1], 0, height - 1)
    x0 = np.minimum(np.floor(x).astype(np.int64), width - 2)
    y0 = np.minimum(np.floor(y).astype(np.int64), height - 2)
    fx, fy = x - x0, y - y0
    # The four neighbours by flat index (np.take on rows is faster than 2-D fancy indexing).
    rows = np.asarray(image, dtype=np.float64).reshape(height * width, -1)
    if image.ndim == 3:
        fx, fy = fx[..., None], fy[..., None]
    else:
        rows = rows[:, 0]
    i = y0 * width + x0
    top = rows.take(i, axis=0)
    top += (rows.take(i + 1, axis=0) - top) * fx
    bottom = rows.take(i + width, axis=0)
    bottom += (rows.take(i + width + 1, axis=0) - bottom) * fx
    top += (bottom - top) * fy
    return top
