# One experiment of params.yaml: train and evaluate once per seed (results/{exp}/runs/seed{seed}/),
# summarize the seeds, plot. Each job reruns when its recipe (the run's resolved settings), its
# inputs or the code that computes it change; one more seed adds its two jobs and reruns the
# experiment's summary and plots.
#
# The recipe reaches Snakemake as a file, not as params: Snakemake compares params with its own
# record of its last run, which knows nothing of results made by `dvc repro` or brought by
# `dvc pull`; the file is dated by cnnlab.freshness from what the results themselves record.
# A dataset is an `ancient` input: its content is checked against known digests when it is
# fetched, and its time says nothing (DVC restores it at `dvc pull` time).

from pathlib import Path

from cnnlab.freshness import write_recipe

RUN_FOLDER = "results/{exp}/" + RUN  # cnnlab.layout
RECIPE_FILE = ".snakemake/cnnlab/recipes/{exp}/seed{seed}.json"  # Snakemake's, beside its own record
for (_exp, _seed), _settings in RECIPES.items():
    write_recipe(Path(RECIPE_FILE.format(exp=_exp, seed=_seed)), _settings,
                 Path(RUN_FOLDER.format(exp=_exp, seed=_seed)) / "train.json")


rule train:
    input:
        fetched=lambda wc: ancient(fetched(wc.exp)),
        recipe=RECIPE_FILE,
        code=code_files("train"),
    output:
        model=RUN_FOLDER + "/model.pt",
        last=RUN_FOLDER + "/last.pt",
        history=RUN_FOLDER + "/history.csv",
        record=RUN_FOLDER + "/train.json",
    params:
        options=lambda wc: cnnlab_options(wc.exp),
    threads: 4  # torch gains little beyond a few threads here; Snakemake lowers it to --cores
    resources:
        gpu=GPUS,
    conda:
        "../envs/cnnlab.yaml"
    log:
        "logs/train/{exp}/seed{seed}.log",
    shell:
        "cnnlab train {wildcards.exp} --seed {wildcards.seed} --threads {threads}{params.options} 2>&1 | tee {log}"


rule evaluate:
    input:
        rules.train.output.model,
        rules.train.output.history,
        rules.train.output.record,
        fetched=lambda wc: ancient(fetched(wc.exp)),
        recipe=RECIPE_FILE,
        code=code_files("evaluate"),
    output:
        metrics=RUN_FOLDER + "/metrics.json",
        per_class=RUN_FOLDER + "/per_class.csv",
        confusion=RUN_FOLDER + "/confusion.csv",
        predictions=RUN_FOLDER + "/predictions.csv",
    params:
        options=lambda wc: cnnlab_options(wc.exp),
    threads: 4
    resources:
        gpu=GPUS,
    conda:
        "../envs/cnnlab.yaml"
    log:
        "logs/evaluate/{exp}/seed{seed}.log",
    shell:
        "cnnlab evaluate {wildcards.exp} --seed {wildcards.seed} --threads {threads}{params.options} 2>&1 | tee {log}"


rule summarize:
    input:
        lambda wc: run_files(wc.exp, "metrics.json"),
        lambda wc: run_files(wc.exp, "per_class.csv"),
        lambda wc: run_files(wc.exp, "confusion.csv"),
        code=code_files("summarize"),
    output:
        summary="results/{exp}/summary.json",
        seeds="results/{exp}/seeds.csv",
        curves="results/{exp}/curves.csv",
        per_class="results/{exp}/per_class.csv",
        confusion="results/{exp}/confusion.csv",
    params:
        options=lambda wc: cnnlab_options(wc.exp),
    conda:
        "../envs/cnnlab.yaml"
    log:
        "logs/summarize/{exp}.log",
    shell:
        "cnnlab summarize {wildcards.exp}{params.options} 2>&1 | tee {log}"


rule plot:
    input:
        lambda wc: run_files(wc.exp, "history.csv"),
        lambda wc: run_files(wc.exp, "predictions.csv"),
        rules.summarize.output,
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
