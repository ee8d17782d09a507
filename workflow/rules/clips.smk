# Stage 3: the clip index of a dataset, and the list of videos that were skipped.


checkpoint clips:
    input:
        videos="results/{dataset}/videos.parquet",
        markers=dataset_markers,
    output:
        clips="results/{dataset}/clips.parquet",
        skipped=report(
            "results/{dataset}/skipped.csv",
            caption="../report/skipped.rst",
            category="Skipped videos",
            subcategory="{dataset}",
        ),
    log:
        "results/logs/{dataset}/clips.log",
    priority: lambda wc: PLAN.dataset_priority(wc.dataset)
    conda:
        ENV
    params:
        markers=lambda wc: PLAN.marker_dir(wc.dataset, PLAN.default_sampling),
        settings=lambda wc: PLAN.preprocess_json(wc.dataset),
        sampling=as_json(CONFIG["sampling"]),
    shell:
        "python -m mol_core.clips --videos {input.videos:q} --markers {params.markers:q} "
        "--settings {params.settings:q} --sampling {params.sampling:q} --out {output.clips:q} --skipped {output.skipped:q} > {log:q} 2>&1 "
        "|| {{ tail -n 20 {log:q} >&2; exit 1; }}"


# The same for a clip sampling other than the config's (an experiment's own `sampling`).
checkpoint clips_sampling:
    input:
        videos="results/{dataset}/videos.parquet",
        markers=dataset_markers,
    output:
        clips="results/{dataset}/samplings/{sampling}/clips.parquet",
        skipped="results/{dataset}/samplings/{sampling}/skipped.csv",
    log:
        "results/logs/{dataset}/clips_{sampling}.log",
    priority: lambda wc: PLAN.dataset_priority(wc.dataset)
    conda:
        ENV
    params:
        markers=lambda wc: PLAN.marker_dir(wc.dataset, Sampling.from_name(wc.sampling)),
        settings=lambda wc: PLAN.preprocess_json(wc.dataset),
        sampling=lambda wc: as_json(vars(Sampling.from_name(wc.sampling))),
    shell:
        "python -m mol_core.clips --videos {input.videos:q} --markers {params.markers:q} "
        "--settings {params.settings:q} --sampling {params.sampling:q} --out {output.clips:q} --skipped {output.skipped:q} > {log:q} 2>&1 "
        "|| {{ tail -n 20 {log:q} >&2; exit 1; }}"


rule export:
    input:
        videos="results/{dataset}/videos.parquet",
        clips="results/{dataset}/clips.parquet",
        skipped="results/{dataset}/skipped.csv",
    output:
        "results/{dataset}/{dataset}.h5",
    log:
        "results/logs/{dataset}/export.log",
    conda:
        ENV
    shell:
        "python -m mol_core.store.export --videos {input.videos:q} --clips {input.clips:q} --skipped {input.skipped:q} "
        "--out {output:q} > {log:q} 2>&1 "
        "|| {{ tail -n 20 {log:q} >&2; exit 1; }}"
