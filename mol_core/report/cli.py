"""Pool fold predictions into an experiment's metrics, and experiments into a summary.

``python -m mol_core.report experiment --name EXP --class-names JSON [--protocol P] --out-dir
DIR PRED...`` writes ``metrics.csv`` (long form: metric, selection, source, pooled, fold_mean,
fold_std), ``metrics.md``, ``per_fold.csv``, ``confusion.csv`` (counts, rows = truth),
``confusion.png`` (rows normalised), ``curves.png`` (training loss and validation accuracy
of every fold, from the ``log.csv`` beside each prediction file). Classification metrics are
computed per video (clip logits averaged) and pooled over all folds into one confusion matrix
(MEGC convention); per-fold means and standard deviations are given beside them.

With more selections (``train.selection: [validation, best_test, authors]``) the fold files
hold their rows too (``selection: best_test``, one per video; ``selection: authors``, one per
clip); every table gives each apart, named and marked (metrics.csv's rows of that
``selection``, a section of ``metrics.md``, a sub-row of the summary): best_test LEAKY (an
oracle: the test videos chose the checkpoint), authors NOT COMPARABLE (the last step, counted
per clip). The other figures come from the validation selection alone.

When the test videos come from several sources (the composite set's parts; the held-out
datasets of a leave-one-dataset-out experiment) each source's Acc, WF1, UF1 and UAR are
added: metrics.csv's rows of that ``source`` (e.g. metric ``uf1``, source ``samm``; the rows
over all test videos have an empty source), a table in ``metrics.md``, ``per_source.csv``,
and sub-rows of the summary.

``python -m mol_core.report seeds --name EXP --seeds JSON --out-dir DIR METRICS_CSV...`` (an
experiment with ``seeds``; one metrics.csv per seed run, in the order of ``--seeds``) writes
``metrics.csv`` (metric, selection, source, pooled = the mean over seeds, seed_std = the
sample standard deviation over seeds, seed_<n> = each seed's pooled figure), ``metrics.md``
and ``per_fold.csv`` (every seed run's folds, with a ``seed`` column).

``python -m mol_core.report summary --out results/summary.md [--paper-results YAML --paper
JSON] METRICS_CSV...`` writes one row per experiment, and the paper's row beside it where
the experiment names one (``{experiment: key of paper_results.yaml}``).

``python -m mol_core.report ablations --out results/ablations.md --table results/ablations.csv
--paper-results YAML --paper JSON METRICS_CSV...`` writes the ablation variants in the
paper's layout (Tables 8-13), ours beside the paper's.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..util.atomic import write_csv, write_text
from ..util.cli import command, existing_file, json_argument
from .ablations import ablation_markdown, ablation_table
from .experiment import PROTOCOL_FOLDS, write_experiment
from .record import load_paper_results
from .seeds import write_seeds
from .summary import summary_markdown


def build_parser() -> argparse.ArgumentParser:
    """The four sub-commands: experiment, seeds, summary, ablations."""
    parser = argparse.ArgumentParser(prog="python -m mol_core.report", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    exp = sub.add_parser("experiment")
    exp.add_argument("--name", required=True)
    exp.add_argument("--class-names", required=True)
    exp.add_argument(
        "--protocol",
        default="loso",
        choices=list(PROTOCOL_FOLDS),
        help="the experiment's protocol: with cross and lodo each fold names the dataset it tested",
    )
    exp.add_argument("--out-dir", required=True)
    exp.add_argument("--config", default=None, type=existing_file, help="the experiment's record, results/{experiment}/config.yaml")
    exp.add_argument("predictions", nargs="+", type=existing_file)
    seeds = sub.add_parser("seeds")
    seeds.add_argument("--name", required=True)
    seeds.add_argument("--seeds", required=True, help="JSON list of the seeds, in the order of the metrics files")
    seeds.add_argument("--out-dir", required=True)
    seeds.add_argument("metrics", nargs="+", type=existing_file, help="each seed run's metrics.csv")
    summ = sub.add_parser("summary")
    summ.add_argument("--out", required=True)
    summ.add_argument("metrics", nargs="+", type=existing_file)
    abl = sub.add_parser("ablations")
    abl.add_argument("--out", required=True)
    abl.add_argument("--table", required=True)
    abl.add_argument("metrics", nargs="+", type=existing_file)
    for listing in (summ, abl):
        listing.add_argument("--paper-results", default=None, type=existing_file, help="resources/paper_results.yaml")
        listing.add_argument("--paper", default="{}", help="JSON {experiment: key of the paper results}")
    return parser


@command
def main(argv: list[str] | None = None) -> int:
    """Run one sub-command; each prints the markdown it wrote."""
    args = build_parser().parse_args(argv)
    if args.command == "experiment":
        write_experiment(args.name, args.predictions, json_argument(args.class_names, "--class-names"), args.out_dir, args.protocol, args.config)
        text = (Path(args.out_dir) / "metrics.md").read_text()
    elif args.command == "seeds":
        write_seeds(args.name, args.metrics, json_argument(args.seeds, "--seeds"), args.out_dir)
        text = (Path(args.out_dir) / "metrics.md").read_text()
    elif args.command == "summary":
        text = summary_markdown(args.metrics, json_argument(args.paper, "--paper"), load_paper_results(args.paper_results))
        write_text(args.out, text)
    else:
        table = ablation_table(args.metrics, json_argument(args.paper, "--paper"), load_paper_results(args.paper_results))
        write_csv(table, args.table)
        text = ablation_markdown(table)
        write_text(args.out, text)
    print(text)
    return 0
