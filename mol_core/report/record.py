"""What an experiment's record (``results/{experiment}/config.yaml``, written by
:mod:`mol_core.config.effective`) and the paper's results (``resources/paper_results.yaml``)
add to the reports: the preset, the test videos against the complete release's, and the
settings that differ from the paper's."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml


def read_record(path: str | Path | None) -> dict | None:
    """An experiment's ``config.yaml`` record (:mod:`mol_core.config.effective`), or None."""
    if path is None or not Path(path).is_file():
        return None
    return yaml.safe_load(Path(path).read_text())


def load_paper_results(path: str | Path | None) -> dict:
    """resources/paper_results.yaml: {key: {table, row, acc, wf1, uf1, uar, epe, nme, failure}} ({} without one)."""
    if path is None:
        return {}
    return yaml.safe_load(Path(path).read_text())


def paper_keys(value) -> list[str]:
    """The rows of resources/paper_results.yaml an experiment's ``paper`` names (one or a list)."""
    if not value:
        return []
    return [value] if isinstance(value, str) else list(value)


def release_coverage(record: dict, videos: int, subjects: int) -> str:
    """``19 of the complete release's 246 test videos (5 of 26 subjects)`` for a LOSO or
    cross experiment whose test dataset has published counts (facts.yaml), else ''."""
    from ..datasets.labels import dataset_facts, default_classes

    test = record.get("test_dataset") or record.get("dataset")
    entry = record.get("datasets_used", {}).get(test)
    if record.get("protocol") not in ("loso", "cross") or not entry:
        return ""
    published = dataset_facts(entry["loader"]).get("published", {}).get(entry.get("classes") or default_classes(entry["loader"]))
    if not published:
        return ""
    return f"{videos} of the complete release's {published[0]} test videos ({subjects} of {published[1]} subjects)"


def settings_markdown(config: str | Path | None, videos: int = 0, subjects: int = 0) -> str:
    """The Settings section of metrics.md: the preset, the test videos against the complete
    release's, and each setting that differs from the paper preset (empty without a record)."""
    record = read_record(config)
    if record is None:
        return ""
    differs = record.get("differs_from_paper", [])
    lines = ["", "## Settings", "", f"Preset `{record.get('preset')}`; the whole record: `{Path(str(config)).name}`."]
    coverage = release_coverage(record, videos, subjects)
    if coverage:
        test = record.get("test_dataset") or record.get("dataset")
        lines += ["", f"Tested on {coverage}; the skipped videos, with the reason: `results/{test}/skipped.csv`."]
    if differs:
        lines += ["", f"**Not the paper's settings**: {len(differs)} differ from the `paper` preset:", ""] + [f"- {d}" for d in differs]
    else:
        lines += ["", "Every setting is the `paper` preset's."]
    return "\n".join(lines) + "\n"


def run_coverage(metrics_file: Path, record: dict) -> str:
    """:func:`release_coverage` of an experiment's pooled test videos and subjects (from its
    per_fold.csv; '' for a run with seeds, whose folds repeat the videos, or without one)."""
    per_fold = metrics_file.with_name("per_fold.csv")
    if not per_fold.is_file():
        return ""
    folds = pd.read_csv(per_fold)
    if "videos" not in folds or "seed" in folds:
        return ""
    return release_coverage(record, int(folds.videos.sum()), len(folds))


def paper_settings_note(metrics_file: Path) -> str:
    """For a summary row beside the paper's: whether the run used the paper's settings."""
    record = read_record(metrics_file.with_name("config.yaml"))
    if record is None:
        return ""
    differs = record.get("differs_from_paper", [])
    coverage = run_coverage(metrics_file, record)
    coverage = f"; {coverage}" if coverage else ""
    if not differs:
        return f" (our run: the paper's settings{coverage})"
    shown = ", ".join(d.split(" (paper")[0] for d in differs[:3]) + (", ..." if len(differs) > 3 else "")
    return f" (our run: NOT the paper's settings, preset {record.get('preset')}; {len(differs)} differ: {shown}{coverage})"


def run_context(metrics_file: Path) -> str:
    """The summary's Run cell: the preset, the test videos against the complete release's,
    the videos the data stage skipped, and how many settings differ from the paper's (from
    the experiment's record; '' without one)."""
    record = read_record(metrics_file.with_name("config.yaml"))
    if record is None:
        return ""
    parts = [f"preset {record.get('preset')}", run_coverage(metrics_file, record)]
    test = record.get("test_dataset") or record.get("dataset")
    skipped = metrics_file.parent.parent / str(test) / "skipped.csv"
    if test and skipped.is_file():
        count = len(pd.read_csv(skipped))
        parts.append(f"{count} skipped (results/{test}/skipped.csv)" if count else "none skipped")
    differs = len(record.get("differs_from_paper", []))
    parts.append(f"{differs} settings differ from the paper's" if differs else "the paper's settings")
    return "; ".join(p for p in parts if p)
