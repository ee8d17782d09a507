# Stage 1: the datasets' video tables; the embedded synthetic dataset is generated here.


rule synthetic_dataset:
    input:
        # a pre-training's extra identities are made and preprocessed first (see the function)
        cfg.labelled_generation_waits_for(CONFIG),
    output:
        directory(SYNTHETIC_ROOT),
    log:
        "results/logs/synthetic_dataset.log",
    priority: cfg.generation_priority(CONFIG, SYNTHETIC_ROOT)
    conda:
        ENV
    threads: CONFIG["threads"]["synthetic"]
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        faces=CONFIG["synthetic"]["faces"],
        settings=synthetic_settings(),
        # the extra identities have a job of their own when synthetic.extra_root is set
        part="subjects" if SYNTHETIC_EXTRA_ROOT else "all",
    shell:
        "python -m mol_core.synthetic --out {output:q} --faces {params.faces:q} "
        "--settings {params.settings:q} --jobs {threads} --part {params.part} > {log:q} 2>&1 "
        "|| {{ tail -n 20 {log:q} >&2; exit 1; }}"


if SYNTHETIC_EXTRA_ROOT:

    rule synthetic_extra:
        output:
            directory(SYNTHETIC_EXTRA_ROOT),
        log:
            "results/logs/synthetic_extra.log",
        priority: cfg.generation_priority(CONFIG, SYNTHETIC_EXTRA_ROOT)
        conda:
            ENV
        threads: CONFIG["threads"]["synthetic_extra"]
        resources:
            mem_mb=2000,
            runtime=60,
        params:
            faces=CONFIG["synthetic"]["faces"],
            settings=synthetic_settings(),
        shell:
            "python -m mol_core.synthetic --out {output:q} --faces {params.faces:q} "
            "--settings {params.settings:q} --jobs {threads} --part extra > {log:q} 2>&1 "
            "|| {{ tail -n 20 {log:q} >&2; exit 1; }}"


checkpoint videos:
    input:
        dataset_source,
    output:
        "results/{dataset}/videos.parquet",
    log:
        "results/logs/{dataset}/videos.log",
    conda:
        ENV
    params:
        loader=lambda wc: dataset_config(wc.dataset)["loader"],
        root=lambda wc: dataset_root_argument(wc.dataset),
        classes=lambda wc: len(dataset_class_names(wc.dataset)),
        # --coding and --windows; named coding, so existing jobs' parameters stay the same
        coding=lambda wc: table_options(wc.dataset),
        listing=dataset_listing,
    shell:
        "python -m mol_core.datasets table {params.loader} {params.root:q} --classes {params.classes} "
        "{params.coding} --out {output:q} > {log:q} 2>&1 "
        "|| {{ tail -n 20 {log:q} >&2; exit 1; }}"
