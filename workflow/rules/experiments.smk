# One experiment of params.yaml: train and evaluate once per seed (results/{exp}/runs/seed{seed}/),
# summarize the seeds, plot. Each job reruns when its recipe (the run's resolved settings), its
# inputs or the code that computes it change; one more seed adds its two jobs and reruns the
# experiment's summary and plots.
#
# Each job's inputs pass through FRESHNESS (cnnlab.pipeline.freshness, made in common.smk): whether
# a job's results are current is read from what they record (a run's recipe and code digests, a
# summary's seeds, DVC's status), so results made by `dvc repro` or brought by `dvc pull` count as
# made, and reading the workflow writes nothing.


rule train:
    input:
        fetched=lambda wc: FRESHNESS.dataset_input(wc.exp),
        code=lambda wc: FRESHNESS.inputs(("train", wc.exp, int(wc.seed)), code_files("train")),
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
        fetched=lambda wc: FRESHNESS.dataset_input(wc.exp),
        run=lambda wc: FRESHNESS.inputs(("evaluate", wc.exp, int(wc.seed)), [
            *(run_file(name).format(exp=wc.exp, seed=wc.seed) for name in ("model.pt", "history.csv", "train.json")),
            *code_files("evaluate")]),
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
        lambda wc: FRESHNESS.inputs(("summarize", wc.exp), [
            *(file for name in ("metrics.json", "per_class.csv", "confusion.csv") for file in run_files(wc.exp, name)),
            *code_files("summarize")]),
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
        lambda wc: FRESHNESS.inputs(("plot", wc.exp), [
            *run_files(wc.exp, "history.csv"), *run_files(wc.exp, "predictions.csv"),
            *(path.format(exp=wc.exp) for path in rules.summarize.output), *code_files("plot")]),
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
