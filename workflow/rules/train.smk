# Stage 4: one training job per fold: a leave-one-subject-out fold (the fold is the test
# subject), or a fold that tests a whole dataset (cross, lodo: the fold is that dataset); a
# pre-training has one fold, `all`.


rule train:
    input:
        unpack(lambda wc: PLAN.experiment_inputs(wc.experiment, wc.fold)),
    output:
        model="results/{experiment}/folds/{fold}/model.pt",
        predictions="results/{experiment}/folds/{fold}/predictions.parquet",
        log_csv="results/{experiment}/folds/{fold}/log.csv",
    log:
        "results/logs/{experiment}/train/{fold}.log",
    priority: lambda wc: PLAN.experiment_priority(wc.experiment)
    conda:
        ENV
    threads: lambda wc: CONFIG["threads"]["pretrain" if PLAN.is_pretrain(wc.experiment) else "train"]
    resources:
        gpu=1,
        mem_mb=lambda wc: PLAN.train_memory_mb(wc.experiment),
        runtime=lambda wc: PLAN.train_runtime_min(wc.experiment),
    params:
        out="results/{experiment}/folds/{fold}",
        model=lambda wc: as_json(CONFIG["experiments"][wc.experiment]["model"]),
        settings=lambda wc: as_json(CONFIG["experiments"][wc.experiment]["train"]),
        class_names=lambda wc: as_json(PLAN.experiment_class_names(wc.experiment)),
        test_clips=lambda wc, input: (
            f"--test-clips {shlex.quote(input.test_clips)}"
            if "test_clips" in input.keys()
            else ""
        ),
        init=lambda wc, input: (
            f"--init {shlex.quote(input.init)}" if "init" in input.keys() else ""
        ),
        pretrain=lambda wc: "--pretrain" if PLAN.is_pretrain(wc.experiment) else "",
        # the experiment's folds, where one job trains several (train.folds_per_gpu)
        queue=lambda wc: (
            "--queue " + " ".join(map(shlex.quote, experiment_folds(wc.experiment)))
            if PLAN.folds_per_job(wc.experiment) > 1
            else ""
        ),
    shell:
        "python -m mol_core.train --clips {input.clips:q} {params.test_clips} {params.init} {params.pretrain} --fold {wildcards.fold:q} "
        "--out {params.out:q} "
        "--class-names {params.class_names:q} --model {params.model:q} --settings {params.settings:q} {params.queue} "
        "--threads {threads} > {log:q} 2>&1 "
        "|| {{ tail -n 20 {log:q} >&2; exit 1; }}"
