"""What a dataset's video table is made from, so the workflow can notice a change: the coding
file(s) a loader reads, and a digest of the file names under its root(s). Frame contents are
not part of it: each video's store follows its own frames (``store.keys.source_fingerprint``)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

from ..errors import DataError
from ..synthetic.layout import CODING_FILE
from .affwild2 import annotation_files
from .casme2 import CODING_FILES as CASME2_CODING
from .coding import find_coding_file
from .samm import CODING_FILES as SAMM_CODING

CODING_FILES = {"casme2": CASME2_CODING, "samm": SAMM_CODING, "synthetic": [CODING_FILE]}


def coding_files(name: str, root, coding=None) -> list[str]:
    """The coding file(s) the loader ``name`` reads for ``root`` (given or found at its
    default place); none where the loader has none or it is absent (the loader reports that)."""
    if name == "composite":
        coding = coding or {}
        return [f for part, part_root in root.items() for f in coding_files(part, part_root, coding.get(part))]
    if name == "affwild2":  # one annotation file per face
        try:
            return [str(path) for path, _ in annotation_files(root, coding)]
        except DataError:
            return []
    if name not in CODING_FILES:
        return []
    try:
        return [str(find_coding_file(Path(root), coding, CODING_FILES[name], name))]
    except DataError:
        return []


def listing_digest(roots: Sequence[str | Path]) -> str:
    """Digest of the relative path of every file under ``roots`` (hidden ones left out): it
    changes when a frame file is added, removed or renamed, not when one is rewritten."""
    digest = hashlib.sha256()
    for root in roots:
        digest.update(f"root {root}\n".encode())
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            relative = os.path.relpath(folder, root)
            for name in sorted(f for f in files if not f.startswith(".")):
                digest.update(f"{relative}/{name}\n".encode())
    return digest.hexdigest()[:16]
