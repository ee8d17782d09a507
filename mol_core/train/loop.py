"""Train MOL on one fold and predict its test videos.

``python -m mol_core.train --clips clips.parquet [clips.parquet ...] --fold FOLD --out DIR
--class-names JSON [--test-clips clips.parquet] [--init model.pt] [--model JSON] [--settings JSON]
[--threads N]``

Protocols, by what is given: a LOSO fold (FOLD is the test subject of ``--clips``); a
cross-dataset fold (``--test-clips``: every subject of ``--clips`` trains, every video of
the test clips is predicted; several ``--clips`` tables, as a leave-one-dataset-out fold
gives, are combined by :func:`mol_core.clips.index.combine_clip_tables`); pre-training
(``--pretrain``, or model option ``mer_head: false``: no test videos; with the MER head the
whole network on a labelled dataset, without it the flow and landmark heads only).
Validation subjects are always drawn from the training
subjects (:mod:`mol_core.datasets.folds`), and the checkpoint is selected on them, never on the test
videos. ``--init`` starts from a (pre-trained) checkpoint: every weight whose name and shape
match is copied, except the MER output layer when the checkpoint's classes differ (the log
names the tensors kept and re-initialised).

Writes into DIR:

- ``model.pt``: the selected checkpoint with everything needed to rebuild the model
  (a :class:`mol_core.model.Checkpoint`: options, frames, class names, package version,
  fold, step, subjects, preprocessing);
- ``predictions.parquet``: one row per test video (see :func:`mol_core.train.evaluate.video_predictions`),
  ``selection: validation``, and ``majority``: the class of most training videos, the
  trivial classifier's prediction (with the MER head). More selections on request (``train.selection``), each in rows
  of its own, model.pt keeping the validation-selected weights: ``best_test``, one more row
  per video, the predictions of the evaluation step whose test videos scored best (an
  oracle: the test subject chose the checkpoint, LEAKY; the authors' code keeps this
  checkpoint); ``authors``, one row per test *clip* (column ``clip``), the last step's
  predictions, which is what the authors' code pools into the Acc/UF1/UAR it prints (NOT
  COMPARABLE with per-video figures). ``test_fold`` is the old name of ``best_test``;
- ``log.csv``: per logged step the losses per task, learning rate, validation metrics and
  elapsed seconds (and ``test_loss``, ``test_acc`` with the best_test selection);
- ``resume.pt`` while training runs: a checkpoint every ``checkpoint_every`` steps, from
  which a killed job resumes with the same data and random state (deleted at the end).

Runs are reproducible: the same config on the same machine gives the same metrics.

:func:`train_fold` runs a :class:`FoldTraining` (set up in its constructor, then resume,
one training step at a time, logging and validation, selection, outputs) on a
:class:`TrainState` (step, selection, log rows), which every resume point holds.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..clips.augment import centre_offset
from ..clips.data import ClipBatches, ClipDataset, StoreCache, expand_batch
from ..clips.device_batches import device_batches
from ..clips.index import check_clip_index, combine_clip_tables
from ..clips.preparation import Preparation
from ..clips.streaming import StreamingClips, fold_nbytes, step_batches
from ..clips.targets import TARGETS
from ..datasets.folds import draw_subjects, official_split, split_subjects, split_validation
from ..errors import ConfigError, DataError, MolError
from ..face68 import NORMALISERS
from ..model import MOL, MOLLoss
from ..model.checkpoint import Checkpoint, initialise, save_torch
from ..model.loss import FLOW_LOSSES, LOSS_BALANCES
from ..model.mol import check_options
from ..util.atomic import remove_path, write_csv, write_parquet, write_text
from ..util.cli import command, error_context, existing_file, json_argument
from ..util.crop import CROP
from ..util.device import pick_device, set_determinism, to_device
from ..util.precision import training_precision
from ..util.settings import from_fields
from ..util.text import counted
from .balancing import GradNorm, trunk_diagnostics
from .device_memory import measure, write_report
from .evaluate import predict_clips, validate, video_predictions
from .resume import read_resume, resume_key
from .shared_device import RUN_ID, SharedFolds, train_shared

SELECTION = ("val_loss", "val_acc", "last")
# Checkpoint selections a fold reports: validation (always; on subjects drawn from the training
# ones) and, on request, best_test (an oracle: the step whose test videos score best, LEAKY) and
# authors (the last step's predictions per clip, as the authors' code pools them). Old names.
SELECTIONS = ("validation", "best_test", "authors")
OLD_SELECTION_NAMES = {"test_fold": "best_test"}
LR_SCHEDULES = ("constant", "cosine")
OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}


@dataclass(frozen=True)
class TrainSettings:
    """The ``train`` section of an experiment; defaults follow the paper (Adam, lr 5e-5,
    batch 32, lambda_f 0.1, lambda_m 68)."""

    steps: int = 1000
    batch_size: int = 32
    lr: float = 5e-5
    optimizer: str = "adam"  # the paper's; or "adamw" (the authors' code: decoupled weight decay)
    weight_decay: float = 0.0
    eval_every: int = 100  # validation (and checkpoint selection) every this many steps
    log_every: int = 10
    checkpoint_every: int = 100  # resume point every this many steps
    val_subjects: int = 1
    lambda_flow: float = 0.1
    lambda_landmark: float = 68.0
    select_on: str = "val_loss"
    amp: bool = True  # mixed precision on CUDA (bf16 where supported, else fp16 + GradScaler); false: fp32 everywhere
    compile: bool = False  # torch.compile the model for the training steps
    data_on_device: bool = True  # hold the fold's arrays on the training device and cut batches there, when they fit
    # host memory (GiB) the fold's videos may take; a fold above it streams its clips from the
    # stores (mol_core.clips.streaming: the same batches, read by loader_workers processes);
    # null: every fold in memory
    host_memory_gb: float | None = None
    loader_workers: int = 2  # processes reading a streamed fold's training batches (0: the training process)
    # LOSO folds one job trains at once on its device (mol_core.train.shared_device): the job of
    # a fold also trains the next untrained folds of the experiment, each in its own process
    folds_per_gpu: int = 1
    seed: int = 0
    # or "authors" / "authors_readme": their code's weights and averaging; or ours: "uncertainty",
    # "gradnorm", "share" (mol_core.model.loss), each starting from lambda_flow and lambda_landmark
    loss_balance: str = "paper"
    aux_share: float = 0.25  # loss_balance share: each auxiliary term's share of the CE on the first batch
    gradnorm_alpha: float = 1.5  # loss_balance gradnorm: how strongly slow terms are pushed (Chen et al.'s alpha)
    diagnostics: bool = True  # each term's gradient norm on the shared trunk (and cosine to the CE's) in log.csv
    # cuDNN: deterministic algorithms only (the same run, the same weights); false: benchmarked,
    # possibly non-deterministic and faster kernels (GPU only; the CPU is deterministic either way)
    deterministic: bool = True
    landmark_normaliser: str = "eye_centres"  # or "outer_corners" (face68.NORMALISERS)
    flow_loss: str = "mse"  # the paper's; or "epe" (FlowNet's end-point error)
    flow_multiscale: bool = False  # FlowNet's multi-scale loss: every decoder level against the pooled target
    # what the flow and landmark heads learn from (mol_core.clips.targets): the stores' TV-L1 flow
    # and dlib landmarks (the paper's); "residual": that flow without each pair's affine global
    # motion; synthetic set only: "exact" (the generator's flow and landmarks), "expression"
    # (its expression-only flow, head motion removed)
    targets: str = "teacher"
    flow_pairs: int | None = None  # frame pairs per clip whose flow a training step estimates (drawn per step); None: all
    lr_schedule: str = "constant"  # or "cosine": from lr down to 0 at the last step
    warmup_steps: int = 0  # linear warm-up from lr / warmup_steps
    crop_jitter: int | None = None  # training crops at most this many pixels from the centre; None: anywhere
    # + "best_test" (LEAKY, an oracle) and "authors" (last step, per clip): SELECTIONS
    selection: tuple[str, ...] = ("validation",)

    def __post_init__(self):
        object.__setattr__(self, "selection", tuple(dict.fromkeys(OLD_SELECTION_NAMES.get(s, s) for s in self.selection)))
        if "validation" not in self.selection or set(self.selection) - set(SELECTIONS):
            raise ConfigError(
                f"selection must hold 'validation' and may add 'best_test' (LEAKY) and 'authors' (per clip), got {list(self.selection)}"
            )
        if self.select_on not in SELECTION:
            raise ConfigError(f"select_on must be one of {SELECTION}, got {self.select_on!r}")
        for name, value, allowed in (
            ("loss_balance", self.loss_balance, LOSS_BALANCES),
            ("landmark_normaliser", self.landmark_normaliser, NORMALISERS),
            ("flow_loss", self.flow_loss, FLOW_LOSSES),
            ("lr_schedule", self.lr_schedule, LR_SCHEDULES),
            ("optimizer", self.optimizer, tuple(OPTIMIZERS)),
            ("targets", self.targets, TARGETS),
        ):
            if value not in allowed:
                raise ConfigError(f"{name} must be one of {allowed}, got {value!r}")
        if self.crop_jitter is not None and self.crop_jitter < 0:
            raise ConfigError(f"crop_jitter must be >= 0 or null, got {self.crop_jitter}")
        if self.warmup_steps < 0:
            raise ConfigError(f"warmup_steps must be >= 0, got {self.warmup_steps}")
        if self.host_memory_gb is not None and self.host_memory_gb < 0:
            raise ConfigError(f"host_memory_gb must be >= 0 or null, got {self.host_memory_gb}")
        if self.folds_per_gpu < 1:
            raise ConfigError(f"folds_per_gpu must be >= 1, got {self.folds_per_gpu}")
        if self.loader_workers < 0:
            raise ConfigError(f"loader_workers must be >= 0, got {self.loader_workers}")
        if self.flow_pairs is not None and self.flow_pairs < 1:
            raise ConfigError(f"flow_pairs must be >= 1 or null, got {self.flow_pairs}")
        if min(self.steps, self.batch_size, self.eval_every, self.log_every, self.checkpoint_every) < 1:
            raise ConfigError("steps, batch_size, eval_every, log_every and checkpoint_every must be positive")

    @classmethod
    def from_dict(cls, values: dict) -> TrainSettings:
        """From an experiment's ``train`` section (ConfigError for unknown keys)."""
        return from_fields(cls, values, "train settings")


def learning_rate(settings: TrainSettings, step: int) -> float:
    """The learning rate of ``step`` (1-based): linear warm-up over ``warmup_steps``, then
    constant or a cosine decay to 0 at ``steps``; a pure function of the step (resumes
    need no scheduler state)."""
    if step <= settings.warmup_steps:
        return settings.lr * step / settings.warmup_steps
    if settings.lr_schedule == "constant":
        return settings.lr
    progress = (step - settings.warmup_steps) / max(1, settings.steps - settings.warmup_steps)
    return settings.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def batch_plan(n_items: int, batch_size: int, seed: int, step: int) -> np.ndarray:
    """Indices of the training batch of ``step`` (0-based): epochs of a fresh permutation
    drawn from (seed, epoch), a pure function of the step, so a resumed run continues the
    same sequence."""
    per_epoch = math.ceil(n_items / batch_size)
    epoch, position = divmod(step, per_epoch)
    order = np.random.default_rng([seed, 7919, epoch]).permutation(n_items)
    return order[position * batch_size : (position + 1) * batch_size]


def flow_pairs_of_step(n_pairs: int, wanted: int | None, seed: int, step: int) -> np.ndarray | None:
    """The frame pairs (sorted indices) whose flow training step ``step`` estimates and
    learns: ``wanted`` of the ``n_pairs`` drawn from (seed, step), a pure function of the
    step like the batches; None (every pair, the paper's loss) when ``wanted`` is None or
    covers them all."""
    if wanted is None or wanted >= n_pairs:
        return None
    return np.sort(np.random.default_rng([seed, 104729, step]).choice(n_pairs, wanted, replace=False))


def mean_landmarks(dataset: ClipDataset | StreamingClips) -> torch.Tensor:
    """Average centre-cropped landmark position over the training clips' videos [68,2]
    (``dataset``: a ClipDataset or StreamingClips)."""
    shapes, side = dataset.video_landmarks()  # the aligned crops are square, one size per preprocessing
    return torch.tensor(np.concatenate(shapes).mean(0) - centre_offset(side, CROP), dtype=torch.float32)


def training_preparation(clips: pd.DataFrame) -> dict:
    """The preparation record (:class:`~mol_core.clips.preparation.Preparation`, as a dict)
    of the training clips, from their clip index: what a checkpoint needs to prepare new
    videos like its training data. DataError for an index without one."""
    if "preparation" not in clips:
        raise DataError("the clip index has no preparation column (written by an earlier version): rerun python -m mol_core.clips")
    return Preparation.from_json(clips.preparation.iloc[0]).to_dict()


def fold_split(clips: pd.DataFrame, fold: str, settings: TrainSettings, test_clips: pd.DataFrame | None = None, pretrain: bool = False):
    """(train clips, validation clips, test clips, {train, validation, test: subjects}). A
    pre-training on clips with the owners' split (Aff-Wild2) trains on its train split and
    validates on ``val_subjects`` subjects of its validation split (the rest left out);
    elsewhere ``val_subjects`` are drawn from all subjects."""
    test_s: list[str]
    if pretrain:
        official = official_split(clips)
        if official is None:
            train_s, val_s = split_validation(clips.subject.unique(), settings.val_subjects, settings.seed, fold)
        else:  # never trains on the owners' validation split
            train_s, val_s = official[0], draw_subjects(official[1], settings.val_subjects, settings.seed, fold)
        test_s, test = [], clips.iloc[:0]
    elif test_clips is None:
        train_s, val_s, test_s = split_subjects(clips.subject.unique(), fold, settings.val_subjects, settings.seed)
        test = clips[clips.subject.isin(test_s)]
    else:
        train_s, val_s = split_validation(clips.subject.unique(), settings.val_subjects, settings.seed, fold)
        test_s, test = sorted(test_clips.subject.unique()), test_clips
    subjects = {"train": train_s, "validation": val_s, "test": test_s}
    return clips[clips.subject.isin(train_s)], clips[clips.subject.isin(val_s)], test, subjects


def _better(metrics: dict, best: dict | None, select_on: str) -> bool:
    if best is None:
        return True
    if select_on == "last":
        return True
    if select_on == "val_acc" and not math.isnan(metrics["val_acc"]):
        return (metrics["val_acc"], -metrics["val_loss"]) > (best["val_acc"], -best["val_loss"])
    return metrics["val_loss"] < best["val_loss"]


def _duration(seconds: float) -> str:
    return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


@dataclass
class TrainState:
    """Where a fold's training stands; every resume point holds it (as a dict)."""

    step: int = 0  # the last step done
    best: dict | None = None  # validation metrics of the selected step
    best_step: int = 0
    best_state: dict | None = None  # the model's weights at best_step
    log_rows: list[dict] = field(default_factory=list)  # one per logged step (log.csv)
    best_test: dict | None = None  # selection best_test: test metrics of the step chosen on them (leaky)
    best_test_step: int = 0
    best_test_state: dict | None = None
    seconds: float = 0.0  # training time up to ``step``

    def to_dict(self) -> dict:
        """The fields as a dict, tensors shared, not copied."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


class FoldTraining:
    """One fold's training, set up in the constructor (its splits and datasets, the model,
    loss, optimiser and the resume key) and run in steps: :meth:`resume`,
    :meth:`train_step`, :meth:`record`, :meth:`save_resume_point`, :meth:`select` and
    :meth:`write_outputs` (see :func:`train_fold`).

    Batches come from ``train_batches``, ``val_batches`` and ``test_batches``: cut on the
    training device when the fold's arrays fit there, else the datasets' per-clip path;
    both give the same bits (:mod:`mol_core.clips.device_batches`)."""

    def __init__(
        self,
        clips: pd.DataFrame,
        fold: str,
        out_dir: str | Path,
        class_names: list[str],
        settings: TrainSettings,
        model_options: dict,
        log=print,
        test_clips: pd.DataFrame | None = None,
        init: str | Path | None = None,
        pretrain: bool = False,
        memory_report: Path | None = None,
    ):
        self.memory_report = memory_report  # where to write the fold's memory after its first log row (folds_per_gpu)
        self.fold, self.settings, self.model_options, self.class_names, self.log = fold, settings, model_options, class_names, log
        self.pretrain = pretrain or not model_options.get("mer_head", True)
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.resume_path = self.out_dir / "resume.pt"
        set_determinism(settings.seed, settings.deterministic)
        self.device = pick_device()
        self.precision = training_precision(self.device, settings.amp)
        self.frames = len(clips.frames.iloc[0])
        self._split(clips, test_clips)
        self._build(init)
        splits = {"train": self.train_set.clips, "validation": self.val_set.clips, "test": self.test_set.clips}
        self.run_id = resume_key(settings, model_options, fold, splits, init)

    def _split(self, clips: pd.DataFrame, test_clips: pd.DataFrame | None) -> None:
        """The fold's training, validation and test datasets (one store cache for all)."""
        train_clips, val_clips, test_clips, self.subjects = fold_split(clips, self.fold, self.settings, test_clips, self.pretrain)
        if len(test_clips) and len(test_clips.frames.iloc[0]) != self.frames:
            raise MolError(f"fold {self.fold}: test clips have {len(test_clips.frames.iloc[0])} frames, training clips {self.frames}")
        streamed = self._streams(pd.concat([train_clips, val_clips, test_clips]))
        settings = self.settings
        self.train_set: ClipDataset | StreamingClips
        self.val_set: ClipDataset | StreamingClips
        self.test_set: ClipDataset | StreamingClips
        if streamed:
            self.train_set = StreamingClips(train_clips, settings.seed, settings.crop_jitter, settings.targets)
            self.val_set, self.test_set = (StreamingClips(c, targets=settings.targets) for c in (val_clips, test_clips))
        else:
            cache = StoreCache(settings.targets)
            self.train_set = ClipDataset(train_clips, seed=settings.seed, cache=cache, crop_jitter=settings.crop_jitter)
            self.val_set, self.test_set = (ClipDataset(c, cache=cache) for c in (val_clips, test_clips))
        if len(self.train_set) == 0:
            raise MolError(f"fold {self.fold}: no training clips")
        self.log(
            f"fold {self.fold}: {len(self.train_set)} training clips ({counted(len(self.subjects['train']), 'subject')}), "
            f"{len(self.val_set)} validation clips ({', '.join(self.subjects['validation']) or 'none'}), "
            f"{len(self.test_set)} test clips ({counted(len(self.subjects['test']), 'subject')}); t={self.frames}; "
            f"device {self.device}, {self.precision.name}"
        )
        self.authors_predictions: pd.DataFrame | None = None  # the authors selection's rows (select)
        self._stream: Iterator[dict] | None = None  # a streamed fold's training batches, from the first step trained
        self.train_batches: ClipBatches
        self.val_batches: ClipBatches
        self.test_batches: ClipBatches
        if isinstance(self.train_set, StreamingClips):
            self.train_batches, self.val_batches, self.test_batches = self.train_set, self.val_set, self.test_set
            return
        self.train_batches, self.val_batches, self.test_batches = device_batches(
            [self.train_set, self.val_set, self.test_set],  # type: ignore[list-item]
            self.device,
            lambda m: self.log(f"fold {self.fold}: {m}"),
            enabled=self.settings.data_on_device,
        )

    def _streams(self, clips: pd.DataFrame) -> bool:
        """Whether the fold's videos exceed ``host_memory_gb`` (then they are streamed); logged."""
        budget = self.settings.host_memory_gb
        if budget is None:
            return False
        need = fold_nbytes(clips)
        streams = need > budget * 2**30
        self.log(
            f"fold {self.fold}: its videos take {need / 2**30:.2f} GiB in memory, "
            + (
                f"above host_memory_gb {budget:g}: clips streamed from the stores by {counted(self.settings.loader_workers, 'worker')}"
                if streams
                else f"within host_memory_gb {budget:g}: held in memory"
            )
        )
        return streams

    def _build(self, init: str | Path | None) -> None:
        """Model (``init``'s weights where they fit, then the landmark head's mean shape from
        this fold's training clips, the baseline its NME is reported beside; compiled for the
        training steps with ``compile``), loss, optimiser and gradient scaler (fp16 only)."""
        settings, device = self.settings, self.device
        self.model = MOL(len(self.class_names), frames=self.frames, **check_options(self.model_options)).to(device)
        if init is not None:
            for line in initialise(self.model, init, self.class_names).describe():
                self.log(line)
        if self.model.landmarks is not None:  # this fold's own mean shape, also over a pre-training's
            self.model.landmarks.mean_shape.copy_(mean_landmarks(self.train_set).to(device))
        self.criterion = MOLLoss.for_balance(
            settings.loss_balance,
            self.frames,
            settings.lambda_flow,
            settings.lambda_landmark,
            settings.landmark_normaliser,
            settings.flow_loss,
            settings.flow_multiscale,
            settings.aux_share,
        ).to(device)
        groups: list[dict] = [{"params": list(self.model.parameters())}]
        if self.criterion.log_vars is not None:  # uncertainty: the log-variances learn with the model, never decayed
            groups.append({"params": [self.criterion.log_vars], "weight_decay": 0.0})
        self.optimizer = OPTIMIZERS[settings.optimizer](groups, lr=settings.lr, weight_decay=settings.weight_decay)
        self.trunk = self.model.trunk_parameters()
        self.gradnorm = None
        if settings.loss_balance == "gradnorm":  # on the last shared weight (GradNorm's W)
            self.gradnorm = GradNorm(self.criterion, [p for p in self.trunk if p.dim() > 1][-1], settings.gradnorm_alpha)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.precision.scaled)
        self.forward = torch.compile(self.model) if settings.compile else self.model

    def resume(self) -> TrainState:
        """The state of the run a killed job left in ``resume.pt`` (model, optimiser, scaler
        and random state restored), or a fresh one when there is none or it belongs to
        another run."""
        if not self.resume_path.exists():
            return TrainState()
        saved, why = read_resume(self.resume_path, self.run_id, self.device)
        if saved is None:
            self.log(f"fold {self.fold}: ignoring {self.resume_path}: {why}; training from step 0")
            return TrainState()
        self.model.load_state_dict(saved["model"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.criterion.load_state_dict(saved["criterion"])
        if self.gradnorm is not None:
            self.gradnorm.load_state_dict(saved["gradnorm"])
        self.scaler.load_state_dict(saved["scaler"])
        torch.set_rng_state(saved["torch_rng"])
        if self.device.type == "cuda" and saved.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(saved["cuda_rng"])
        state = TrainState(**saved["state"])
        self.log(f"fold {self.fold}: resumed at step {state.step} from {self.resume_path}")
        return state

    def train_step(self, step: int) -> dict[str, torch.Tensor]:
        """One optimiser step on the batch of ``step`` (1-based); returns the loss and its terms
        as detached 0-d tensors on the device, read only when a log row is written
        (:func:`mean_terms`), so that a step never waits for the device."""
        model, optimizer, device = self.model, self.optimizer, self.device
        model.train()
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(self.settings, step)
        batch = self.train_batch(step)
        drawn = flow_pairs_of_step(self.frames - 1, self.settings.flow_pairs, self.settings.seed, step)
        pairs = None if drawn is None else to_device(torch.from_numpy(drawn), device)
        if pairs is not None:
            batch = {**batch, "flow": batch["flow"][:, pairs]}
        with self.precision.autocast(device):
            outputs = self.forward(batch["frames"], flow_levels=self.criterion.flow_multiscale, flow_pairs=pairs)
        terms = self.criterion.terms(outputs, batch)
        logged = self.step_diagnostics(terms) if self.logs_at(step) else {}
        if self.gradnorm is not None:
            self.gradnorm.step(terms)
        loss = self.criterion.total(terms)
        optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(optimizer)
        self.scaler.update()
        return {"loss": loss.detach(), **{k: v.detach() for k, v in terms.items()}, **logged}

    def step_diagnostics(self, terms: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """What a log row adds about the loss's balance: each term's weight as it enters the
        total (``weight_<term>``: fixed weight times the balance's multiplier) and, with
        ``diagnostics``, each term's gradient on the shared trunk (:func:`trunk_diagnostics`)."""
        weights = {f"weight_{name}": weight.detach() for name, weight in self.criterion.effective_weights(terms).items()}
        if not self.settings.diagnostics:
            return weights
        return {**weights, **trunk_diagnostics(self.criterion.contributions(terms), self.trunk)}

    def train_batch(self, step: int) -> dict[str, torch.Tensor]:
        """The batch of ``step`` (1-based) on the device: clips from :func:`batch_plan`, each
        augmented from ``(seed, step, slot)``."""
        settings = self.settings
        if isinstance(self.train_set, StreamingClips):  # read ahead by the workers, in step order from the first step trained
            if self._stream is None:
                plans = [batch_plan(len(self.train_set), settings.batch_size, settings.seed, s - 1) for s in range(step, settings.steps + 1)]
                self._stream = step_batches(self.train_set, plans, step, settings.loader_workers, self.device.type == "cuda")
            return expand_batch({k: to_device(v, self.device) for k, v in next(self._stream).items()})
        indices = batch_plan(len(self.train_set), settings.batch_size, settings.seed, step - 1)
        batch = self.train_batches.batch(indices, [(step, slot) for slot in range(len(indices))])
        return {k: to_device(v, self.device) for k, v in batch.items()}

    def evaluation_step(self, step: int) -> bool:
        """Every ``eval_every`` steps and the last."""
        return step % self.settings.eval_every == 0 or step == self.settings.steps

    def evaluates_at(self, step: int) -> bool:
        """Validation (and selection) at evaluation steps, when there are validation clips."""
        return self.evaluation_step(step) and len(self.val_set) > 0

    def logs_at(self, step: int) -> bool:
        evaluates = self.evaluates_at(step) or (self.selects_best_test and self.evaluation_step(step))
        return step % self.settings.log_every == 0 or step == self.settings.steps or evaluates

    def record(self, state: TrainState, step: int, running: list[dict[str, torch.Tensor]], elapsed: float) -> None:
        """Log row of ``step``: the mean losses since the last row and, where validation
        runs, its metrics; a better validation makes this step the selected one."""
        settings = self.settings
        row = {
            "step": step,
            **mean_terms(running),
            "lr": self.optimizer.param_groups[0]["lr"],
            "val_loss": np.nan,
            "val_acc": np.nan,
            "seconds": elapsed,
        }
        evaluate = self.evaluates_at(step)
        if evaluate:
            metrics = validate(
                self.model, self.val_batches, settings.batch_size, self.device, self.criterion.lambda_flow, self.criterion.lambda_landmark
            )
            row.update(metrics)
            if _better(metrics, state.best, settings.select_on):
                state.best, state.best_step = metrics, step
                state.best_state = self._weights()
        if self.selects_best_test and self.evaluation_step(step):  # also without validation subjects
            self._record_best_test(state, step, row)
        state.log_rows.append(row)
        eta = elapsed / step * (settings.steps - step)
        val = f", val loss {row['val_loss']:.3f} acc {row['val_acc']:.2f}" if evaluate else ""
        self.log(
            f"fold {self.fold}: step {step}/{settings.steps} ({100 * step // settings.steps}%) loss {row['loss']:.3f}"
            f"{val} [{_duration(elapsed)} elapsed, {_duration(eta)} left]"
        )
        if self.memory_report is not None or (self.device.type == "cuda" and len(state.log_rows) == 1):
            self._report_memory()

    def _report_memory(self) -> None:
        """Log the fold's peak memory on its device after its first log row (on CUDA: what
        ``folds_per_gpu`` can be) and write it where the job asked (``memory_report``)."""
        report = measure(self.device)
        if report is not None:
            self.log(f"fold {self.fold}: {report.describe()}")
        if self.memory_report is not None:
            write_report(self.memory_report, report)
            self.memory_report = None

    def _weights(self) -> dict:
        """A copy of the model's current weights (a selected step's)."""
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    @property
    def selects_best_test(self) -> bool:
        """The leaky best_test selection is asked for and there are test videos to select on."""
        return "best_test" in self.settings.selection and len(self.test_set) > 0

    def _record_best_test(self, state: TrainState, step: int, row: dict) -> None:
        """The oracle selection (LEAKY): the test videos' accuracy at this evaluation step
        (log.csv ``test_loss``, ``test_acc``); the best so far (ties: the lower loss) is kept."""
        settings = self.settings
        metrics = validate(
            self.model, self.test_batches, settings.batch_size, self.device, self.criterion.lambda_flow, self.criterion.lambda_landmark
        )
        row.update(test_loss=metrics["val_loss"], test_acc=metrics["val_acc"])
        if _better(metrics, state.best_test, "val_acc"):
            state.best_test, state.best_test_step = metrics, step
            state.best_test_state = self._weights()

    def save_resume_point(self, state: TrainState, step: int, seconds: float) -> None:
        """``resume.pt``: the run's key, model, optimiser, scaler, random state and ``state``."""
        state.step, state.seconds = step, seconds
        cuda_rng = torch.cuda.get_rng_state() if self.device.type == "cuda" else None
        save_torch(
            {
                "run_id": self.run_id,
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "criterion": self.criterion.state_dict(),
                "gradnorm": self.gradnorm.state_dict() if self.gradnorm is not None else None,
                "scaler": self.scaler.state_dict(),
                "torch_rng": torch.get_rng_state(),
                "cuda_rng": cuda_rng,
                "state": state.to_dict(),
            },
            self.resume_path,
        )

    def select(self, state: TrainState) -> None:
        """Put the selected step's weights into the model (the last step's without validation);
        with the ``authors`` selection, first keep the last step's per-clip test predictions."""
        if "authors" in self.settings.selection and len(self.test_set) > 0:
            self.authors_predictions = self._authors_predictions()
        if state.best_state is not None:
            self.model.load_state_dict(state.best_state)
        else:
            state.best_step = self.settings.steps
        self.log(
            f"fold {self.fold}: selected step {state.best_step}"
            + (f" (validation {self.settings.select_on})" if state.best else " (no validation subjects: last step)")
        )

    def write_outputs(self, state: TrainState) -> pd.DataFrame:
        """Predict the test videos (the validation videos when pre-training) and write
        ``model.pt``, ``log.csv`` and ``predictions.parquet``; remove ``resume.pt``."""
        settings, out_dir = self.settings, self.out_dir
        evaluated = self.test_batches if len(self.test_set) else self.val_batches  # pre-training reports on its validation videos
        outputs = predict_clips(self.model, evaluated, settings.batch_size, self.device, exact=True)
        predictions = video_predictions(evaluated.clips, outputs)
        predictions.insert(0, "fold", self.fold)
        predictions.insert(1, "selection", "validation")
        Checkpoint(
            self.model.state_dict(),
            self.model_options,
            len(self.class_names),
            self.frames,
            tuple(self.class_names),
            fold=self.fold,
            step=state.best_step,
            train_settings=asdict(settings),
            subjects=self.subjects,
            preparation=training_preparation(self.train_set.clips),
        ).save(out_dir / "model.pt")
        write_csv(pd.DataFrame(state.log_rows), out_dir / "log.csv")
        if self.selects_best_test and state.best_test_state is not None:
            predictions = pd.concat([predictions, self._best_test_predictions(state)], ignore_index=True)
        if self.authors_predictions is not None:
            predictions = pd.concat([predictions, self.authors_predictions], ignore_index=True)
        if not self.pretrain and len(self.train_set) and "pred" in predictions:
            predictions["majority"] = majority_class(self.train_set.clips)
        write_parquet(predictions, out_dir / "predictions.parquet")
        write_text(out_dir / RUN_ID, self.run_id)  # which run these outputs are (train.folds_per_gpu adopts by it)
        remove_path(self.resume_path)
        if "pred" in predictions and len(predictions):
            chosen = predictions[predictions.selection == "validation"]
            accuracy = (chosen.pred == chosen.label).mean()
            self.log(f"fold {self.fold}: {'validation' if self.pretrain else 'test'} accuracy {accuracy:.2f} on {len(chosen)} videos")
        self.log(f"fold {self.fold}: done -> {out_dir}")
        return predictions

    def _authors_predictions(self) -> pd.DataFrame:
        """The current (last step's) predictions of every test clip, one row each (rows
        ``selection: authors``, column ``clip``): the authors' code pools these per clip."""
        outputs = predict_clips(self.model, self.test_batches, self.settings.batch_size, self.device)
        clips = self.test_batches.clips.reset_index(drop=True)
        rows = clips[["dataset", "subject", "video", "clip", "label"]].assign(pred=outputs["logits"].argmax(1).astype(int))
        rows.insert(0, "fold", self.fold)
        rows.insert(1, "selection", "authors")
        accuracy = float((rows.pred == rows.label).mean())
        self.log(f"fold {self.fold}: last step on {len(rows)} test clips (the authors' protocol, per clip): accuracy {accuracy:.2f}")
        return rows

    def _best_test_predictions(self, state: TrainState) -> pd.DataFrame:
        """The test predictions of the step chosen on the test videos (rows ``selection:
        best_test``, LEAKY); model.pt keeps the validation-selected weights."""
        assert state.best_test_state is not None and state.best_test is not None
        self.model.load_state_dict(state.best_test_state)
        outputs = predict_clips(self.model, self.test_batches, self.settings.batch_size, self.device, exact=True)
        leaky = video_predictions(self.test_batches.clips, outputs)
        leaky.insert(0, "fold", self.fold)
        leaky.insert(1, "selection", "best_test")
        self.log(
            f"fold {self.fold}: step {state.best_test_step} selected on the test videos (LEAKY, the authors' protocol): "
            f"test accuracy {state.best_test['val_acc']:.2f}"
        )
        return leaky


def majority_class(clips: pd.DataFrame) -> int:
    """The class of most training videos (ties: the lowest label): the prediction of the
    trivial classifier every classification table stands beside."""
    per_video = clips.drop_duplicates(["dataset", "subject", "video"]).label
    counts = per_video.value_counts()
    return int(min(counts.index[counts == counts.max()]))


def mean_terms(running: list[dict[str, torch.Tensor]]) -> dict[str, float]:
    """The mean of each loss term over the steps since the last log row: one read from the
    device per term (the steps' own terms stay there)."""
    names = dict.fromkeys(name for terms in running for name in terms)
    return {name: float(torch.stack([terms[name] for terms in running if name in terms]).float().mean()) for name in names}


def train_fold(
    clips: pd.DataFrame,
    fold: str,
    out_dir: str | Path,
    class_names: list[str],
    settings: TrainSettings,
    model_options: dict,
    log=print,
    test_clips: pd.DataFrame | None = None,
    init: str | Path | None = None,
    pretrain: bool = False,
    memory_report: Path | None = None,
) -> pd.DataFrame:
    """Train (resuming from ``out_dir/resume.pt`` if a killed run left one), select on
    validation, predict the test videos (a pre-training: its validation videos); write the
    outputs. Returns the predictions. ``memory_report``: where to write the fold's
    :class:`~.device_memory.MemoryReport` after its first log row."""
    run = FoldTraining(clips, fold, out_dir, class_names, settings, model_options, log, test_clips, init, pretrain, memory_report)
    state = run.resume()
    started, running = time.perf_counter() - state.seconds, []
    for step in range(state.step + 1, settings.steps + 1):
        running.append(run.train_step(step))
        if run.logs_at(step):
            run.record(state, step, running, time.perf_counter() - started)
            running = []
        if step % settings.checkpoint_every == 0 and step != settings.steps:
            run.save_resume_point(state, step, time.perf_counter() - started)
    run.select(state)
    return run.write_outputs(state)


@command
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mol_core.train", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--clips",
        required=True,
        nargs="+",
        type=existing_file,
        help="clip index of the training (and, for LOSO, test) dataset; several: the training datasets of a cross-dataset fold",
    )
    parser.add_argument("--test-clips", default=None, type=existing_file, help="cross-dataset protocol: clip index of the test dataset")
    parser.add_argument("--fold", required=True, help="the test subject (LOSO), or the fold's name")
    parser.add_argument("--out", required=True)
    parser.add_argument("--class-names", required=True, help="JSON list, in label order")
    parser.add_argument("--init", default=None, type=existing_file, help="checkpoint to start from (e.g. a pre-trained model.pt)")
    parser.add_argument(
        "--pretrain", action="store_true", help="pre-training: every subject of --clips trains but the validation subjects; no test videos"
    )
    parser.add_argument("--model", default="{}", help="JSON: MOL options")
    parser.add_argument("--settings", default="{}", help="JSON: TrainSettings fields")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--queue", nargs="*", default=[], help="the experiment's LOSO folds in order (train.folds_per_gpu > 1: companions)")
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, args.threads))
    with error_context(f"fold {args.fold}"):
        settings = TrainSettings.from_dict(json_argument(args.settings, "--settings"))
        class_names = json_argument(args.class_names, "--class-names")
        model_options = check_options(json_argument(args.model, "--model"))
        if len(args.clips) > 1 and not args.test_clips:
            raise ConfigError("several --clips tables train a cross-dataset fold: give --test-clips")
        tables = {path: pd.read_parquet(path) for path in [*args.clips, *([args.test_clips] if args.test_clips else [])]}
        for path, table in tables.items():
            check_clip_index(table, path, None if args.pretrain or not model_options.get("mer_head", True) else len(class_names))
        clips = combine_clip_tables([tables[path] for path in args.clips])
        test_clips = tables[args.test_clips] if args.test_clips else None
        if settings.folds_per_gpu > 1 and args.queue and test_clips is None and not args.pretrain:
            shared = SharedFolds(clips, class_names, settings, model_options, args.init)
            train_shared(shared, args.fold, args.out, args.queue, settings.folds_per_gpu, args.threads, log=lambda m: print(m, flush=True))
            return 0
        train_fold(
            clips,
            args.fold,
            args.out,
            class_names,
            settings,
            model_options,
            log=lambda m: print(m, flush=True),
            test_clips=test_clips,
            init=args.init,
            pretrain=args.pretrain,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
