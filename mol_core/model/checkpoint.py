"""One checkpoint format: everything needed to rebuild a trained MOL and to prepare new
videos like its training data, written atomically and read back with a compatibility check.

On disk (``model.pt``, a ``torch.save`` dict; the keys are the field names of
:class:`Checkpoint`): ``state_dict``, ``model_options``, ``num_classes``, ``frames``,
``class_names``, ``version`` (required), and ``fold``, ``step``, ``train_settings``,
``subjects`` and ``preparation`` (the training clips'
:class:`~mol_core.clips.preparation.Preparation` as a dict: preprocessing settings and clip
sampling), which a checkpoint made outside the workflow may lack. A file with the
``preprocess``/``sampling`` keys of earlier development versions is refused by name.
"""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass, field, fields
from pathlib import Path

import torch
from torch import Tensor

from .. import __version__
from ..errors import CheckpointError, ConfigError
from ..util.atomic import write_bytes
from .mol import MOL, check_options

REQUIRED_KEYS = ("state_dict", "model_options", "num_classes", "frames", "class_names", "version")


def compatible(version: str) -> bool:
    """Checkpoints load across patch releases of the same major.minor version."""
    return version.split(".")[:2] == __version__.split(".")[:2]


def save_torch(obj, path: str | Path) -> None:
    """``torch.save`` to a temporary name, renamed when complete."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    write_bytes(path, buffer.getvalue())


@dataclass(frozen=True, eq=False)
class Checkpoint:
    """A trained MOL and what it was trained on.

    ``state_dict``: the weights; ``model_options``: keyword options of :class:`MOL`;
    ``num_classes``, ``frames`` (t), ``class_names`` (label order); ``version``: the package
    version that wrote it; ``fold``, ``step`` (the selected step), ``train_settings``
    (TrainSettings fields), ``subjects`` ({train, validation, test: [subject]}),
    ``preparation`` ({preprocess: PreprocessSettings fields, sampling: Sampling fields}, read
    back with ``Preparation.from_dict``; the model layer keeps it as data);
    ``path``: the file it was read from (not saved).
    """

    state_dict: dict[str, Tensor]
    model_options: dict
    num_classes: int
    frames: int
    class_names: tuple[str, ...]
    version: str = __version__
    fold: str | None = None
    step: int | None = None
    train_settings: dict = field(default_factory=dict)
    subjects: dict = field(default_factory=dict)
    preparation: dict = field(default_factory=dict)
    path: Path | None = None

    def __post_init__(self):
        object.__setattr__(self, "class_names", tuple(self.class_names))
        if len(self.class_names) != self.num_classes:
            raise CheckpointError(f"{self.where}: {self.num_classes} classes but {len(self.class_names)} class names")

    @property
    def where(self) -> str:
        """The file's name for messages ('checkpoint' when it was not read from one)."""
        return str(self.path) if self.path is not None else "checkpoint"

    @property
    def has_mer_head(self) -> bool:
        return bool(self.model_options.get("mer_head", True))

    def to_dict(self) -> dict:
        """The on-disk dict (every field but ``path``; class names as a list)."""
        saved = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "path"}
        return {**saved, "class_names": list(self.class_names)}

    @classmethod
    def from_dict(cls, saved: dict, path: str | Path | None = None) -> Checkpoint:
        """A checkpoint from its on-disk dict; CheckpointError naming ``path`` for a dict that
        is not one of this package's, or one of an incompatible version. Unknown keys are
        ignored (a later patch release may add some)."""
        where = path if path is not None else "checkpoint"
        missing = [k for k in REQUIRED_KEYS if not isinstance(saved, dict) or k not in saved]
        if missing:
            raise CheckpointError(f"{where}: not a mol_core checkpoint (missing {', '.join(missing)})")
        if "preprocess" in saved and "preparation" not in saved:
            raise CheckpointError(f"{where}: made by a development version that recorded its preprocessing otherwise; train it again")
        if not compatible(str(saved["version"])):
            raise CheckpointError(f"{where}: made by mol_core {saved['version']}, incompatible with this version {__version__}")
        known = {f.name for f in fields(cls)} - {"path"}
        return cls(**{k: v for k, v in saved.items() if k in known}, path=None if path is None else Path(path))

    def save(self, path: str | Path) -> Path:
        """Write to ``path`` atomically (a killed job leaves no half-written file)."""
        save_torch(self.to_dict(), path)
        return Path(path)

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device = "cpu") -> Checkpoint:
        """Read a checkpoint (tensors on ``device``); CheckpointError for a missing or
        unreadable file, a file that is not a checkpoint of this package, or one made by an
        incompatible version."""
        path = Path(path)
        if not path.is_file():
            raise CheckpointError(f"checkpoint not found: {path}")
        try:
            saved = torch.load(path, map_location=device, weights_only=False)
        except Exception as error:  # noqa: BLE001 - any unpickling failure is the file's problem
            raise CheckpointError(f"{path}: not a readable checkpoint ({error.__class__.__name__})") from None
        return cls.from_dict(saved, path)

    def build_model(self, device: str | torch.device | None = None) -> MOL:
        """The model with these weights, in eval mode (on ``device``, default CPU).
        CheckpointError naming the file and the tensors when the options do not describe
        these weights (a tensor missing, left over, or of another shape)."""
        try:
            model = MOL(self.num_classes, self.frames, **check_options(self.model_options))
        except ConfigError as error:
            raise CheckpointError(f"{self.where}: its model options {self.model_options} are not valid: {error}") from None
        problems = weight_mismatches(model.state_dict(), self.state_dict)
        if problems:
            raise CheckpointError(
                f"{self.where}: its weights do not fit the model its options describe "
                f"({self.model_options}, {self.num_classes} classes, {self.frames} frames): " + "; ".join(problems)
            )
        model.load_state_dict(self.state_dict)
        return model.to(device or "cpu").eval()


def weight_mismatches(expected: dict[str, Tensor], found: dict[str, Tensor], shown: int = 6) -> list[str]:
    """What keeps ``found`` from loading where ``expected`` is needed: tensors missing, left
    over, and of another shape (at most ``shown`` names each)."""

    def names(keys) -> str:
        keys = sorted(keys)
        return ", ".join(keys[:shown]) + (f" and {len(keys) - shown} more" if len(keys) > shown else "")

    missing, extra = set(expected) - set(found), set(found) - set(expected)
    shapes = [
        f"{k} is {list(found[k].shape)} in the file, {list(expected[k].shape)} in the model"
        for k in sorted(set(expected) & set(found))
        if found[k].shape != expected[k].shape
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} tensors missing from the file ({names(missing)})")
    if extra:
        problems.append(f"{len(extra)} tensors the model does not have ({names(extra)})")
    if shapes:
        problems.append(
            f"{len(shapes)} tensors of another shape ({'; '.join(shapes[:shown])}"
            + (f" and {len(shapes) - shown} more" if len(shapes) > shown else "")
            + ")"
        )
    return problems


@dataclass(frozen=True)
class Initialisation:
    """What a model took from a checkpoint (``source``): ``kept``, the tensors copied;
    ``reinitialised``, {tensor: why} for the checkpoint's tensors left at the model's own
    initialisation (another shape, or the MER output layer of other classes); ``fresh``,
    the model's tensors the checkpoint lacks (the MER head after a label-free pre-training)."""

    source: str
    kept: tuple[str, ...]
    reinitialised: dict[str, str]
    fresh: tuple[str, ...]

    def describe(self) -> list[str]:
        """Log lines: counts per module, then every tensor by name."""
        per_module = Counter(name.split(".", 1)[0] for name in self.kept)
        total = len(self.kept) + len(self.reinitialised) + len(self.fresh)
        lines = [
            f"initialised from {self.source}: kept {len(self.kept)} of {total} tensors "
            f"({', '.join(f'{m} {n}' for m, n in per_module.items())}), re-initialised {len(self.reinitialised)}, "
            f"{len(self.fresh)} not in the checkpoint"
        ]
        lines += [f"  re-initialised {name}: {why}" for name, why in self.reinitialised.items()]
        if self.fresh:
            lines.append(f"  not in the checkpoint (the model's own initialisation): {', '.join(self.fresh)}")
        lines.append(f"  kept: {', '.join(self.kept)}")
        return lines


def mer_output_layer(model: MOL) -> str | None:
    """The name prefix of the MER head's output layer (its last linear layer), None without one."""
    if model.mer is None:
        return None
    names = [name for name, module in model.mer.named_modules() if isinstance(module, torch.nn.Linear)]
    return f"mer.{names[-1]}." if names else None


def initialise(model: MOL, path: str | Path, class_names=None) -> Initialisation:
    """Copy into ``model`` every tensor of the checkpoint at ``path`` whose name and shape
    match (e.g. a pre-trained network into a fold's model). With ``class_names`` (the model's,
    in label order) the MER output layer is re-initialised when the checkpoint's class names
    differ (another count, or the same count of other classes), even where its shape fits."""
    checkpoint = Checkpoint.load(path)
    source, target = checkpoint.state_dict, model.state_dict()
    output = mer_output_layer(model)
    other_classes = class_names is not None and tuple(class_names) != checkpoint.class_names
    kept, reinitialised = {}, {}
    for name, tensor in source.items():
        if name not in target:
            continue
        if other_classes and output is not None and name.startswith(output):
            reinitialised[name] = (
                f"the MER output layer: {checkpoint.num_classes} classes {list(checkpoint.class_names)} "
                f"in the checkpoint, {len(class_names)} {list(class_names)} here"
            )
        elif target[name].shape != tensor.shape:
            reinitialised[name] = f"{list(tensor.shape)} in the checkpoint, {list(target[name].shape)} here"
        else:
            kept[name] = tensor
    target.update(kept)
    model.load_state_dict(target)
    return Initialisation(str(path), tuple(kept), reinitialised, tuple(k for k in target if k not in source))


def initialise_from(model: MOL, path: str | Path) -> tuple[int, int]:
    """:func:`initialise` without a class check; returns (tensors copied, tensors of the model)."""
    result = initialise(model, path)
    return len(result.kept), len(model.state_dict())
