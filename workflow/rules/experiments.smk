# One experiment of params.yaml: train and evaluate once per seed (results/{exp}/runs/seed{seed}/),
# summarize the seeds, plot. Each job reruns when its recipe (the run's resolved settings), its
# inputs or the code that computes it change; one more seed adds its two jobs and reruns the
# experiment's summary and plots.
#
# The recipe reaches Snakemake as a file, not as params: Snakemake compares params with its own
# record of its last run, which knows nothing of results made by `dvc repro` or brought by
# `dvc pull`; the file is dated by cnnlab.pipeline.freshness from what the results themselves record. So
# is an experiment's list of seeds, the input of its summary: after Snakemake's record of a summary
# is dropped (another tool remade it: cnnlab.pipeline.freshness.drop_stale_records), the list still decides.
# A dataset is an `ancient` input: its content is checked against known digests when it is
# fetched, and its time says nothing (DVC restores it at `dvc pull` time).

from pathlib import Path

from cnnlab.pipeline.freshness import write_recipe


RECIPE_FILE = ".snakemake/cnnlab/recipes/{exp}/seed{seed}.json"  # Snakemake's, beside its own record
SEEDS_FILE = ".snakemake/cnnlab/seeds/{exp}.json"  # which runs an experiment's summary takes
for (_exp, _seed), _settings in RECIPES.items():
    write_recipe(Path(RECIPE_FILE.format(exp=_exp, seed=_seed)), _settings,
                 Path(RUN_FOLDER.format(exp=_exp, seed=_seed)) / "train.json")
for _exp, _seeds in SEEDS.items():
    write_recipe(Path(SEEDS_FILE.format(exp=_exp)), {"seeds": _seeds}, Path(f"results/{_exp}/summary.json"),
                 key="seeds")


rule train:
    input:
        fetched=lambda wc: ancient(fetched(wc.exp)),
        recipe=RECIPE_FILE,
        code=code_files("train"),
    output:
        model=run_file("model.pt"),
        last=run_file("last.pt"),
        history=run_file("history.csv"),
        record=run_file("train.json"),
    params:
        options=lambda wc: cnnlab_options(wc.exp),
    threads: JOB_THREADS  # Snakemake runs --cores of them at once; --set-threads train=N for more
    resources:
        gpu=GPUS,
    conda:
        "../envs/cnnlab.yaml"
    log:
        "logs/train/{exp}/seed{seed}.log",
    shell:
        step_command("train") + " --seed {wildcards.seed} --threads {threads}{params.options} 2>&1 | tee {log}"


rule evaluate:
    input:
        rules.train.output.model,
        rules.train.output.history,
        rules.train.output.record,
        fetched=lambda wc: ancient(fetched(wc.exp)),
        recipe=RECIPE_FILE,
        code=code_files("evaluate"),
    output:
        metrics=run_file("metrics.json"),
        per_class=run_file("per_class.csv"),
        confusion=run_file("confusion.csv"),
        predictions=run_file("predictions.csv"),
    params:
        options=lambda wc: cnnlab_options(wc.exp),
    threads: JOB_THREADS
    resources:
        gpu=GPUS,
    conda:
        "../envs/cnnlab.yaml"
    log:
        "logs/evaluate/{exp}/seed{seed}.log",
    shell:
        step_command("evaluate") + " --seed {wildcards.seed} --threads {threads}{params.options} 2>&1 | tee {log}"


rule summarize:
    input:
        lambda wc: run_files(wc.exp, "metrics.json"),
        lambda wc: run_files(wc.exp, "per_class.csv"),
        lambda wc: run_files(wc.exp, "confusion.csv"),
        seeds=SEEDS_FILE,
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
        step_command("summarize") + "{params.options} 2>&1 | tee {log}"


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
        step_command("plot") + "{params.options} 2>&1 | tee {log}"
