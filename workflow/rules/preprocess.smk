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
# when the clip index is planned (mol_core.workflow_inputs.drop_stale_markers), so the video
# is made again.

from mol_core.workflow_inputs import subject_files, subject_fingerprint
from mol_core.workflow_plan import preprocess_memory_mb, preprocess_runtime_min

# How long a job may wait for a store another job holds: an environment variable that every
# job inherits (a grouped SLURM job parses this file again, with the same config).
os.environ.update(PLAN.lock_timeout_environment())


rule preprocess:
    input:
        lambda wc: subject_files(rows_of(wc)),
    output:
        # the marker folder of one flow, `{sampling}-{hash of the flow parameters}` (the
        # flow's name in the stores): the rule's pattern gives the sampling, no name is parsed
        directory(
            f"{CONFIG['cache_dir']}/{{dataset}}/{{key}}/{{sampling}}-{{flowkey}}/{{subject}}"
        ),
    log:
        "results/logs/{dataset}/preprocess/{key}/{sampling}-{flowkey}/{subject}.log",
    priority: lambda wc: PLAN.dataset_priority(wc.dataset)
    group:
        "preprocess"
    conda:
        ENV
    threads: CONFIG["threads"]["preprocess"]
    resources:
        mem_mb=lambda wc: preprocess_memory_mb(max(rows_of(wc).n_frames)),
        runtime=lambda wc: preprocess_runtime_min(sum(rows_of(wc).n_frames)),
    params:
        videos="results/{dataset}/videos.parquet",
        stores=lambda wc: os.path.join(CONFIG["cache_dir"], wc.dataset, wc.key),
        settings=lambda wc: PLAN.preprocess_json(wc.dataset),
        sampling=lambda wc: as_json(vars(Sampling.from_name(wc.sampling))),
        sources=lambda wc: subject_fingerprint(rows_of(wc)),
    # One line for the console instead of the job's inputs (every frame file of the subject).
    message:
        "preprocess {wildcards.dataset} subject {wildcards.subject}: aligned frames, landmarks and flow ({wildcards.sampling}-{wildcards.flowkey}); log {log}"
    shell:
        "python -m mol_core.preprocess --videos {params.videos:q} --subject {wildcards.subject:q} "
        "--stores {params.stores:q} --markers {output:q} "
        "--settings {params.settings:q} --sampling {params.sampling:q} --threads {threads} > {log:q} 2>&1 "
        "|| {{ tail -n 20 {log:q} >&2; exit 1; }}"
