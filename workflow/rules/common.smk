# Glue between Snakemake and mol_core. What the config means (experiments, folds, samplings,
# inputs, priorities, resources, cross-checks) is the plan, built once here and tested in
# mol_core.workflow_plan; the functions below read what the checkpoints wrote.
import os
import shlex
import time
from pathlib import Path

from mol_core.clips.sampling import Sampling
from mol_core.config.effective import completed_config, experiment_record
from mol_core.workflow_inputs import drop_stale_markers, read_table, subject_rows
from mol_core.workflow_plan import WorkflowPlan, as_json, one_of

# Presets, then the schema's defaults, as `python -m mol_core.config show` does; a bad key or
# value stops here in one line naming it. The plan adds ablations and seed runs to a copy.
config.update(completed_config(config, workflow.basedir))
PLAN = WorkflowPlan.of_repository(config, workflow.basedir)
CONFIG = PLAN.config
STARTED = time.time()  # when this run began planning (the summary printed at its end)
ENV = "../../envs/mol.yaml"
# Every job's command ends with `> {log} 2>&1 || { tail -n 20 {log} >&2; exit 1; }`: its
# output goes to its log, and when it fails the log's last lines (the entry point's
# "error: ..." message) reach the console as well.


wildcard_constraints:
    dataset=one_of(PLAN.datasets()),
    experiment=one_of(PLAN.experiments()),
    subject=r"[^/]+",
    fold=r"[^/]+",
    key=r"[0-9a-f]{12}",
    flowkey=r"[0-9a-f]{8}",
    sampling=r"[a-z_]+_t\d+",


def videos_of(dataset):
    """The dataset's video table (after the `videos` checkpoint has run)."""
    return read_table(checkpoints.videos.get(dataset=dataset).output[0])


def rows_of(wildcards):
    """The video table's rows of one subject."""
    return subject_rows(
        videos_of(wildcards.dataset), wildcards.dataset, wildcards.subject
    )


def clips_of(dataset, sampling):
    """The clip index of one sampling (after its checkpoint has run)."""
    if sampling == PLAN.default_sampling:
        return checkpoints.clips.get(dataset=dataset).output.clips
    names = {"dataset": dataset, "sampling": sampling.name}
    return checkpoints.clips_sampling.get(**names).output.clips


def markers_of(dataset, sampling):
    """A dataset's marker folders for one sampling, stale ones dropped (a dry run: not)."""
    folders = []
    for subject, videos in videos_of(dataset).groupby("subject", sort=False).video:
        folders.append(f"{PLAN.marker_dir(dataset, sampling)}/{subject}")
        drop_stale_markers(folders[-1], videos, workflow.dryrun)
    return folders


def dataset_markers(wildcards):
    named = "sampling" in wildcards.keys()
    sampling = (
        Sampling.from_name(wildcards.sampling) if named else PLAN.default_sampling
    )
    return markers_of(wildcards.dataset, sampling)


def run_markers(wildcards):
    """Every marker the experiments to run stand on, as inputs of `all`: Snakemake remakes a
    missing input of the target rule (not a missing intermediate file whose consumers are
    up to date), so a deleted or dropped marker replans its video and all after it."""
    return [m for d, s in PLAN.marker_samplings() for m in markers_of(d, s)]


def experiment_folds(experiment):
    """Its folds; LOSO's are the subjects with clips (after the clip index is made)."""
    subjects = lambda dataset, sampling: read_table(clips_of(dataset, sampling)).subject
    return PLAN.experiment_folds(experiment, subjects)


def fold_predictions(wildcards):
    folds = experiment_folds(wildcards.experiment)
    pattern = "results/{e}/folds/{fold}/predictions.parquet"
    return expand(pattern, e=wildcards.experiment, fold=folds)


def print_summary_if_made():
    """Print results/summary.md when this run wrote it (MOL_PRINT_SUMMARY=0: not)."""
    summary = Path("results/summary.md")
    if os.environ.get("MOL_PRINT_SUMMARY", "1") == "0" or not summary.is_file():
        return
    if summary.stat().st_mtime >= STARTED:
        print(f"\n{summary}:\n\n{summary.read_text()}", flush=True)
