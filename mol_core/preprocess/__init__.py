"""Preprocessing: face alignment, dlib 68-point landmarks and TV-L1 flow, cached per video
in Zarr stores (see :mod:`mol_core.store.zarr_store` for the layout)."""

from ..store.keys import PreprocessSettings, cache_key, flow_name, store_path
from ..store.zarr_store import has_flow, open_store, store_status
from .alignment import alignment_transform, warp_to_crop
from .flow import tvl1_flow
from .landmarks import detect_landmarks
from .video import build_flow, build_store, preprocess_video

__all__ = [
    "PreprocessSettings",
    "alignment_transform",
    "build_flow",
    "build_store",
    "cache_key",
    "detect_landmarks",
    "flow_name",
    "has_flow",
    "open_store",
    "preprocess_video",
    "store_path",
    "store_status",
    "tvl1_flow",
    "warp_to_crop",
]
