"""Every ``python -m mol_core.<stage>`` ends the same way: the project's own errors (bad
settings, bad input) as ``error: <message>`` and exit status 1; bugs keep their traceback."""

from __future__ import annotations

import pandas as pd
import pytest

from mol_core.clips.index import main as clips_main
from mol_core.datasets.__main__ import main as datasets_main
from mol_core.errors import ConfigError, DataError, MolError
from mol_core.model.__main__ import main as model_main
from mol_core.predict.inference import main as predict_main
from mol_core.predict.showcase import main as showcase_main
from mol_core.preprocess.__main__ import main as preprocess_main
from mol_core.report import main as report_main
from mol_core.store.export import main as export_main
from mol_core.synthetic.__main__ import main as synthetic_main
from mol_core.train.loop import TrainSettings
from mol_core.train.loop import main as train_main
from mol_core.util.cli import command, error_context, run_cli


def test_run_cli_reports_the_projects_errors_and_returns_1(capsys):
    def broken_input(argv):
        raise DataError(f"{argv[0]}: truncated")

    assert run_cli(broken_input, ["a.csv"]) == 1
    assert capsys.readouterr().err == "error: a.csv: truncated\n"
    assert run_cli(lambda argv: None, []) == 0 and run_cli(lambda argv: 3, []) == 3


@pytest.mark.parametrize("bug", [TypeError("unsupported operand"), KeyError("label"), ValueError("math domain error")])
def test_programming_errors_are_not_caught(bug, capsys):
    @command
    def main(argv=None):
        raise bug

    with pytest.raises(type(bug)):
        main([])
    assert capsys.readouterr().err == ""


def test_error_context_names_the_job_and_keeps_the_type():
    with pytest.raises(DataError, match="^fold sub01: sub01/EP01.zarr: unreadable$"), error_context("fold sub01"):
        raise DataError("sub01/EP01.zarr: unreadable")


def test_bad_settings_are_config_errors_and_value_errors():
    with pytest.raises(ConfigError, match="select_on must be one of") as error:
        TrainSettings(select_on="val_f1")
    assert isinstance(error.value, ValueError) and isinstance(error.value, MolError)
    with pytest.raises(ConfigError, match=r"unknown train settings \['stepz'\]; known: steps, batch_size"):
        TrainSettings.from_dict({"stepz": 3})


@pytest.fixture
def files(tmp_path):
    """An (unread) clip table, a clip table with two flows, a video table and a skipped list."""
    (tmp_path / "clips.parquet").write_bytes(b"")
    pd.DataFrame({"subject": ["s"], "video": ["v"], "store": ["s/v.zarr"]}).to_parquet(tmp_path / "table.parquet")
    pd.DataFrame({"flow": ["uniform_t8-aaaa", "uniform_t4-bbbb"]}).to_parquet(tmp_path / "mixed.parquet")
    pd.DataFrame({"dataset": ["x"]}).to_parquet(tmp_path / "videos.parquet")
    pd.DataFrame(columns=["subject", "video", "reason"]).to_csv(tmp_path / "skipped.csv", index=False)
    (tmp_path / "file.txt").write_text("x")
    return tmp_path


CASES = {
    "synthetic values": (
        synthetic_main,
        ["--out", "{d}/out", "--faces", "{d}", "--settings", '{{"subjects": 0}}'],
        "error: synthetic: subjects and videos_per_class must be at least 1",
    ),
    "synthetic keys": (
        synthetic_main,
        ["--out", "{d}/out", "--faces", "{d}", "--settings", '{{"subjectz": 2}}'],
        "error: unknown synthetic settings ['subjectz']",
    ),
    "train keys": (
        train_main,
        ["--clips", "{d}/clips.parquet", "--fold", "sub01", "--out", "{d}/fold", "--class-names", '["a"]', "--settings", '{{"stepz": 5}}'],
        "error: fold sub01: unknown train settings ['stepz']",
    ),
    "train json": (
        train_main,
        ["--clips", "{d}/clips.parquet", "--fold", "sub01", "--out", "{d}/fold", "--class-names", '["a"]', "--settings", "{{steps: 5}}"],
        "error: fold sub01: --settings is not valid JSON",
    ),
    "train model": (
        train_main,
        ["--clips", "{d}/clips.parquet", "--fold", "sub01", "--out", "{d}/fold", "--class-names", '["a"]', "--model", '{{"wings": 2}}'],
        "error: fold sub01: unknown model options ['wings']",
    ),
    "preprocess": (
        preprocess_main,
        [
            "--videos",
            "{d}/videos.parquet",
            "--subject",
            "s",
            "--video",
            "v",
            "--store",
            "{d}/v.zarr",
            "--marker",
            "{d}/m.json",
            "--settings",
            '{{"flow": {{"lambd": 0.1}}}}',
        ],
        "error: --settings: unknown TV-L1 parameters ['lambd']",
    ),
    "verify": (preprocess_main, ["verify", "{d}/file.txt"], "file.txt: neither a .zarr store nor a folder"),
    "clips": (
        clips_main,
        [
            "--videos",
            "{d}/videos.parquet",
            "--markers",
            "{d}",
            "--settings",
            "{{}}",
            "--sampling",
            '{{"frames": 1}}',
            "--out",
            "{d}/c.parquet",
            "--skipped",
            "{d}/s.csv",
        ],
        "error: a clip needs at least 2 frames, got frames=1",
    ),
    "model": (model_main, ["--summary", "--option", "wings=2"], "error: unknown model options ['wings']"),
    "model syntax": (model_main, ["--summary", "--option", "fusion"], "error: --option 'fusion': expected NAME=VALUE"),
    "report": (
        report_main,
        ["experiment", "--name", "x", "--class-names", "[a", "--out-dir", "{d}", "{d}/table.parquet"],
        "error: --class-names is not valid JSON",
    ),
    "predict": (predict_main, ["--checkpoint", "{d}/absent.pt", "{d}/video.mp4"], "error: checkpoint not found: {d}/absent.pt"),
    "showcase": (
        showcase_main,
        ["--checkpoint", "{d}/absent.pt", "--clips", "{d}/table.parquet", "--out-dir", "{d}/ex"],
        "error: checkpoint not found: {d}/absent.pt",
    ),
    "datasets": (datasets_main, ["table", "casme2", "{d}/nowhere", "--out", "{d}/v.parquet"], "error: "),
    "export": (
        export_main,
        ["--videos", "{d}/videos.parquet", "--clips", "{d}/mixed.parquet", "--skipped", "{d}/skipped.csv", "--out", "{d}/x.h5"],
        "error: the clip index mixes flows",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_command_reports_bad_settings_and_input_in_one_line(case, files, capsys):
    main, argv, expected = CASES[case]
    assert main([a.format(d=files) for a in argv]) == 1
    err = capsys.readouterr().err
    assert expected.format(d=files) in err and err.startswith("error: ") and "Traceback" not in err


def test_a_missing_input_file_is_a_usage_error_naming_it(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        train_main(["--clips", str(tmp_path / "absent.parquet"), "--fold", "a", "--out", str(tmp_path), "--class-names", "[]"])
    assert exit_.value.code == 2 and f"no such file: {tmp_path / 'absent.parquet'}" in capsys.readouterr().err
