# The helpers the rules share: the config's meaning comes from mol_core.workflow_config
# (ablation expansion, cross-checks, targets, resource formulas; unit-tested there), the
# file-reading helpers (video tables, markers, fold lists) are here.
import json
import os
import re
import shlex
import shutil
import sys
import time
from pathlib import Path
from functools import cache

import pandas as pd
import yaml

from mol_core import workflow_config as cfg
from mol_core.config import apply_presets
from mol_core.config.effective import experiment_record, with_schema_defaults
from mol_core.store.markers import marker_problem
from mol_core.datasets.sources import coding_files, listing_digest
from mol_core.store.keys import flow_name, marker_path, source_fingerprint
from mol_core.clips.sampling import Sampling
from mol_core.util.video_io import frame_files

# Presets first (what the config does not set comes from the named preset, never from
# another's config.yaml), then the schema's defaults; `python -m mol_core.config show` does the same.
# A bad key or value stops here with one line naming it (the schema is not printed).
config.update(
    with_schema_defaults(
        apply_presets(config),
        Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml",
    )
)

REPO = Path(workflow.basedir)
STARTED = time.time()  # when this run began planning (the summary printed at its end)
PAPER_RESULTS = REPO / "resources" / "paper_results.yaml"
ABLATION_VARIANTS = REPO / "resources" / "ablations.yaml"
# The config with the ablation experiments added, checked; `config` itself is left as given.
VARIANTS = yaml.safe_load(ABLATION_VARIANTS.read_text())
CONFIG = cfg.resolve(config, VARIANTS, set(yaml.safe_load(PAPER_RESULTS.read_text())))
CACHE_DIR = CONFIG["cache_dir"]
DATASETS = list(CONFIG["datasets"])
RUN = cfg.run_list(CONFIG)
ABLATIONS = list(cfg.ablation_experiments(config, VARIANTS))
EXPERIMENTS = list(CONFIG["experiments"])
# Experiments with `seeds` train nothing themselves: their report pools their seed runs.
SEEDED = [e for e in EXPERIMENTS if cfg.experiment_seeds(CONFIG, e)]
PRETRAIN_FOLD = cfg.PRETRAIN_FOLD
SYNTHETIC_ROOT = CONFIG["synthetic"]["root"]
# The extra identities' own folder and job (None: under SYNTHETIC_ROOT, in its job).
SYNTHETIC_EXTRA_ROOT = cfg.synthetic_extra_root(CONFIG)
ENV = "../../envs/mol.yaml"
# Every job's command ends with `> {log} 2>&1 || { tail -n 20 {log} >&2; exit 1; }`: its
# output goes to its log, and when it fails the log's last lines (the entry point's
# "error: ..." message) reach the console as well.


def synthetic_settings():
    """The generator's settings as JSON: the synthetic section but its folders."""
    return as_json(
        {
            k: v
            for k, v in CONFIG["synthetic"].items()
            if k not in ("faces", "root", "extra_root")
        }
    )


def dataset_config(dataset):
    return CONFIG["datasets"][dataset]


def dataset_class_names(dataset):
    return cfg.dataset_class_names(CONFIG, dataset)


wildcard_constraints:
    dataset="|".join(DATASETS),
    experiment="|".join(EXPERIMENTS),
    subject=r"[^/]+",
    fold=r"[^/]+",
    key=r"[0-9a-f]{12}",
    flowkey=r"[0-9a-f]{8}",
    sampling=r"[a-z_]+_t\d+",


def as_json(value):
    """A JSON argument for the shell (quote it with {params.x:q})."""
    return json.dumps(value, sort_keys=True)


def preprocess_json(dataset):
    return as_json(cfg.dataset_preprocess(CONFIG, dataset))


DEFAULT_SAMPLING = Sampling(**CONFIG["sampling"])


def store_key(dataset):
    return cfg.store_key(CONFIG, dataset)


def marker_dir(dataset, sampling):
    """Where the preprocessing markers of a dataset's videos go, for one clip sampling."""
    return f"{CACHE_DIR}/{dataset}/{store_key(dataset)}/{flow_name(sampling, cfg.preprocess_settings(CONFIG, dataset))}"


def clips_checkpoint_output(dataset, sampling):
    """The clip index, after its checkpoint has run."""
    if sampling == DEFAULT_SAMPLING:
        return checkpoints.clips.get(dataset=dataset).output.clips
    return checkpoints.clips_sampling.get(
        dataset=dataset, sampling=sampling.name
    ).output.clips


def dataset_root_argument(dataset):
    root = dataset_config(dataset)["root"]
    return json.dumps(root) if isinstance(root, dict) else root


def table_options(dataset):
    return cfg.table_options(CONFIG, dataset)


def generated(dataset):
    return cfg.generated_dataset(CONFIG, dataset)


def dataset_source(wildcards):
    """What a dataset's table is built from: the generated set, or the root folder(s) and the
    coding file(s) the loader reads (an edited workbook is newer than the table)."""
    ds = dataset_config(wildcards.dataset)
    source = cfg.generated_source(CONFIG, wildcards.dataset)
    if source:
        return [source]
    return cfg.dataset_roots(CONFIG, wildcards.dataset) + coding_files(
        ds["loader"], ds["root"], ds.get("coding")
    )


def dataset_listing(wildcards):
    """A digest of the file names under a dataset's root(s) (a params of the video table: a
    frame file added, removed or renamed replans it). The generated set follows its rule.
    """
    if generated(wildcards.dataset):
        return ""
    return listing_digest(cfg.dataset_roots(CONFIG, wildcards.dataset))


@cache
def _read_table(path, mtime):
    return pd.read_parquet(path)


def read_table(path):
    return _read_table(str(path), os.path.getmtime(path))


def videos_of(dataset):
    """The dataset's video table (after the `videos` checkpoint has run)."""
    return read_table(checkpoints.videos.get(dataset=dataset).output[0])


def drop_stale_markers(folder, videos):
    """Delete a subject's marker folder when a marker in it no longer holds (its store or flow
    is gone, partial or damaged: a claim the cache no longer backs) or one of ``videos`` has
    none, so this plan runs the subject's job again (it reuses every store still valid);
    says so on standard error. A dry run changes nothing: it only says what the run will do
    (its plan then lacks that subject's job)."""
    if not os.path.isdir(folder):
        return
    for video in videos:
        marker = str(marker_path(folder, video))
        problem = marker_problem(marker) if os.path.exists(marker) else "marker missing"
        if problem:
            if workflow.dryrun:
                print(
                    f"{marker}: {problem}; the run (not this dry run, which changes nothing) "
                    "will preprocess the video again",
                    file=sys.stderr,
                )
                return
            shutil.rmtree(folder)
            print(
                f"{marker}: {problem}; the video will be preprocessed again "
                "(its subject's job reruns and reuses the other stores)",
                file=sys.stderr,
            )
            return


def markers_of(dataset, sampling):
    """The preprocessing marker folders of a dataset's subjects for one clip sampling (one
    ``{video}.json`` each per video), stale ones dropped."""
    table = videos_of(dataset)
    folders = []
    for subject, videos in table.groupby("subject", sort=False).video:
        folder = f"{marker_dir(dataset, sampling)}/{subject}"
        drop_stale_markers(folder, list(videos))
        folders.append(folder)
    return folders


def dataset_markers(wildcards):
    sampling = (
        Sampling.from_name(wildcards.sampling)
        if "sampling" in wildcards.keys()
        else DEFAULT_SAMPLING
    )
    return markers_of(wildcards.dataset, sampling)


def run_markers(wildcards):
    """Every marker the experiments to run stand on, as inputs of `all`: Snakemake does not
    remake a missing intermediate file whose consumers are up to date, but it does remake a
    missing input of the target rule, so a deleted (or dropped) marker replans its video and
    everything downstream of it."""
    wanted = {
        (d, experiment_sampling(e))
        for e in cfg.planned_experiments(CONFIG)
        for d in cfg.experiment_datasets(CONFIG, e)
    }
    return [
        m
        for dataset, sampling in sorted(wanted, key=str)
        for m in markers_of(dataset, sampling)
    ]


def subject_rows(wildcards):
    """The video table's rows of one subject."""
    table = videos_of(wildcards.dataset)
    rows = table[table.subject == wildcards.subject]
    if rows.empty:
        raise ValueError(
            f"subject {wildcards.subject} is not in dataset {wildcards.dataset}"
        )
    return rows


def subject_files(wildcards):
    """The files a subject's videos are read from: their image files, or their video files
    (frames of a video file are references ``<file>::<index>``, not files)."""
    return sorted(
        {f for frames in subject_rows(wildcards).frames for f in frame_files(frames)}
    )


def subject_frame_counts(wildcards):
    return [len(frames) for frames in subject_rows(wildcards).frames]


def subject_fingerprint(wildcards):
    """Each of the subject's videos' sources as its store records them (frame files' paths,
    sizes and times, onset, apex, offset): a params of its job, so a replaced frame or an
    edited row reruns it (and the job rebuilds that video's store alone)."""
    rows = subject_rows(wildcards)
    return " ".join(
        f"{row.video}:"
        + source_fingerprint(
            list(row.frames),
            {"onset": row.onset, "apex": row.apex, "offset": row.offset},
        )
        for row in rows.itertuples()
    )


def one_of(names):
    """A wildcard constraint matching exactly these names (none: matches nothing)."""
    return "|".join(map(re.escape, names)) if names else "(?!)"


def experiment_config(experiment):
    return CONFIG["experiments"][experiment]


def experiment_class_names(experiment):
    return cfg.experiment_class_names(CONFIG, experiment)


def experiment_sampling(experiment):
    return cfg.experiment_sampling(CONFIG, experiment)


def is_pretrain(experiment):
    return cfg.is_pretrain(CONFIG, experiment)


def dataset_priority(wildcards):
    """Preprocessing and clip index first for the datasets a pre-training reads."""
    return cfg.dataset_priority(CONFIG, wildcards.dataset)


def experiment_target(experiment):
    return cfg.experiment_target(CONFIG, experiment)


def experiment_inputs(experiment, fold=None):
    return cfg.experiment_inputs(CONFIG, experiment, fold)


def experiment_folds(experiment):
    """LOSO: one fold per subject with clips (after the `clips` checkpoint), optionally
    capped by max_folds. Cross-dataset and leave-one-dataset-out: one fold per test dataset,
    named after it. Pre-training: one fold, `all`."""
    exp = experiment_config(experiment)
    dataset_folds = cfg.dataset_folds(CONFIG, experiment)
    if dataset_folds:
        return [fold.name for fold in dataset_folds]
    if exp.get("protocol") == "pretrain":
        return [PRETRAIN_FOLD]
    clips = read_table(
        clips_checkpoint_output(exp["dataset"], experiment_sampling(experiment))
    )
    folds = sorted(clips.subject.unique())
    limit = exp.get("max_folds")
    return folds[:limit] if limit else folds


def fold_predictions(wildcards):
    return expand(
        "results/{experiment}/folds/{fold}/predictions.parquet",
        experiment=wildcards.experiment,
        fold=experiment_folds(wildcards.experiment),
    )


def print_summary_if_made():
    """Print results/summary.md when this run wrote it."""
    summary = Path("results/summary.md")
    if os.environ.get("MOL_PRINT_SUMMARY", "1") == "0" or not summary.is_file():
        return
    if summary.stat().st_mtime >= STARTED:
        print(f"\n{summary}:\n\n{summary.read_text()}", flush=True)
