"""The report of an experiment with ``seeds``: each row of its seed runs' ``metrics.csv``
(``results/{experiment}_seed<n>/``) as the mean and sample standard deviation over the
seeds, beside each seed's pooled figure."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import DataError
from ..util.atomic import write_csv, write_text
from .metrics_table import KEY, MetricsTable
from .tables import NME_UNITS, format_value, markdown_table, mean_std, metric_label


def seed_table(metric_files: list[str], seeds: list[int]) -> MetricsTable:
    """metrics.csv of an experiment with seeds, from its seed runs' (``metric_files`` in the
    order of ``seeds``): for each (metric, selection, source) every run has, in the first
    run's order, ``pooled`` = the mean over seeds of each run's pooled figure (for a ratio:
    the mean of the ratios), ``seed_std`` = their sample standard deviation (ddof 1; NaN for
    one seed), and ``seed_<n>`` = seed n's figure."""
    if len(metric_files) != len(seeds):
        raise DataError(f"{len(metric_files)} metrics files for {len(seeds)} seeds {seeds}")
    runs = [MetricsTable.read(f).frame.set_index(KEY)["pooled"] for f in metric_files]
    keys = pd.MultiIndex.from_tuples([key for key in runs[0].index if all(key in run.index for run in runs)], names=KEY)
    values = pd.DataFrame({f"seed_{seed}": run.loc[keys].to_numpy() for seed, run in zip(seeds, runs, strict=True)}, index=keys)
    summary = pd.DataFrame({"pooled": values.mean(axis=1), "seed_std": values.std(axis=1, ddof=1)}, index=keys)
    return MetricsTable(pd.concat([summary, values], axis=1).reset_index())


def seeds_markdown(name: str, table: MetricsTable, seeds: list[int], runs: list[str]) -> str:
    """metrics.md of an experiment with seeds: a row per row of ``table`` (:func:`seed_table`)."""
    rows = [
        [
            metric_label(row["metric"], row["selection"], row["source"]),
            mean_std(row["metric"], row["pooled"], row["seed_std"]),
            *(format_value(row["metric"], row[f"seed_{seed}"]) for seed in seeds),
        ]
        for row in table.frame.to_dict("records")
    ]
    lines = [
        f"# {name}",
        "",
        f"{len(seeds)} seeds: every fold trained once per seed (runs {', '.join(f'`{r}`' for r in runs)}; each run's own "
        "tables in results/<run>/metrics.md). Mean ± sample standard deviation over seeds, beside each seed's figure "
        f"pooled over its folds. Classification metrics in %, per video; {NME_UNITS}. Rows `<metric> (<source>)`: one "
        "source of the test videos; rows marked LEAKY or NOT COMPARABLE: the selections beside ours, explained in each "
        "run's metrics.md.",
        "",
        markdown_table(["Metric", "Mean ± std", *(f"seed {seed}" for seed in seeds)], rows),
    ]
    return "\n".join(lines) + "\n"


def write_seeds(name: str, metric_files: list[str], seeds: list[int], out_dir: str | Path) -> MetricsTable:
    """metrics.csv, metrics.md and per_fold.csv (every seed run's folds, with a ``seed``
    column first) of an experiment with seeds; returns metrics.csv's table."""
    out_dir = Path(out_dir)
    table = seed_table(metric_files, seeds)
    per_fold = [pd.read_csv(Path(f).with_name("per_fold.csv")).assign(seed=seed) for f, seed in zip(metric_files, seeds, strict=True)]
    folds = pd.concat(per_fold, ignore_index=True)
    table.write(out_dir / "metrics.csv")
    write_csv(folds[["seed", *[c for c in folds.columns if c != "seed"]]], out_dir / "per_fold.csv")
    write_text(out_dir / "metrics.md", seeds_markdown(name, table, seeds, [Path(f).parent.name for f in metric_files]))
    return table
