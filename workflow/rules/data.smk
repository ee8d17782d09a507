# Stage 1: the datasets' video tables; the embedded synthetic dataset is generated here.


rule synthetic_dataset:
    input:
        # a pre-training's extra identities are made and preprocessed first (see the function)
        PLAN.labelled_generation_waits_for(),
    output:
        directory(CONFIG["synthetic"]["root"]),
    log:
        "results/logs/synthetic_dataset.log",
    priority: PLAN.generation_priority(CONFIG["synthetic"]["root"])
    conda:
        ENV
    threads: CONFIG["threads"]["synthetic"]
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        faces=CONFIG["synthetic"]["faces"],
        settings=PLAN.synthetic_json(),
        # the extra identities have a job of their own when synthetic.extra_root is set
        part="subjects" if PLAN.synthetic_extra_root() else "all",
    shell:
        "python -m mol_core.synthetic --out {output:q} --faces {params.faces:q} "
        "--settings {params.settings:q} --jobs {threads} --part {params.part} > {log:q} 2>&1 "
        "|| {{ tail -n 20 {log:q} >&2; exit 1; }}"


if PLAN.synthetic_extra_root():

    rule synthetic_extra:
        output:
            directory(PLAN.synthetic_extra_root()),
        log:
            "results/logs/synthetic_extra.log",
        priority: PLAN.generation_priority(PLAN.synthetic_extra_root())
        conda:
            ENV
        threads: CONFIG["threads"]["synthetic_extra"]
        resources:
            mem_mb=2000,
            runtime=60,
        params:
            faces=CONFIG["synthetic"]["faces"],
            settings=PLAN.synthetic_json(),
        shell:
            "python -m mol_core.synthetic --out {output:q} --faces {params.faces:q} "
            "--settings {params.settings:q} --jobs {threads} --part extra > {log:q} 2>&1 "
            "|| {{ tail -n 20 {log:q} >&2; exit 1; }}"


checkpoint videos:
    input:
        lambda wc: PLAN.dataset_source(wc.dataset),
    output:
        "results/{dataset}/videos.parquet",
    log:
        "results/logs/{dataset}/videos.log",
    conda:
        ENV
    params:
        loader=lambda wc: CONFIG["datasets"][wc.dataset]["loader"],
        root=lambda wc: PLAN.root_argument(wc.dataset),
        classes=lambda wc: len(PLAN.dataset_class_names(wc.dataset)),
        # --coding, --windows, --exclude and --strict, where the dataset sets them
        options=lambda wc: PLAN.table_options(wc.dataset),
        listing=lambda wc: PLAN.dataset_listing(wc.dataset),
    shell:
        "python -m mol_core.datasets table {params.loader} {params.root:q} --classes {params.classes} "
        "{params.options} --out {output:q} > {log:q} 2>&1 "
        "|| {{ tail -n 20 {log:q} >&2; exit 1; }}"
