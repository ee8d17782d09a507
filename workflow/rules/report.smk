# Stage 5: pooled metrics per experiment, and one summary table over all experiments.


# What an experiment runs, resolved (preset, network, training, sampling, preprocessing with
# TV-L1's defaults written out) and every setting in which it differs from the paper preset.
rule experiment_config:
    output:
        "results/{experiment}/config.yaml",
    log:
        "results/logs/{experiment}/config.log",
    conda:
        ENV
    params:
        settings=lambda wc: as_json(experiment_record(CONFIG, wc.experiment)),
    shell:
        "python -m mol_core.config write --settings {params.settings:q} --out {output:q} > {log:q} 2>&1 "
        "|| {{ tail -n 20 {log:q} >&2; exit 1; }}"


rule experiment_report:
    input:
        predictions=fold_predictions,
        config="results/{experiment}/config.yaml",
    output:
        metrics=report(
            "results/{experiment}/metrics.csv",
            caption="../report/metrics.rst",
            category="{experiment}",
        ),
        markdown="results/{experiment}/metrics.md",
        per_fold=report(
            "results/{experiment}/per_fold.csv",
            caption="../report/per_fold.rst",
            category="{experiment}",
        ),
        confusion="results/{experiment}/confusion.csv",
        confusion_png=report(
            "results/{experiment}/confusion.png",
            caption="../report/confusion.rst",
            category="{experiment}",
        ),
        curves=report(
            "results/{experiment}/curves.png",
            caption="../report/curves.rst",
            category="{experiment}",
        ),
    log:
        "results/logs/{experiment}/report.log",
    wildcard_constraints:
        experiment=one_of(
            [e for e in PLAN.experiments() if e not in PLAN.seeded_experiments()]
        ),
    conda:
        ENV
    params:
        out_dir=lambda wc, output: os.path.dirname(output.metrics),
        class_names=lambda wc: as_json(PLAN.experiment_class_names(wc.experiment)),
        protocol=lambda wc: CONFIG["experiments"][wc.experiment].get("protocol", "loso"),
    shell:
        "python -m mol_core.report experiment --name {wildcards.experiment:q} --class-names {params.class_names:q} "
        "--protocol {params.protocol} --config {input.config:q} --out-dir {params.out_dir:q} {input.predictions:q} > {log:q} 2>&1 "
        "|| {{ tail -n 20 {log:q} >&2; exit 1; }}"


# An experiment with `seeds`: each metric's mean and std over its seed runs
# (`<experiment>_seed<n>`, each reported by experiment_report), beside each seed's figure.
rule seeds_report:
    input:
        lambda wc: [f"results/{e}/metrics.csv" for e in PLAN.seed_runs(wc.experiment)],
    output:
        metrics=report(
            "results/{experiment}/metrics.csv",
            caption="../report/seeds.rst",
            category="{experiment}",
        ),
        markdown="results/{experiment}/metrics.md",
        per_fold="results/{experiment}/per_fold.csv",
    log:
        "results/logs/{experiment}/report.log",
    wildcard_constraints:
        experiment=one_of(PLAN.seeded_experiments()),
    conda:
        ENV
    params:
        out_dir="results/{experiment}",
        seeds=lambda wc: as_json(PLAN.experiment_seeds(wc.experiment)),
    shell:
        "python -m mol_core.report seeds --name {wildcards.experiment:q} --seeds {params.seeds:q} "
        "--out-dir {params.out_dir:q} {input:q} > {log:q} 2>&1 "
        "|| {{ tail -n 20 {log:q} >&2; exit 1; }}"


rule summary:
    input:
        [PLAN.experiment_target(e) for e in PLAN.evaluated_experiments()],
    output:
        report(
            "results/summary.md", caption="../report/summary.rst", category="Summary"
        ),
    log:
        "results/logs/summary.log",
    conda:
        ENV
    params:
        paper=lambda wc: as_json(
            {
                e: CONFIG["experiments"][e]["paper"]
                for e in PLAN.run_list()
                if CONFIG["experiments"][e].get("paper")
            }
        ),
        results=f"{workflow.basedir}/resources/paper_results.yaml",
    shell:
        "python -m mol_core.report summary --out {output:q} --paper-results {params.results:q} "
        "--paper {params.paper:q} {input:q} > {log:q} 2>&1 "
        "|| {{ tail -n 20 {log:q} >&2; exit 1; }}"


rule ablations:
    input:
        [f"results/{e}/metrics.csv" for e in PLAN.ablations],
    output:
        markdown=report(
            "results/ablations.md",
            caption="../report/ablations.rst",
            category="Ablations",
        ),
        table="results/ablations.csv",
    log:
        "results/logs/ablations.log",
    conda:
        ENV
    params:
        paper=lambda wc: as_json(
            {e: CONFIG["experiments"][e]["paper"] for e in PLAN.ablations}
        ),
        results=f"{workflow.basedir}/resources/paper_results.yaml",
    shell:
        "python -m mol_core.report ablations --out {output.markdown:q} --table {output.table:q} "
        "--paper-results {params.results:q} --paper {params.paper:q} {input:q} > {log:q} 2>&1 "
        "|| {{ tail -n 20 {log:q} >&2; exit 1; }}"


localrules:
    videos,
    clips,
    clips_sampling,
    export,
    experiment_report,
    seeds_report,
    summary,
    ablations,


rule showcase:
    input:
        unpack(
            lambda wc: {
                "models": expand(
                    "results/{experiment}/folds/{fold}/model.pt",
                    experiment=wc.experiment,
                    fold=experiment_folds(wc.experiment),
                ),
                "clips": PLAN.test_clips(wc.experiment),
            }
        ),
    output:
        sheets=report(
            expand(
                "results/{{experiment}}/examples/example_{i}.png",
                i=range(CONFIG["examples"]),
            ),
            caption="../report/examples.rst",
            category="{experiment}",
        ),
        videos=expand(
            "results/{{experiment}}/examples/example_{i}.mp4",
            i=range(CONFIG["examples"]),
        ),
        json="results/{experiment}/examples/examples.json",
    log:
        "results/logs/{experiment}/showcase.log",
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        # Read through get(): in a dry run before the clip index exists the inputs are
        # still placeholders without names.
        models=lambda wc, input: " ".join(
            map(shlex.quote, input.get("models", ["<TBD>"]))
        ),
        clips=lambda wc, input: " ".join(
            map(shlex.quote, input.get("clips", ["<TBD>"]))
        ),
        out_dir="results/{experiment}/examples",
        n=CONFIG["examples"],
    shell:
        "python -m mol_core.predict.showcase --checkpoint {params.models} --clips {params.clips} --count {params.n} "
        "--out-dir {params.out_dir:q} > {log:q} 2>&1 "
        "|| {{ tail -n 20 {log:q} >&2; exit 1; }}"
