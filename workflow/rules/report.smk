# Stage 5: pooled metrics per experiment, and one summary table over all experiments.


rule experiment_report:
    input:
        fold_predictions,
    output:
        metrics="results/{experiment}/metrics.csv",
        markdown="results/{experiment}/metrics.md",
        per_fold="results/{experiment}/per_fold.csv",
        confusion="results/{experiment}/confusion.csv",
    params:
        out_dir="results/{experiment}",
        class_names=lambda wc: as_json(experiment_class_names(wc.experiment)),
    log:
        "results/logs/{experiment}/report.log",
    conda:
        ENV
    shell:
        "python -m mol_core.report experiment --name {wildcards.experiment} --class-names {params.class_names:q} "
        "--out-dir {params.out_dir} {input:q} > {log} 2>&1"


rule summary:
    input:
        expand("results/{experiment}/metrics.csv", experiment=RUN),
    output:
        "results/summary.md",
    log:
        "results/logs/summary.log",
    conda:
        ENV
    shell:
        "python -m mol_core.report summary --out {output} {input} > {log} 2>&1"


localrules:
    videos,
    clips,
    export,
    experiment_report,
    summary,
