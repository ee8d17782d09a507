# Stage 2: one job per subject, one store per video. Each video's store (aligned frames,
# landmarks) and the flow of the clip sampling live in the cache (`cache_dir`), managed by
# mol_core: reused when their parameters match, rebuilt when partial. One process serves a
# subject's videos, so the dlib models and the libraries load once per subject rather than
# once per video (on the demo's short videos that start-up cost more than the work). The
# job's own output is a folder of small markers, one `{video}.json` per video, that say what
# was made or why the video is skipped. Inputs are the videos' frame files (or video files)
# and params their fingerprints (paths, sizes, times, onset/apex/offset), so a rewritten video
# table triggers nothing, while a replaced frame or an edited coding row reruns that subject's
# job, which rebuilds exactly that video's store (each store records the same fingerprint)
# and reuses the others. A marker whose store is gone or damaged drops its subject's folder
# when the clip index is planned (common.smk: drop_stale_markers), so the video is made again.

# How long a job may wait for a store another job holds: an environment variable that every
# job inherits (a grouped SLURM job parses this file again, with the same config).
os.environ.update(cfg.lock_timeout_environment(CONFIG))


rule preprocess:
    input:
        subject_files,
    output:
        # the marker folder of one flow, `{sampling}-{hash of the flow parameters}` (the
        # flow's name in the stores): the rule's pattern gives the sampling, no name is parsed
        directory(f"{CACHE_DIR}/{{dataset}}/{{key}}/{{sampling}}-{{flowkey}}/{{subject}}"),
    log:
        "results/logs/{dataset}/preprocess/{key}/{sampling}-{flowkey}/{subject}.log",
    priority: dataset_priority
    group:
        "preprocess"
    conda:
        ENV
    threads: CONFIG["threads"]["preprocess"]
    resources:
        mem_mb=lambda wc: cfg.preprocess_memory_mb(max(subject_frame_counts(wc))),
        runtime=lambda wc: cfg.preprocess_runtime_min(sum(subject_frame_counts(wc))),
    params:
        videos="results/{dataset}/videos.parquet",
        stores=lambda wc: os.path.join(CACHE_DIR, wc.dataset, wc.key),
        settings=lambda wc: preprocess_json(wc.dataset),
        sampling=lambda wc: as_json(vars(Sampling.from_name(wc.sampling))),
        sources=subject_fingerprint,
    # One line for the console instead of the job's inputs (every frame file of the subject).
    message:
        "preprocess {wildcards.dataset} subject {wildcards.subject}: aligned frames, landmarks and flow ({wildcards.sampling}-{wildcards.flowkey}); log {log}"
    shell:
        "python -m mol_core.preprocess --videos {params.videos:q} --subject {wildcards.subject:q} "
        "--stores {params.stores:q} --markers {output:q} "
        "--settings {params.settings:q} --sampling {params.sampling:q} --threads {threads} > {log:q} 2>&1 "
        "|| {{ tail -n 20 {log:q} >&2; exit 1; }}"
