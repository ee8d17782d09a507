"""The reports: an experiment's fold predictions pooled into ``metrics.csv`` (the long table
of :mod:`.metrics_table`: metric, selection, source, then the figures), ``metrics.md`` and
the figures; experiments with seeds; ``results/summary.md``; ``results/ablations.md``.

One module per output: :mod:`.pooling` (predictions to metrics), :mod:`.experiment`,
:mod:`.seeds`, :mod:`.summary`, :mod:`.ablations`, :mod:`.figures`; :mod:`.tables` renders
every markdown table and figure, :mod:`.record` reads the experiment's record, :mod:`.cli`
is ``python -m mol_core.report``.
"""

from .ablations import ablation_markdown, ablation_table
from .cli import main
from .experiment import metrics_markdown, write_experiment
from .figures import plot_confusion, plot_curves
from .metrics_table import ALL_VIDEOS, SELECTIONS, VALIDATION, MetricsTable
from .pooling import PooledMetrics, Scores, SourceMetrics, experiment_metrics, source_metrics
from .record import paper_settings_note, release_coverage, settings_markdown
from .seeds import seed_table, write_seeds
from .summary import summary_markdown
from .tables import markdown_table

__all__ = [
    "ALL_VIDEOS",
    "SELECTIONS",
    "VALIDATION",
    "MetricsTable",
    "PooledMetrics",
    "Scores",
    "SourceMetrics",
    "ablation_markdown",
    "ablation_table",
    "experiment_metrics",
    "main",
    "markdown_table",
    "metrics_markdown",
    "paper_settings_note",
    "plot_confusion",
    "plot_curves",
    "release_coverage",
    "seed_table",
    "settings_markdown",
    "source_metrics",
    "summary_markdown",
    "write_experiment",
    "write_seeds",
]
