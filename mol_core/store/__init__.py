"""The per-video preprocessing store (Zarr): keys and paths, reading and writing, locks and
HDF5 export. Light on purpose: reading a store imports neither OpenCV nor dlib."""

from .keys import PreprocessSettings, cache_key, flow_name, store_path
from .zarr_store import has_flow, open_store, store_status

__all__ = ["PreprocessSettings", "cache_key", "flow_name", "has_flow", "open_store", "store_path", "store_status"]
