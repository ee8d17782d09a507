"""4DME: the owners' coding file ``4DME_Labelling_Micro_release v1.xlsx`` (first sheet;
columns ``sub_ID, fold_name, Emotion, Onset, Apex, Offset, AUs``, then one-hot ``AU<n>``
columns, ignored: the AUs string is parsed, '(k)' kept as uncertain), frames
``gray_micro/{sub_ID}/{fold_name}/`` numbered by the last digits in each file name.

Emotions Positive, Negative, Surprise, Repression, Others; combinations of them
(``Surprise+Positive``) are left out of every protocol. ``root`` holds ``gray_micro`` (or is
it); the coding file is looked for in ``root`` and its parent unless given.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import DataError
from .coding import CodedVideo, Scan, child_folder, find_coding_file, numbered_frames, read_coding_table, require_dir, scan_coded_videos

CODING_FILES = ["4DME_Labelling_Micro_release v1.xlsx", "4DME_Labelling_Micro_release v1.csv"]
COLUMNS = {"subject": "sub_ID", "video": "fold_name", "onset": "Onset", "apex": "Apex", "offset": "Offset", "emotion": "Emotion", "au": "AUs"}
FRAME_PATTERN = r".*?(\d+)\.(?:jpg|jpeg|png|bmp)"  # the last digits of the name number the frame
FRAME_LAYOUT = "gray_micro/{sub_ID}/{fold_name}/<name with the frame number>.jpg"


def scan_fourdme(root: str | Path, classes: int | None = None, coding: str | Path | None = None) -> Scan:
    root = require_dir(root, "4DME")
    coding = find_coding_file(root, coding, CODING_FILES, "4DME")
    frames_root = root / "gray_micro" if (root / "gray_micro").is_dir() else root
    if not any(p.is_dir() for p in frames_root.iterdir()):
        raise DataError(f"4DME: no subject folders in {frames_root}: expected {FRAME_LAYOUT}")

    def frames_of(coded: CodedVideo):
        subject = child_folder(frames_root, coded.subject)
        video = child_folder(subject, coded.file_video) if subject is not None else None
        return numbered_frames(video, FRAME_PATTERN) if video is not None else None

    scan = scan_coded_videos(read_coding_table(coding, COLUMNS), COLUMNS, "fourdme", classes, str, frames_of)
    scan.coding_files.append(str(coding))
    scan.frame_layouts.append(f"{frames_root}/{FRAME_LAYOUT.removeprefix('gray_micro/')}")
    return scan
