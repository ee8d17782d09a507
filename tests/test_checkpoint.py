"""The checkpoint format: save and load, files written before the Checkpoint type, clear
errors for files that are not checkpoints or whose weights do not fit their options, and
initialising a model from a pre-trained checkpoint."""

from __future__ import annotations

import pytest
import torch

from mol_core import __version__
from mol_core.errors import CheckpointError
from mol_core.model import MOL, Checkpoint
from mol_core.model.checkpoint import initialise, initialise_from, mer_output_layer

TINY = {"flow_width": 0.0625, "fusion": "subtract"}
NAMES = ("a", "b", "c")
# Every key train_fold wrote into model.pt before the Checkpoint type existed.
FILE_KEYS = {
    "state_dict",
    "model_options",
    "num_classes",
    "frames",
    "class_names",
    "version",
    "fold",
    "step",
    "train_settings",
    "subjects",
    "preparation",
}


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return MOL(3, frames=4, **TINY).eval()


def checkpoint_of(model, **fields):
    return Checkpoint(model.state_dict(), dict(TINY), 3, 4, NAMES, **fields)


def test_round_trip_keeps_every_field_and_the_model(model, tmp_path):
    original = checkpoint_of(
        model,
        fold="sub01",
        step=7,
        train_settings={"steps": 10},
        subjects={"test": ["sub01"]},
        preparation={"preprocess": {"size": 144}, "sampling": {"frames": 4, "scheme": "uniform"}},
    )
    path = original.save(tmp_path / "model.pt")
    assert set(torch.load(path, weights_only=False)) == FILE_KEYS  # the file keeps today's keys
    loaded = Checkpoint.load(path)
    assert loaded.path == path and loaded.version == __version__
    for name in (
        "model_options",
        "num_classes",
        "frames",
        "class_names",
        "fold",
        "step",
        "train_settings",
        "subjects",
        "preparation",
    ):
        assert getattr(loaded, name) == getattr(original, name), name
    assert loaded.state_dict.keys() == original.state_dict.keys()
    assert all(torch.equal(loaded.state_dict[k], v) for k, v in original.state_dict.items())
    rebuilt = loaded.build_model()
    assert not rebuilt.training
    x = torch.rand(1, 1, 4, 128, 128)
    with torch.no_grad():
        assert torch.equal(rebuilt(x)["logits"], model(x)["logits"])


def test_a_file_in_the_format_written_before_loads(model, tmp_path):
    written_by_train_fold = {
        "state_dict": model.state_dict(),
        "model_options": dict(TINY),
        "num_classes": 3,
        "frames": 4,
        "class_names": list(NAMES),
        "version": __version__,
        "fold": "sub02",
        "step": 100,
        "train_settings": {"steps": 100, "lr": 0.001},
        "subjects": {"train": ["sub01"], "validation": [], "test": ["sub02"]},
        "preparation": {"preprocess": {"size": 144, "box_enlarge": 2.5, "flow": {"nscales": 3}}, "sampling": {"frames": 4, "scheme": "uniform"}},
    }
    torch.save(written_by_train_fold, tmp_path / "model.pt")
    loaded = Checkpoint.load(tmp_path / "model.pt")
    assert loaded.class_names == NAMES and loaded.fold == "sub02" and loaded.step == 100
    assert loaded.preparation["preprocess"]["flow"] == {"nscales": 3} and loaded.subjects["test"] == ["sub02"]
    assert loaded.to_dict().keys() == written_by_train_fold.keys()
    minimal = {k: written_by_train_fold[k] for k in ("state_dict", "model_options", "num_classes", "frames", "class_names", "version")}
    torch.save(minimal, tmp_path / "minimal.pt")
    old = Checkpoint.load(tmp_path / "minimal.pt")
    assert old.fold is None and old.preparation == {} and old.build_model().num_classes == 3


def test_files_that_are_not_checkpoints_are_named(model, tmp_path):
    with pytest.raises(CheckpointError, match="checkpoint not found: .*absent.pt"):
        Checkpoint.load(tmp_path / "absent.pt")
    (tmp_path / "junk.pt").write_bytes(b"\x80\x02 not a pickle")
    with pytest.raises(CheckpointError, match=r"junk.pt: not a readable checkpoint \(UnpicklingError\)"):
        Checkpoint.load(tmp_path / "junk.pt")
    torch.save({"weights": 1}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="other.pt: not a mol_core checkpoint .missing state_dict, model_options"):
        Checkpoint.load(tmp_path / "other.pt")
    old = checkpoint_of(model).to_dict()
    torch.save({**old, "version": "0.0.1"}, tmp_path / "old.pt")
    with pytest.raises(CheckpointError, match=f"old.pt: made by mol_core 0.0.1, incompatible with this version {__version__}"):
        Checkpoint.load(tmp_path / "old.pt")
    earlier = {k: v for k, v in old.items() if k != "preparation"}
    torch.save({**earlier, "preprocess": {"store": {}}, "sampling": "uniform_t4"}, tmp_path / "earlier.pt")
    with pytest.raises(CheckpointError, match="earlier.pt: made by a development version that recorded its preprocessing otherwise"):
        Checkpoint.load(tmp_path / "earlier.pt")


def test_options_that_do_not_fit_the_weights_name_the_file_and_the_tensors(model, tmp_path):
    wider = checkpoint_of(model).to_dict()
    wider["model_options"] = {**TINY, "flow_width": 0.125}  # the flow head's weights were made at 0.0625
    torch.save(wider, tmp_path / "wider.pt")
    with pytest.raises(CheckpointError) as error:
        Checkpoint.load(tmp_path / "wider.pt").build_model()
    message = str(error.value)
    assert message.startswith(f"{tmp_path / 'wider.pt'}: its weights do not fit the model its options describe")
    assert "'flow_width': 0.125" in message and "tensors of another shape (flow." in message
    assert "is [4, " in message and "in the file, [8, " in message  # 64 * 0.0625 channels saved, 64 * 0.125 built

    headless = checkpoint_of(model).to_dict()
    headless["model_options"] = {**TINY, "mer_head": False}
    torch.save(headless, tmp_path / "headless.pt")
    with pytest.raises(CheckpointError, match=r"headless.pt: .*tensors the model does not have \(mer\."):
        Checkpoint.load(tmp_path / "headless.pt").build_model()

    unknown = {**checkpoint_of(model).to_dict(), "model_options": {**TINY, "wings": 2}}
    torch.save(unknown, tmp_path / "unknown.pt")
    with pytest.raises(CheckpointError, match=r"unknown.pt: its model options .* are not valid: unknown model options \['wings'\]"):
        Checkpoint.load(tmp_path / "unknown.pt").build_model()
    with pytest.raises(CheckpointError, match="3 classes but 2 class names"):
        Checkpoint(model.state_dict(), TINY, 3, 4, ("a", "b"))


def test_initialise_from_a_pretrained_checkpoint_copies_what_fits(tmp_path):
    torch.manual_seed(1)
    pretrained = MOL(1, frames=4, mer_head=False, **TINY)
    Checkpoint(pretrained.state_dict(), {**TINY, "mer_head": False}, 1, 4, ("unlabelled",)).save(tmp_path / "pre.pt")
    torch.manual_seed(2)
    model = MOL(3, frames=4, **TINY)
    mer_before = {k: v.clone() for k, v in model.state_dict().items() if k.startswith("mer.")}
    copied, total = initialise_from(model, tmp_path / "pre.pt")
    assert copied == len(pretrained.state_dict()) and total == len(model.state_dict()) == copied + len(mer_before)
    state = model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in pretrained.state_dict().items())
    assert all(torch.equal(state[k], v) for k, v in mer_before.items())  # nothing to copy into the MER head


def test_fine_tuning_keeps_what_fits_and_reinitialises_the_mer_output_of_other_classes(tmp_path):
    torch.manual_seed(1)
    pretrained = MOL(7, frames=4, **TINY)  # the whole network, pre-trained on 7 classes
    seven = ("neutral", "anger", "disgust", "fear", "happiness", "sadness", "surprise")
    Checkpoint(pretrained.state_dict(), dict(TINY), 7, 4, seven).save(tmp_path / "pre.pt")
    saved = pretrained.state_dict()
    output = mer_output_layer(pretrained)
    assert output == "mer.classifier.5."
    torch.manual_seed(2)
    model = MOL(5, frames=4, **TINY)
    own = {k: v.clone() for k, v in model.state_dict().items()}
    result = initialise(model, tmp_path / "pre.pt", ["happiness", "disgust", "repression", "surprise", "others"])
    state = model.state_dict()
    assert set(result.reinitialised) == {output + "weight", output + "bias"} and result.fresh == ()
    assert set(result.kept) == set(saved) - set(result.reinitialised)
    for kept in ("mer.conv.weight", "mer.classifier.2.weight", "landmarks.conv.weight"):  # kept layers: the checkpoint's values
        assert torch.equal(state[kept], saved[kept]) and not torch.equal(own[kept], saved[kept])
    assert state[output + "weight"].shape == (5, 256) and saved[output + "weight"].shape == (7, 256)
    assert torch.equal(state[output + "weight"], own[output + "weight"])  # the fold's own initialisation
    lines = result.describe()
    assert lines[0].startswith(f"initialised from {tmp_path / 'pre.pt'}: kept {len(saved) - 2} of {len(saved)} tensors (")
    assert (
        f"  re-initialised {output}weight: the MER output layer: 7 classes {list(seven)} in the checkpoint, 5 "
        "['happiness', 'disgust', 'repression', 'surprise', 'others'] here"
    ) in lines
    assert lines[-1].startswith("  kept: ") and "mer.conv.weight" in lines[-1]


def test_the_mer_output_layer_is_kept_only_for_the_same_classes(tmp_path):
    torch.manual_seed(1)
    pretrained = MOL(3, frames=4, **TINY)
    Checkpoint(pretrained.state_dict(), dict(TINY), 3, 4, NAMES).save(tmp_path / "pre.pt")
    weight = "mer.classifier.5.weight"
    torch.manual_seed(2)
    other = MOL(3, frames=4, **TINY)
    own = other.state_dict()[weight].clone()
    result = initialise(other, tmp_path / "pre.pt", ["x", "y", "z"])  # same count, other classes: re-initialised
    assert weight in result.reinitialised and torch.equal(other.state_dict()[weight], own)
    assert not torch.equal(own, pretrained.state_dict()[weight])
    same = MOL(3, frames=4, **TINY)
    assert initialise(same, tmp_path / "pre.pt", list(NAMES)).reinitialised == {}
    assert torch.equal(same.state_dict()[weight], pretrained.state_dict()[weight])
