"""Export a dataset's preprocessing to one HDF5 file, for users of other tools.

``python -m mol_core.export --videos videos.parquet --clips clips.parquet --skipped
skipped.csv --out DATASET.h5``

Layout (h5py; every array compressed with gzip)::

    /                               attrs: dataset, flow (name), mol_core version
    /videos/<column>                the video table, one dataset per column (strings UTF-8;
                                    ``frames`` as one JSON list per video; apex -1 = unknown;
                                    split '' where the dataset has none)
    /skipped/{subject,video,reason} videos preprocessing skipped
    /<subject>/<video>/frames       uint8   [T,144,144] aligned grey frames
    /<subject>/<video>/landmarks    float32 [T,68,2]    dlib points, crop pixels
    /<subject>/<video>/flow         float16 [P,2,144,144] TV-L1 flow (x, y; pixels)
    /<subject>/<video>/pairs        int32   [P,2]       frame indices of each flow
    /<subject>/<video>/transforms   float64 [T,2,3]     each frame's similarity, image -> crop
                                    group attrs: align (preprocess.align), store path
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from .. import __version__
from ..errors import MolError
from ..util.atomic import atomic_path
from ..util.cli import command, existing_file
from .zarr_store import open_store, stored_transforms

STRING = h5py.string_dtype(encoding="utf-8")


def _column(values: pd.Series) -> np.ndarray:
    if values.name == "frames":
        return np.array([json.dumps([str(f) for f in v]) for v in values], dtype=object)
    if values.name == "apex":
        return values.fillna(-1).astype(np.int64).to_numpy()
    if pd.api.types.is_integer_dtype(values):
        return values.to_numpy(np.int64)
    return values.where(values.notna(), "").astype(str).to_numpy(dtype=object)  # missing text (a split): ''


def export_dataset(videos: pd.DataFrame, clips: pd.DataFrame, skipped: pd.DataFrame, out: str | Path) -> Path:
    """Write the HDF5 export (layout in the module doc) atomically; returns ``out``."""
    flows = clips.flow.unique()
    if len(flows) > 1:
        raise MolError(f"the clip index mixes flows {list(flows)}")
    with atomic_path(out) as tmp, h5py.File(tmp, "w") as h5:
        h5.attrs.update(
            {"dataset": str(videos.dataset.iloc[0]) if len(videos) else "", "version": __version__, "flow": str(flows[0]) if len(flows) else ""}
        )
        table = h5.create_group("videos")
        for name in videos.columns:
            data = _column(videos[name])
            table.create_dataset(name, data=data, dtype=STRING if data.dtype == object else data.dtype)
        missing = h5.create_group("skipped")
        for name in ("subject", "video", "reason"):
            missing.create_dataset(name, data=skipped[name].astype(str).to_numpy(dtype=object), dtype=STRING)
        for row in clips.drop_duplicates(["subject", "video"]).itertuples():
            store = open_store(row.store)
            group = h5.create_group(f"{row.subject}/{row.video}")
            for name, key in (("frames", "frames"), ("landmarks", "landmarks"), ("flow", f"flow/{row.flow}"), ("pairs", f"pairs/{row.flow}")):
                group.create_dataset(name, data=store[key][:], compression="gzip", compression_opts=4)
            n_frames = store["frames"].shape[0]
            group.create_dataset("transforms", data=stored_transforms(store.attrs, n_frames))
            group.attrs.update({"align": str(store.attrs.get("align", "per_video")), "store": str(row.store)})
    return Path(out)


@command
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mol_core.export", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", required=True, type=existing_file)
    parser.add_argument("--clips", required=True, type=existing_file)
    parser.add_argument("--skipped", required=True, type=existing_file)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    out = export_dataset(pd.read_parquet(args.videos), pd.read_parquet(args.clips), pd.read_csv(args.skipped, dtype=str).fillna(""), args.out)
    print(f"exported {out} ({out.stat().st_size / 2**20:.1f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
