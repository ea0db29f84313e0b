# One experiment of params.yaml: train, evaluate, plot. Each job reruns when its recipe (the
# experiment's resolved settings), its inputs or the code that computes it change.
#
# The recipe reaches Snakemake as a file, not as params: Snakemake compares params with its own
# record of its last run, which knows nothing of results made by `dvc repro` or brought by
# `dvc pull`; the file is dated by cnnlab.freshness from what the results themselves record.
# A dataset is an `ancient` input: its content is checked against known digests when it is
# fetched, and its time says nothing (DVC restores it at `dvc pull` time).

from pathlib import Path

from cnnlab.freshness import write_recipe

RECIPE_FILE = ".snakemake/cnnlab/recipes/{exp}.json"  # Snakemake's, beside its own record
for _exp, _settings in RECIPES.items():
    write_recipe(Path(RECIPE_FILE.format(exp=_exp)), _settings, Path(f"results/{_exp}/train.json"))


rule train:
    input:
        fetched=lambda wc: ancient(fetched(wc.exp)),
        recipe=RECIPE_FILE,
        code=code_files("train"),
    output:
        model="results/{exp}/model.pt",
        last="results/{exp}/last.pt",
        history="results/{exp}/history.csv",
        record="results/{exp}/train.json",
    params:
        options=lambda wc: cnnlab_options(wc.exp),
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
        fetched=lambda wc: ancient(fetched(wc.exp)),
        recipe=RECIPE_FILE,
        code=code_files("evaluate"),
    output:
        metrics="results/{exp}/metrics.json",
        per_class="results/{exp}/per_class.csv",
        confusion="results/{exp}/confusion.csv",
        predictions="results/{exp}/predictions.csv",
    params:
        options=lambda wc: cnnlab_options(wc.exp),
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
        code=code_files("plot"),
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
        options=lambda wc: cnnlab_options(wc.exp),
    conda:
        "../envs/cnnlab.yaml"
    log:
        "logs/plot/{exp}.log",
    shell:
        "cnnlab plot {wildcards.exp}{params.options} 2>&1 | tee {log}"
