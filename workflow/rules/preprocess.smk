# Stage 2: one job per video. The store (aligned frames, landmarks) and the flow of the clip
# sampling live in the cache (`cache_dir`), managed by mol_core: reused when their
# parameters match, rebuilt when partial. The job's own output is a small marker that says
# what was made or why the video is skipped. Inputs are the video's frame files (or its
# one video file) and params their fingerprint (paths, sizes, times, onset/apex/offset), so
# a rewritten video table triggers nothing, while a replaced frame or an edited coding row
# reruns exactly that video (and the store, which records the same fingerprint, is rebuilt
# rather than reused). A marker whose store is gone or damaged is dropped when the clip
# index is planned (common.smk: drop_stale_marker), so the video is made again.

# How long a job may wait for a store another job holds: an environment variable that every
# job inherits (a grouped SLURM job parses this file again, with the same config).
os.environ.update(cfg.lock_timeout_environment(CONFIG))


rule preprocess:
    input:
        video_files,
    output:
        f"{CACHE_DIR}/{{dataset}}/{{key}}/{{flow}}/{{subject}}/{{video}}.json",
    log:
        "results/logs/{dataset}/preprocess/{key}/{flow}/{subject}/{video}.log",
    group:
        "preprocess"
    conda:
        ENV
    threads: CONFIG["threads"]["preprocess"]
    resources:
        mem_mb=lambda wc: cfg.preprocess_memory_mb(video_frame_count(wc)),
        runtime=lambda wc: cfg.preprocess_runtime_min(video_frame_count(wc)),
    params:
        videos="results/{dataset}/videos.parquet",
        store=lambda wc: store_path(CACHE_DIR, wc.dataset, wc.key, wc.subject, wc.video),
        settings=as_json(CONFIG["preprocess"]),
        sampling=lambda wc: as_json(vars(sampling_of_flow(wc.flow))),
        sources=video_fingerprint,
    shell:
        "python -m mol_core.preprocess --videos {params.videos:q} --subject {wildcards.subject:q} "
        "--video {wildcards.video:q} --store {params.store:q} --marker {output:q} "
        "--settings {params.settings:q} --sampling {params.sampling:q} --threads {threads} > {log:q} 2>&1 "
        "|| {{ tail -n 20 {log:q} >&2; exit 1; }}"
