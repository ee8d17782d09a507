# MOL: joint micro-expression recognition, optical flow and landmark detection.
# Stages: data -> preprocess (one job per subject) -> clips -> train (one job per fold) -> report.
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
    default_target: True
    input:
        # The summary (when an experiment has metrics), every experiment's target and
        # examples, and the pre-trainings named by `init`, planned from the start so they
        # run alongside the other experiments' preprocessing rather than after it.
        PLAN.default_targets(),
        run_markers,


# A run that made the summary ends by printing it (MOL_PRINT_SUMMARY=0: not; `make demo`
# prints it itself, also when there was nothing to do).
onsuccess:
    print_summary_if_made()
