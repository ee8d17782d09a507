"""The example configs of the paper's Tables 4-7 are valid and plan the right jobs."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys

import pytest
import yaml

from mol_core.workflow_plan import WorkflowPlan

from .conftest import FACES, REPO
from .fake_datasets import (
    AFFWILD2_FACES,
    casme2_distribution,
    casme3_distribution,
    samm_distribution,
    smic_distribution,
    write_affwild2,
    write_casme2,
    write_casme3,
    write_samm,
    write_smic,
)
from .helpers import planned_jobs

EXAMPLES = sorted((REPO / "workflow" / "examples").glob("*.yaml"))


@pytest.fixture(scope="module")
def fake_roots(tmp_path_factory):
    root = tmp_path_factory.mktemp("fake_real")
    return {
        "/data/CASME2": str(write_casme2(root / "CASME2", casme2_distribution(), with_frames=False)),
        "/data/SAMM": str(write_samm(root / "SAMM", samm_distribution()[:3])),
        "/data/SMIC": str(write_smic(root / "SMIC", smic_distribution()[:3])),
        "/data/CASME3": str(write_casme3(root / "CASME3", casme3_distribution()[:3])),
        "/data/Aff-Wild2": str(write_affwild2(root / "Aff-Wild2", AFFWILD2_FACES)),
        "/data/faces": str(write_smic(root / "faces", smic_distribution()[:2])),
    }


def test_every_table_has_an_example():
    assert [p.name for p in EXAMPLES] == [
        "casme2.yaml",
        "casme3.yaml",
        "composite.yaml",
        "cross.yaml",
        "cross_casme3.yaml",
        "lodo.yaml",
        "pretrain.yaml",
        "samm.yaml",
        "smic.yaml",
    ]


def test_the_config_schema_accepts_every_loader_and_protocol():
    from mol_core.datasets import LOADERS
    from mol_core.datasets.labels import dataset_facts

    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    dataset = schema["properties"]["datasets"]["additionalProperties"]["properties"]
    assert dataset["loader"]["enum"] == list(LOADERS)
    assert set(dataset["classes"]["enum"]) == {n for name in LOADERS for n in dataset_facts(name)["classes"]}


def dry_run(example, fake_roots, tmp_path, *more_configfiles) -> tuple[str, subprocess.CompletedProcess]:
    """``snakemake -n`` of an example (its data roots pointed at fake copies) in ``tmp_path``,
    with config.yaml's synthetic faces found: (the example's text, the result)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    text = example.read_text()
    for placeholder, real in fake_roots.items():
        text = text.replace(placeholder, real)
    (tmp_path / "example.yaml").write_text(text)
    base = yaml.safe_load((REPO / "config.yaml").read_text())
    base["synthetic"]["faces"] = str(FACES)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(base))
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path)]
    command += ["--configfile", str(tmp_path / "example.yaml"), *map(str, more_configfiles), "-n"]
    return text, subprocess.run(command, capture_output=True, text=True)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_example_config_plans_its_experiments(example, fake_roots, tmp_path):
    text, result = dry_run(example, fake_roots, tmp_path)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    config = yaml.safe_load(text)
    run = set(config["run"]) | {config["experiments"][e]["init"] for e in config["run"] if "init" in config["experiments"][e]}
    used = {d for e in run for d in WorkflowPlan(config).experiment_datasets(e)}
    plan = planned_jobs(result.stdout + result.stderr)
    assert plan.get("videos") == len(used), plan
    assert "synthetic_dataset" not in plan  # only the example's experiments run
    if all(WorkflowPlan(config).dataset_folds(e) for e in run):  # folds known before the data is read: cross, lodo
        assert plan.get("train") == sum(len(WorkflowPlan(config).dataset_folds(e)) for e in run), plan


@pytest.mark.parametrize("example", ["casme2", "cross"])
def test_the_quick_recipe_plans_the_same_data_with_a_small_training(example, fake_roots, tmp_path):
    """README's quick recipe (``--configfile <example> workflow/quick.yaml``) plans as the
    example does, with the quick preset's training."""
    _, result = dry_run(REPO / "workflow/examples" / f"{example}.yaml", fake_roots, tmp_path, REPO / "workflow/quick.yaml")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    _, paper = dry_run(REPO / "workflow/examples" / f"{example}.yaml", fake_roots, tmp_path / "paper")
    quick_plan, paper_plan = planned_jobs(result.stdout + result.stderr), planned_jobs(paper.stdout + paper.stderr)
    assert {k: v for k, v in quick_plan.items() if k != "experiment_config"} == {k: v for k, v in paper_plan.items() if k != "experiment_config"}


def documented_commands() -> list[tuple[str, str]]:
    """(where, command) of every `snakemake ...` command in the README, the docs and the examples."""
    found = []
    for path in [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md")), *EXAMPLES]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            found += [(f"{path.name}:{number}", m.group(0).strip()) for m in re.finditer(r"(?<![\w/.-])snakemake(?=[ `]|$)[^`#\n|]*", line)]
    return found


def test_every_documented_command_means_what_it_says():
    """Snakemake's --configfile (and --resources) take several values: a target written after
    them is read as a config file (issue 15, item 8)."""
    from snakemake.cli import get_argument_parser

    parser = get_argument_parser()
    commands = documented_commands()
    assert len(commands) > 10 and any("ablations" in c for _, c in commands)
    for where, command in commands:
        args = parser.parse_args(shlex.split(command)[1:])
        for configfile in args.configfile or []:
            assert (REPO / configfile).is_file(), f"{where}: {command}: {configfile} is no config file"
        assert not [t for t in args.targets if t.endswith(".yaml")], f"{where}: {command}"


def test_the_readme_is_a_guide_of_at_most_250_lines_linking_every_reference_page():
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    pages = sorted(p.name for p in (REPO / "docs").glob("*.md") if p.name != "index.md")
    assert [p for p in pages if f"docs/{p}" not in readme] == []
