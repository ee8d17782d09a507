# MOL: joint micro-expression recognition, optical flow and landmark detection.
# Stages: data -> preprocess (one job per video) -> clips -> train (one job per fold) -> report.
# Rules are thin: each calls one `python -m mol_core.<stage>` entry point.

configfile: "config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/preprocess.smk"
include: "workflow/rules/clips.smk"
include: "workflow/rules/flow_images.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        "results/summary.md",
        [experiment_target(e) for e in RUN],
        # Pre-trainings named by `init`, planned from the start so they run alongside the
        # other experiments' preprocessing rather than after it.
        [experiment_target(experiment_config(e)["init"]) for e in RUN if experiment_config(e).get("init")],
        [experiment_examples(e) for e in RUN],
        run_markers,
    default_target: True
