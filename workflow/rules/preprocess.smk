# Stage 2: one job per video -> one Zarr store (aligned frames, landmarks, TV-L1 flow).
# Inputs are the video's frame files, so a rewritten video table triggers nothing.


rule preprocess:
    input:
        video_frames,
    output:
        directory(f"{CACHE_DIR}/{{dataset}}/{{key}}/{{subject}}/{{video}}.zarr"),
    params:
        videos="results/{dataset}/videos.parquet",
        settings=as_json(config["preprocess"]),
        sampling=as_json(sampling_list()),
    threads: config["threads"]["preprocess"]
    resources:
        mem_mb=lambda wc, input: 600 + 4 * len(input),
        runtime=lambda wc, input: 5 + len(input) // 4,
    log:
        "results/logs/{dataset}/preprocess/{key}/{subject}/{video}.log",
    conda:
        ENV
    shell:
        "python -m mol_core.preprocess --videos {params.videos} --subject {wildcards.subject:q} "
        "--video {wildcards.video:q} --out {output:q} --settings {params.settings:q} "
        "--sampling {params.sampling:q} --threads {threads} > {log:q} 2>&1"
