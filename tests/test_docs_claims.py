"""Claims in the README and docs/ that cannot go stale silently (issue 31, item 4): every
shell command parses and names what exists (modules, scripts, their flags, make targets),
and the values the code defines are the ones the pages state."""

from __future__ import annotations

import importlib
import importlib.util
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

from mol_core.config.effective import resolved_config

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
COMMANDS = ("python", "python3", "snakemake", "make", "mkdir", "ln", "pip", "source", "sbatch", "cp")


def commands_of(text: str) -> list[tuple[int, str]]:
    """(line, command) of every shell command of a page: the lines of ```bash/sh/shell
    blocks, indented code lines, and inline code spans, that start with a known command."""
    found, fence = [], None
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("```"):
            fence = None if fence is not None else (stripped[3:].strip() or "text")
            continue
        if fence in ("bash", "sh", "shell") or (fence is None and line.startswith("    ") and not line.lstrip().startswith(("-", "|"))):
            candidates = [stripped]
        elif fence is None:
            candidates = re.findall(r"`([^`]+)`", line)
        else:
            continue
        for candidate in candidates:
            words = candidate.split()
            if words and words[0] in COMMANDS and len(words) > 1 and not candidate.endswith("\\"):
                found.append((number, candidate))
    return found


def documented_commands() -> list[tuple[str, str]]:
    return [(f"{page.relative_to(REPO)}:{n}", c) for page in PAGES for n, c in commands_of(page.read_text())]


def module_source(module: str) -> str:
    """The source text of a ``python -m`` module's package folder (or its file)."""
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin, module
    origin = Path(spec.origin)
    files = sorted(origin.parent.glob("*.py")) if origin.name in ("__init__.py", "__main__.py") else [origin]
    return "\n".join(f.read_text() for f in files)


def flags_of(words: list[str]) -> list[str]:
    return [w.split("=", 1)[0] for w in words if w.startswith("--") and len(w) > 2]


def check_python(words: list[str], where: str) -> None:
    args = words[1:]
    if args[0] == "-m":
        module = args[1]
        if module in ("pip", "pytest", "venv", "mkdocs"):
            return
        source = module_source(module)
        rest = args[2:]
    elif args[0] == "-c":
        return
    else:
        script = REPO / args[0]
        assert script.is_file(), f"{where}: {args[0]} does not exist"
        source, rest = script.read_text(), args[1:]
    unknown = [f for f in flags_of(rest) if f'"{f}"' not in source and f"'{f}'" not in source]
    assert not unknown, f"{where}: {' '.join(words)}: no such option {unknown}"


def test_every_documented_shell_command_parses_and_names_what_exists():
    commands = documented_commands()
    assert len(commands) > 40
    make_targets = set(re.findall(r"^([\w-]+):", (REPO / "Makefile").read_text(), re.M))
    placeholder = re.compile(r"<[\w .|/-]+>")  # <stage>, <name>: a documented slot, not a file
    script = "\n".join(placeholder.sub("PLACEHOLDER", c) for _, c in commands)
    parsed = subprocess.run(["bash", "-n"], input=script, text=True, capture_output=True)
    lines = re.findall(r"line (\d+)", parsed.stderr)
    assert parsed.returncode == 0, f"{commands[int(lines[0]) - 1] if lines else ''}: {parsed.stderr}"
    for where, command in commands:
        if placeholder.search(command) or "..." in command:  # a slot or an abbreviation: parsed, not resolved
            continue
        words = shlex.split(command, comments=True)
        if words[0] in ("python", "python3"):
            check_python(words, where)
        elif words[0] == "make":
            assert all(t in make_targets or "=" in t for t in words[1:]), f"{where}: {command}: no such make target"


def test_the_commands_found_include_each_kind():
    """The collector sees fenced, indented and inline commands (so the test above cannot pass
    by finding nothing)."""
    text = "```bash\nmake demo\n```\n\n    python -m mol_core.config show\n\nRun `snakemake -n` first.\n"
    assert [c for _, c in commands_of(text)] == ["make demo", "python -m mol_core.config show", "snakemake -n"]
    with pytest.raises(AssertionError, match="no such option"):
        check_python(["python", "-m", "mol_core.config", "show", "--no-such-flag"], "here")


def table_rows(page: str, first_column: str) -> dict[str, list[str]]:
    """Rows of the markdown tables of a docs page whose first cell starts with ``first_column``."""
    rows = {}
    for line in (REPO / "docs" / page).read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0].startswith(first_column):
            rows[cells[0]] = cells[1:]
    return rows


def stated(cell: str, count: int) -> list:
    """The ``count`` comma-separated values a cell states first (before any parenthesis)."""
    head = re.split(r"\s\(", cell, maxsplit=1)[0]
    values = [yaml.safe_load(v.strip().strip("`")) for v in head.split(",")][:count]
    return values


def test_the_demo_and_paper_table_states_the_presets_values():
    """docs/configuration.md's demo-vs-paper rows against what config.yaml (demo) and an
    example config (paper) resolve to."""
    demo = resolved_config([])["experiments"]["synthetic_loso"]
    paper = resolved_config([str(REPO / "workflow/examples/casme2.yaml")])["experiments"]["casme2_5class"]
    rows = table_rows("configuration.md", "`experiments.*.")
    assert len(rows) >= 6
    checked = 0
    for key_cell, (demo_cell, paper_cell) in ((k, v[:2]) for k, v in rows.items()):
        keys = re.findall(r"`([^`]+)`", key_cell)
        section = keys[0].split(".")[2]
        names = [keys[0].split(".")[-1], *keys[1:]]
        for resolved, cell in ((demo, demo_cell), (paper, paper_cell)):
            values = stated(cell, len(names))
            expected = [resolved[section].get(name) for name in names]
            assert values == expected, f"{key_cell}: the page says {values}, the config resolves to {expected}"
            checked += 1
    assert checked >= 12


def test_the_train_settings_listed_are_the_train_settings():
    """Every field of TrainSettings is named in docs/configuration.md's experiments row."""
    from dataclasses import fields

    from mol_core.train.loop import TrainSettings

    row = next(line for line in (REPO / "docs/configuration.md").read_text().splitlines() if line.startswith("| `experiments.<name>` |"))
    missing = [f.name for f in fields(TrainSettings) if f"`{f.name}`" not in row]
    assert not missing, f"train settings not documented in docs/configuration.md: {missing}"


def test_every_python_example_compiles_and_imports_what_exists():
    """The ```python blocks of the README and docs: valid Python whose ``from mol_core...``
    imports name what the package has."""
    blocks = []
    for page in PAGES:
        blocks += [(page.name, b) for b in re.findall(r"```python\n(.*?)```", page.read_text(), re.S)]
    assert blocks
    for where, code in blocks:
        compile(code, where, "exec")
        for module, names in re.findall(r"^from (mol_core[\w.]*) import (.+)$", code, re.M):
            imported = importlib.import_module(module)
            missing = [n.strip() for n in names.split(",") if not hasattr(imported, n.strip())]
            assert not missing, f"{where}: {module} has no {missing}"
