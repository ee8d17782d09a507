# Stage 1: the datasets' video tables; the embedded synthetic dataset is generated here.


rule synthetic_dataset:
    output:
        directory(SYNTHETIC_ROOT),
    log:
        "results/logs/synthetic_dataset.log",
    conda:
        ENV
    threads: CONFIG["threads"]["synthetic"]
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        faces=CONFIG["synthetic"]["faces"],
        settings=as_json(
            {
                k: v
                for k, v in CONFIG["synthetic"].items()
                if k not in ("faces", "root")
            }
        ),
    shell:
        "python -m mol_core.synthetic --out {output:q} --faces {params.faces:q} "
        "--settings {params.settings:q} --jobs {threads} > {log:q} 2>&1 "
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
