"""The report's figures are drawn with matplotlib's Figure API: files of the expected size,
and neither pyplot nor the process-wide backend is touched."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

DRAW = """
import json, sys
import matplotlib
import numpy as np
import pandas as pd
from pathlib import Path
backend = dict.__getitem__(matplotlib.rcParams, "backend")  # raw: get_backend() would import pyplot
from mol_core.report import plot_confusion, plot_curves
out = Path(sys.argv[1])
plot_confusion(np.array([[3, 1], [0, 4]]), ["a", "b"], out / "confusion.png", "t")
log = out / "sub01" / "log.csv"
log.parent.mkdir()
pd.DataFrame({"step": [1, 2], "loss": [2.0, 1.0], "val_loss": [float("nan"), 0.5], "val_acc": [float("nan"), 0.75]}).to_csv(log)
plot_curves([log], out / "curves.png", "t")
print(json.dumps({"pyplot": "matplotlib.pyplot" in sys.modules, "backend_kept": dict.__getitem__(matplotlib.rcParams, "backend") == backend}))
"""


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


def test_figures_are_drawn_without_pyplot(tmp_path):
    result = subprocess.run([sys.executable, "-c", DRAW, str(tmp_path)], capture_output=True, text=True, check=True)
    state = json.loads(result.stdout.strip().splitlines()[-1])
    assert state == {"pyplot": False, "backend_kept": True}
    # Confusion: (1.2 + 0.9 * 2 + 1.5) x (1.2 + 0.9 * 2) inches at 120 dpi; curves: 10 x 3.8 at 110 dpi.
    assert png_size(tmp_path / "confusion.png") == (540, 360)
    assert png_size(tmp_path / "curves.png") == (1100, 418)
