# One experiment of params.yaml: train, evaluate, plot. Each job reruns when its recipe (the
# experiment's resolved settings), its inputs or the code that computes it change.

# The modules that compute results (cli.py, config.py and io.py only pass things along);
# dvc.yaml lists the same ones.
COMPUTE_CODE = [
    "src/cnnlab/batches.py",
    "src/cnnlab/datasets.py",
    "src/cnnlab/runtime.py",
    "src/cnnlab/train.py",
    "src/cnnlab/transforms.py",
    *sorted(glob.glob("src/cnnlab/models/*.py")),
]


rule train:
    input:
        fetched=lambda wc: fetched(wc.exp),
        code=COMPUTE_CODE,
    output:
        model="results/{exp}/model.pt",
        last="results/{exp}/last.pt",
        history="results/{exp}/history.csv",
        record="results/{exp}/train.json",
    params:
        recipe=lambda wc: RECIPES[wc.exp],
        options=lambda wc: set_options(wc.exp),
    threads: 4  # torch gains little beyond a few threads here; Snakemake lowers it to --cores
    resources:
        gpu=GPUS,
    conda:
        "../envs/cnnlab.yaml"
    log:
        "logs/train/{exp}.log",
    shell:
        "cnnlab train {wildcards.exp} --threads {threads}{params.options} 2>&1 | tee {log}"


rule evaluate:
    input:
        rules.train.output.model,
        rules.train.output.history,
        rules.train.output.record,
        fetched=lambda wc: fetched(wc.exp),
        code=[*COMPUTE_CODE, "src/cnnlab/evaluate.py"],
    output:
        metrics="results/{exp}/metrics.json",
        per_class="results/{exp}/per_class.csv",
        confusion="results/{exp}/confusion.csv",
        predictions="results/{exp}/predictions.csv",
    params:
        recipe=lambda wc: RECIPES[wc.exp],
        options=lambda wc: set_options(wc.exp),
    threads: 4
    resources:
        gpu=GPUS,
    conda:
        "../envs/cnnlab.yaml"
    log:
        "logs/evaluate/{exp}.log",
    shell:
        "cnnlab evaluate {wildcards.exp} --threads {threads}{params.options} 2>&1 | tee {log}"


rule plot:
    input:
        rules.train.output.history,
        rules.train.output.record,
        rules.evaluate.output,
        code="src/cnnlab/plots.py",
    output:
        report(
            directory("results/{exp}/plots"),
            patterns=["{name}.png"],
            caption="../report/plots.rst",
            category="Experiments",
            subcategory="{exp}",
            labels={"experiment": "{exp}", "figure": "{name}"},
        ),
    params:
        options=lambda wc: set_options(wc.exp),
    conda:
        "../envs/cnnlab.yaml"
    log:
        "logs/plot/{exp}.log",
    shell:
        "cnnlab plot {wildcards.exp}{params.options} 2>&1 | tee {log}"
