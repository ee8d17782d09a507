"""The package layout of ../shared/layout.md: what importing a part pulls in, and the layers."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO
from .helpers import loaded_after

PACKAGE = REPO / "mol_core"

# Each part's level: a module may import from its own part or from parts of a lower level.
# The synthetic set's file layout is a fact every part may read (layout.md: "its file layout
# in one module that Data and evaluation import").
LEVELS = {
    "common": 0,
    "metrics": 0,
    "synthetic.layout": 0,
    "datasets": 1,
    "store": 1,
    "clips.sampling": 2,
    "preprocess": 3,
    "synthetic": 3,
    "clips": 4,
    "model": 5,
    "train": 6,
    "report": 7,
    "predict": 7,
    "workflow_config": 8,  # the Workflow part: the config's meaning, for the Snakefile
    "workflow_plan": 8,  # the Workflow part: the plan built once from it
    "workflow_inputs": 8,  # the Workflow part: what its jobs read from disk when planned
    "config": 8,  # the Workflow part too: presets and the effective config
}
COMMON = {"util", "errors", "face68", "__init__"}
ALIASES = {"export": "store"}  # the shim that keeps `python -m mol_core.export`
NEVER = [
    ("model", {"datasets", "preprocess", "store", "clips", "clips.sampling", "train"}),
    ("store", {"preprocess", "model"}),
    ("datasets", {"preprocess", "model"}),
    ("metrics", {"model"}),
]


def part_of(module: str) -> str:
    """``mol_core.a.b`` -> its part name in LEVELS."""
    parts = module.split(".")[1:] or ["__init__"]
    for special in ("synthetic.layout", "clips.sampling"):
        if ".".join(parts[:2]) == special:
            return special
    return "common" if parts[0] in COMMON else ALIASES.get(parts[0], parts[0])


def imported_modules(path: Path) -> set[str]:
    """Absolute mol_core modules (and ``snakemake``) that a file imports anywhere, except
    under ``if TYPE_CHECKING:``."""
    module = ".".join(path.relative_to(REPO).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    package = package.removesuffix(".__init__")
    tree = ast.parse(path.read_text())
    skipped = {
        id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test) for n in ast.walk(node)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)  # `from . import x` may name a module
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m.startswith("mol_core") or m.split(".")[0] == "snakemake"}


def is_module(name: str) -> bool:
    path = REPO / Path(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def dependency_edges() -> list[tuple[str, str, str]]:
    """(file, its part, imported part) for every import between parts of mol_core."""
    edges = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = part_of(".".join(path.relative_to(REPO).with_suffix("").parts))
        for target in imported_modules(path):
            if target.split(".")[0] == "snakemake":
                edges.append((str(path.relative_to(REPO)), source, "snakemake"))
            elif is_module(target) and part_of(target) != source:
                edges.append((str(path.relative_to(REPO)), source, part_of(target)))
    return edges


def test_every_part_imports_only_from_lower_layers():
    edges = dependency_edges()
    assert edges, "the import walk found no edges: it is broken"
    upward = [(f, s, t) for f, s, t in edges if t == "snakemake" or LEVELS[t] > LEVELS[s]]
    assert not upward, upward


def test_never_rules_of_the_layout_hold():
    edges = dependency_edges()
    broken = [(f, s, t) for f, s, t in edges for source, forbidden in NEVER if s == source and t in forbidden]
    assert not broken, broken
    predict_to_train_cli = [f for f, s, t in edges if s == "predict" and t == "train"]
    assert not predict_to_train_cli  # Predict and Train's CLI never import each other
    assert not [f for f, s, t in edges if s == "train" and t == "predict"]


def test_the_walk_sees_a_forbidden_import(tmp_path, monkeypatch):
    """The checker itself can fail: a model module importing a store is reported."""
    fake = tmp_path / "mol_core"
    (fake / "model").mkdir(parents=True)
    (fake / "store").mkdir()
    for init in (fake / "__init__.py", fake / "model" / "__init__.py", fake / "store" / "__init__.py"):
        init.write_text("")
    (fake / "model" / "bad.py").write_text("from ..store import open_store\n")
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    assert ("mol_core/model/bad.py", "model", "store") in dependency_edges()


@pytest.mark.parametrize("module", ["mol_core.train", "mol_core.clips", "mol_core.store", "mol_core.report"])
def test_training_and_store_readers_load_neither_opencv_nor_dlib(module):
    loaded = loaded_after(f"import {module}")
    assert "cv2" not in loaded and "dlib" not in loaded
    assert not any(m.startswith("mol_core.preprocess") for m in loaded)


def test_datasets_load_no_preprocessing_and_no_torch():
    loaded = loaded_after("import mol_core.datasets")
    assert "torch" not in loaded and "cv2" not in loaded
    assert not any(m.startswith(("mol_core.preprocess", "mol_core.synthetic.generate")) for m in loaded)


def test_parsing_the_snakefile_loads_neither_opencv_nor_torch(tmp_path):
    """A dry run of a fresh directory, with an exit hook that records what was imported."""
    hook = tmp_path / "hook"
    hook.mkdir()
    record = tmp_path / "modules.json"
    (hook / "sitecustomize.py").write_text(
        f"import atexit, json, sys\natexit.register(lambda: open({str(record)!r}, 'w').write(json.dumps(sorted(sys.modules))))\n"
    )
    env = {**__import__("os").environ, "PYTHONPATH": f"{hook}:{REPO}"}
    work = tmp_path / "work"
    work.mkdir()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "--snakefile",
            str(REPO / "Snakefile"),
            "--directory",
            str(work),
            "--configfile",
            str(REPO / "config.yaml"),
            "-n",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    loaded = set(json.loads(record.read_text()))
    assert "snakemake" in loaded and "mol_core.store.keys" in loaded  # the hook saw the parse
    assert not {"cv2", "dlib", "torch"} & loaded


def test_no_test_module_imports_another():
    """Shared helpers live in tests/helpers.py (and conftest, fake_datasets), not in test modules."""
    offenders = []
    for path in sorted((REPO / "tests").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[-1].startswith("test_"):
                offenders.append(f"{path.name}: from {'.' * node.level}{node.module}")
    assert offenders == []


def test_common_smk_is_glue_and_the_plan_has_no_config_first_functions():
    """Issue 28: the config's meaning lives in one WorkflowPlan; common.smk only binds it to
    Snakemake (checkpoints, dry runs) in at most 100 lines, and no module-level function of
    the workflow modules takes the config as its first argument."""
    assert len((REPO / "workflow" / "rules" / "common.smk").read_text().splitlines()) <= 100
    for name in ("workflow_plan", "workflow_inputs"):
        tree = ast.parse((PACKAGE / f"{name}.py").read_text())
        config_first = [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.args.args and n.args.args[0].arg == "config"]
        assert config_first == [], name
