"""Presets instead of overlays: what a run uses comes from its named preset and its own keys,
never from config.yaml's demo; ``python -m mol_core.config show`` prints exactly what the
workflow runs (held against Snakemake's own merge and validation)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from snakemake.utils import update_config, validate

from mol_core.config import apply_presets, preset
from mol_core.config.__main__ import main as config_main
from mol_core.config.effective import effective_view, paper_reference, resolved_config
from mol_core.errors import ConfigError
from mol_core.store.keys import TVL1_DEFAULTS
from mol_core.workflow_plan import WorkflowPlan

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((REPO / "workflow" / "examples").glob("*.yaml"))
# What an example may set beside the paper preset: the pre-training's length and validation faces.
PAPER_DEVIATIONS = {
    "pretrain_affwild2": {"train.steps", "train.eval_every", "train.val_subjects"},
    "pretrain_faces_unlabelled": {"model.mer_head", "train.steps", "train.eval_every", "train.val_subjects"},
}


def snakemake_config(*files: Path) -> dict:
    """The config as the Snakefile builds it: Snakemake's merge and validation."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    for path in files:
        update_config(config, yaml.safe_load(path.read_text()))
    config = apply_presets(config)
    validate(config, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    return WorkflowPlan.from_config(
        config,
        yaml.safe_load((REPO / "resources/ablations.yaml").read_text()),
        set(yaml.safe_load((REPO / "resources/paper_results.yaml").read_text())),
    ).config


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_runs_the_paper(example):
    config = resolved_config([example])
    assert config == snakemake_config(example)  # `show` is what the workflow runs
    assert config["preset"] == "paper"
    assert config["preprocess"]["flow"] == {} and config["threads"] == preset("paper")["threads"]  # TV-L1 at OpenCV's defaults
    paper = paper_reference()
    for name in WorkflowPlan(config).planned_experiments():
        settings = WorkflowPlan(config).experiment_settings(name)
        assert config["experiments"][name]["preset"] == "paper"
        assert settings["sampling"] == {"frames": 8, "scheme": "uniform"}
        differs = {
            f"{section}.{key}" for section in ("model", "train") for key in paper[section] if settings[section][key] != paper[section][key]
        }
        assert differs == PAPER_DEVIATIONS.get(name, set()), name


def test_show_prints_the_paper_for_an_example_and_the_demo_for_config_yaml(capsys):
    assert config_main(["show", "--configfile", str(REPO / "workflow/examples/casme2.yaml")]) == 0
    shown = yaml.safe_load(capsys.readouterr().out)
    assert shown["preprocess"]["flow"] == TVL1_DEFAULTS and (TVL1_DEFAULTS["nscales"], TVL1_DEFAULTS["warps"], TVL1_DEFAULTS["epsilon"]) == (
        5,
        5,
        0.01,
    )
    assert shown["preprocess"]["align"] == "per_frame"
    five = shown["experiments"]["casme2_5class"]
    assert (five["model"]["flow_width"], five["model"]["fusion"]) == (1.0, "concat")
    assert (five["train"]["batch_size"], five["train"]["lr"], five["train"]["optimizer"]) == (32, 5e-05, "adam")
    assert five["differs_from_paper"] == [] and set(shown["experiments"]) == {"casme2_5class", "casme2_3class"}
    assert config_main(["show"]) == 0
    demo = yaml.safe_load(capsys.readouterr().out)
    assert demo["preset"] == "demo" and demo["threads"]["train"] == 1
    assert {k: demo["preprocess"]["flow"][k] for k in ("nscales", "warps", "epsilon")} == {"nscales": 2, "warps": 4, "epsilon": 0.03}
    loso = demo["experiments"]["synthetic_loso"]
    assert (loso["model"]["flow_width"], loso["model"]["fusion"], loso["train"]["batch_size"], loso["train"]["steps"]) == (
        0.125,
        "subtract",
        8,
        100,
    )
    assert "model.fusion: subtract (paper: concat)" in loso["differs_from_paper"]
    assert "preprocess.flow.epsilon: 0.03 (paper: 0.01)" in loso["differs_from_paper"]
    assert "preprocess.align: per_video (paper: per_frame)" in loso["differs_from_paper"]


def test_nothing_of_the_demo_reaches_a_config_that_names_another_preset(tmp_path):
    mine = tmp_path / "mine.yaml"
    mine.write_text(yaml.safe_dump({"preset": "authors", "run": ["mine"], "experiments": {"mine": {"dataset": "synthetic"}}}))
    config = resolved_config([mine])
    authors = preset("authors")
    assert config["preprocess"] == authors["preprocess"] and config["threads"] == authors["threads"]
    train = config["experiments"]["mine"]["train"]
    assert (train["optimizer"], train["lr"], train["weight_decay"], train["loss_balance"]) == ("adamw", 0.0001, 0.001, "authors")
    assert train["selection"] == ["validation", "best_test", "authors"]  # their selections, labelled in every table
    assert config["experiments"]["mine"]["model"]["pair_weights"] == "separate"
    # the demo's own experiments keep their preset in the same merged config
    assert config["experiments"]["synthetic_loso"]["model"]["flow_width"] == 0.125


def test_a_key_the_config_sets_wins_over_its_preset():
    config = apply_presets(
        {"preset": "paper", "preprocess": {"flow": {"warps": 3}}, "experiments": {"e": {"dataset": "d", "train": {"steps": 7}}}}
    )
    assert config["preprocess"]["flow"] == {"warps": 3} and config["preprocess"]["size"] == 144
    assert config["experiments"]["e"]["train"]["steps"] == 7 and config["experiments"]["e"]["train"]["lr"] == 5e-05
    assert apply_presets({})["preset"] == "paper"  # no preset named: the paper's


def test_authors_balance_refuses_the_settings_it_would_override():
    given = {"experiments": {"e": {"dataset": "d", "train": {"loss_balance": "authors", "lambda_flow": 1.0, "flow_loss": "epe"}}}}
    with pytest.raises(ConfigError, match=r"experiments\.e\.train: loss_balance: authors .* lambda_flow, flow_loss would not be used"):
        apply_presets(given)
    ok = apply_presets({"experiments": {"e": {"dataset": "d", "train": {"loss_balance": "authors"}}}})
    assert "lambda_flow" not in ok["experiments"]["e"]["train"]  # the paper preset's weights are not kept beside it
    with pytest.raises(ConfigError, match=r"loss_balance: authors_readme .* lambda_landmark would not be used"):
        apply_presets({"experiments": {"e": {"dataset": "d", "train": {"loss_balance": "authors_readme", "lambda_landmark": 1.0}}}})
    with pytest.raises(ConfigError, match="preset: unknown 'paper2'; known: paper, authors, demo, quick"):
        apply_presets({"preset": "paper2"})


def test_each_experiment_keeps_its_record_and_its_report_says_how_it_differs_from_the_paper(tmp_path, capsys):
    from mol_core.config.effective import experiment_record
    from mol_core.report import paper_settings_note, settings_markdown

    demo = experiment_record(resolved_config(), "synthetic_loso")
    paper = experiment_record(resolved_config([REPO / "workflow/examples/casme2.yaml"]), "casme2_5class")
    assert paper["differs_from_paper"] == [] and paper["preprocess"]["flow"]["epsilon"] == 0.01
    assert demo["preset"] == "demo" and "train.lr: 0.001 (paper: 5e-05)" in demo["differs_from_paper"]
    for name, record in (("demo", demo), ("paper", paper)):
        out = tmp_path / name / "config.yaml"
        out.parent.mkdir()
        assert config_main(["write", "--settings", __import__("json").dumps(record), "--out", str(out)]) == 0
        assert yaml.safe_load(out.read_text()) == record
    text = settings_markdown(tmp_path / "demo" / "config.yaml")
    assert (
        f"**Not the paper's settings**: {len(demo['differs_from_paper'])} differ" in text and "- model.fusion: subtract (paper: concat)" in text
    )
    assert "Every setting is the `paper` preset's." in settings_markdown(tmp_path / "paper" / "config.yaml")
    assert paper_settings_note(tmp_path / "demo" / "metrics.csv").startswith(" (our run: NOT the paper's settings, preset demo;")
    assert paper_settings_note(tmp_path / "paper" / "metrics.csv") == " (our run: the paper's settings)"
    assert settings_markdown(None) == "" and paper_settings_note(tmp_path / "none" / "metrics.csv") == ""


def test_implicit_training_keys_are_the_training_defaults():
    from mol_core.config.effective import IMPLICIT_TRAIN
    from mol_core.train.loop import TrainSettings

    assert all(getattr(TrainSettings(), key) == value for key, value in IMPLICIT_TRAIN.items())


def test_model_builders_take_their_preset_options_keyword_only():
    import torch

    from mol_core.model import MOL, mol_authors, mol_demo, mol_paper

    paper, authors, demo = mol_paper(num_classes=5), mol_authors(num_classes=5), mol_demo(num_classes=5, frames=4)
    params = {name: sum(p.numel() for p in m.parameters()) for name, m in (("paper", paper), ("authors", authors), ("demo", demo))}
    assert params["paper"] == sum(p.numel() for p in MOL(5, **preset("paper")["model"]).parameters())
    assert 40e6 < params["paper"] < 45e6 and params["demo"] < params["paper"] / 5  # the FlowNetC-size head; the demo's small one
    assert paper.f5c_second is None and authors.f5c_second is not None  # shared F5C (paper) vs one per frame (their code)
    assert paper.fusion == "concat" and demo.fusion == "subtract" and demo.frames == 4
    assert mol_paper(num_classes=3, flow_head=False).flow is None  # a keyword overrides the preset
    out = mol_demo(num_classes=5, frames=4).eval()(torch.zeros(1, 1, 4, 128, 128))
    assert out["logits"].shape == (1, 5) and out["flow"].shape == (1, 3, 2, 128, 128)
    with pytest.raises(TypeError):
        mol_paper(5)  # keyword-only, as torchvision's builders


def test_the_flow_heads_options_are_one_typed_object():
    from mol_core.model import FlowHeadOptions, mol_demo, mol_paper

    assert mol_paper(num_classes=5).flow.options == FlowHeadOptions()  # the paper's head is FlowHeadOptions' defaults
    demo = mol_demo(num_classes=5, frames=4).flow.options
    assert demo == FlowHeadOptions.from_model_options(preset("demo")["model"]) and demo.width == 0.125 and demo.joint_stem
    half = mol_paper(num_classes=5, flow=FlowHeadOptions(width=0.5, resolution="quarter")).flow.options
    assert (half.width, half.resolution, half.skips) == (0.5, "quarter", "first")  # the object replaces every flow_* key
    with pytest.raises(ConfigError, match="flow resolution must be one of"):
        FlowHeadOptions(resolution="half")


def test_a_run_on_part_of_a_dataset_says_how_much_of_the_release_it_tested(tmp_path):
    from mol_core.config.effective import experiment_record
    from mol_core.report import paper_settings_note, release_coverage, settings_markdown

    record = experiment_record(resolved_config([REPO / "workflow/examples/casme2.yaml"]), "casme2_5class")
    assert release_coverage(record, 19, 5) == "19 of the complete release's 246 test videos (5 of 26 subjects)"
    out = tmp_path / "casme2_5class"
    out.mkdir()
    (out / "config.yaml").write_text(yaml.safe_dump(record))
    assert "Tested on 19 of the complete release's 246 test videos (5 of 26 subjects); the skipped videos" in settings_markdown(
        out / "config.yaml", 19, 5
    )
    __import__("pandas").DataFrame({"fold": ["sub01", "sub02"], "videos": [9, 10]}).to_csv(out / "per_fold.csv", index=False)
    assert (
        paper_settings_note(out / "metrics.csv")
        == " (our run: the paper's settings; 19 of the complete release's 246 test videos (2 of 26 subjects))"
    )
    demo = experiment_record(resolved_config(), "synthetic_loso")
    assert release_coverage(demo, 40, 8) == ""  # no published size: nothing claimed


@pytest.mark.parametrize("example", sorted((REPO / "workflow/examples").glob("*.yaml")), ids=lambda p: p.stem)
def test_the_quick_recipe_shrinks_training_and_keeps_the_papers_preprocessing(example):
    """workflow/quick.yaml after any example: the quick network and training, the first 5
    folds, and the same store keys and flow names as the paper run, so its cache is reused."""
    from mol_core.clips.sampling import Sampling
    from mol_core.store.keys import PreprocessSettings, flow_name

    paper = resolved_config([example])
    quick = resolved_config([example, REPO / "workflow/quick.yaml"])
    assert quick["preprocess"] == paper["preprocess"] and quick["sampling"] == paper["sampling"]
    for dataset in paper["datasets"]:
        assert WorkflowPlan(quick).store_key(dataset) == WorkflowPlan(paper).store_key(dataset)
    settings = [PreprocessSettings.from_dict(c["preprocess"]) for c in (paper, quick)]
    assert flow_name(Sampling(**quick["sampling"]), settings[0]) == flow_name(Sampling(**quick["sampling"]), settings[1])
    for name in quick["run"]:
        exp, own = quick["experiments"][name], yaml.safe_load(example.read_text())["experiments"][name]
        assert exp["preset"] == own.get("preset", "quick")
        assert exp["max_folds"] == own.get("max_folds", 5)
        if exp["preset"] == "quick":
            assert (exp["train"]["steps"], exp["train"]["batch_size"], exp["model"]["flow_width"]) == (200, 8, 0.125)
    name = quick["run"][0]
    if "max_folds" not in yaml.safe_load(example.read_text())["experiments"][name]:
        assert "max_folds: 5 (paper: every fold)" in effective_view(quick)["experiments"][name]["differs_from_paper"]


def test_a_bad_key_is_one_line_naming_it_and_the_known_keys():
    from mol_core.config.effective import with_schema_defaults

    config = apply_presets({"bogus_key": 1, "datasets": {"d": {"loader": "synthetic", "root": "."}}, "experiments": {"e": {"dataset": "d"}}})
    with pytest.raises(ConfigError) as error:
        with_schema_defaults(config)
    message = str(error.value)
    assert message.startswith("config key (top level): unknown key(s) 'bogus_key'; known keys here: ")
    assert "known keys here: " in message and "experiments" in message and "\n" not in message and len(message) < 400
    config = apply_presets(
        {"datasets": {"d": {"loader": "synthetic", "root": "."}}, "experiments": {"e": {"dataset": "d", "train": {"steps": 0}}}}
    )
    with pytest.raises(ConfigError, match=r"^config key experiments\.e\.train\.steps: 0 is less than the minimum of 1$"):
        with_schema_defaults(config)
    config = apply_presets(
        {"datasets": {"d": {"loader": "synthetic", "root": "."}}, "experiments": {"e": {"dataset": "d", "train": {"stepz": 5}}}}
    )
    with pytest.raises(
        ConfigError, match=r"^config key experiments\.e\.train: unknown key\(s\) 'stepz' \(did you mean steps\?\); known keys here: "
    ):
        with_schema_defaults(config)


def test_a_dataset_names_its_own_preprocessing(tmp_path):
    """A dataset's `preset` or `preprocess` keys give it its own preprocessing: its own
    store key and flow names, shown by `config show` and listed among the differences."""
    from mol_core.clips.sampling import Sampling
    from mol_core.store.keys import flow_name

    mine = tmp_path / "mine.yaml"
    text = (REPO / "workflow/examples/cross.yaml").read_text()
    config = yaml.safe_load(text)
    test = config["experiments"][config["run"][0]]["test_dataset"]
    config["datasets"][test]["preprocess"] = {"align": "smoothed", "align_sigma": 1.0}
    mine.write_text(yaml.safe_dump(config))
    resolved, plain = resolved_config([mine]), resolved_config([REPO / "workflow/examples/cross.yaml"])
    own = WorkflowPlan(resolved).dataset_preprocess(test)
    assert (own["align"], own["align_sigma"], own["flow"]) == ("smoothed", 1.0, resolved["preprocess"]["flow"])  # the rest: the top level's
    assert WorkflowPlan(resolved).store_key(test) != WorkflowPlan(plain).store_key(test)
    train = config["experiments"][config["run"][0]]["dataset"]
    assert WorkflowPlan(resolved).store_key(train) == WorkflowPlan(plain).store_key(train)  # other datasets untouched
    sampling = Sampling(8)
    assert flow_name(sampling, WorkflowPlan(resolved).preprocess_settings(test)) == flow_name(
        sampling, WorkflowPlan(plain).preprocess_settings(test)
    )  # TV-L1 unchanged
    differs = effective_view(resolved)["experiments"][config["run"][0]]["differs_from_paper"]
    assert f"datasets.{test}.preprocess.align: smoothed (paper: per_frame)" in differs and not any(d.startswith("preprocess.") for d in differs)
    config["datasets"][test] = {**config["datasets"][test], "preprocess": {"align": "sideways"}}
    mine.write_text(yaml.safe_dump(config))
    with pytest.raises(ConfigError, match=rf"datasets\.{test}\.preprocess: preprocess\.align must be one of"):
        resolved_config([mine])
    demo = apply_presets(
        {"preset": "paper", "datasets": {"d": {"loader": "synthetic", "root": ".", "preset": "demo"}}, "experiments": {"e": {"dataset": "d"}}}
    )
    assert demo["datasets"]["d"]["preprocess"] == preset("demo")["preprocess"] and demo["preprocess"] == preset("paper")["preprocess"]
