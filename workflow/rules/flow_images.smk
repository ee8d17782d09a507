# Flow images for other repositories: per video, the onset->apex and apex->offset TV-L1 flow
# u, v and optical strain of the aligned frames, as PNG (min-max normalised per image) and
# float32 arrays, resized to {size} x {size} (e.g. 28 for STSTNet-style models). It reads the
# stores the preprocessing of the config's sampling made (its markers) and adds to each only
# the flow pairs it lacks (`flow/apex_pairs-<hash>`). Layout and normalisation:
# README.md ("Flow images") and `python -m mol_core.preprocess.flow_images --help`.


rule flow_images:
    input:
        videos="results/{dataset}/videos.parquet",
        markers=dataset_markers,
    output:
        "results/{dataset}/flow_images_{size}/index.csv",
    log:
        "results/logs/{dataset}/flow_images_{size}.log",
    wildcard_constraints:
        size=r"\d+",
    conda:
        ENV
    threads: CONFIG["threads"]["preprocess"]
    params:
        markers=lambda wc: PLAN.marker_dir(wc.dataset, PLAN.default_sampling),
        out=lambda wc, output: os.path.dirname(output[0]),
        settings=lambda wc: PLAN.preprocess_json(wc.dataset),
    shell:
        "python -m mol_core.preprocess.flow_images --videos {input.videos} --markers {params.markers:q} "
        "--out {params.out:q} --size {wildcards.size} --settings {params.settings:q} --threads {threads} > {log} 2>&1"
