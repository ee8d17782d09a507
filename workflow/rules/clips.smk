# Stage 3: the clip index of a dataset, and the list of videos that were skipped.


checkpoint clips:
    input:
        videos="results/{dataset}/videos.parquet",
        stores=dataset_stores,
    output:
        clips="results/{dataset}/clips.parquet",
        skipped="results/{dataset}/skipped.csv",
    params:
        stores=lambda wc: store_dir(wc.dataset),
        sampling=as_json(config["sampling"]),
    log:
        "results/logs/{dataset}/clips.log",
    conda:
        ENV
    shell:
        "python -m mol_core.clips --videos {input.videos} --stores {params.stores:q} "
        "--sampling {params.sampling:q} --out {output.clips} --skipped {output.skipped} > {log} 2>&1"
