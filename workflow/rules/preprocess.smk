# Stage 2: one job per video. The store (aligned frames, landmarks) and the flow of the clip
# sampling live in the cache (`cache_dir`), managed by mol_core: reused when their
# parameters match, rebuilt when partial. The job's own output is a small marker that says
# what was made or why the video is skipped. Inputs are the video's frame files, so a
# rewritten video table triggers nothing.


rule preprocess:
    input:
        video_frames,
    output:
        f"{CACHE_DIR}/{{dataset}}/{{key}}/{{flow}}/{{subject}}/{{video}}.json",
    params:
        videos="results/{dataset}/videos.parquet",
        store=lambda wc: store_path(CACHE_DIR, wc.dataset, wc.key, wc.subject, wc.video),
        settings=as_json(config["preprocess"]),
        sampling=lambda wc: as_json(vars(sampling_of_flow(wc.flow))),
    group:
        "preprocess"
    threads: config["threads"]["preprocess"]
    resources:
        mem_mb=lambda wc, input: 600 + 4 * len(input),
        runtime=lambda wc, input: 5 + len(input) // 4,
    log:
        "results/logs/{dataset}/preprocess/{key}/{flow}/{subject}/{video}.log",
    conda:
        ENV
    shell:
        "python -m mol_core.preprocess --videos {params.videos} --subject {wildcards.subject:q} "
        "--video {wildcards.video:q} --store {params.store:q} --marker {output:q} "
        "--settings {params.settings:q} --sampling {params.sampling:q} --threads {threads} > {log:q} 2>&1"
