# The study as a Snakemake workflow: `snakemake --cores 1 all` (see README.md).
# Every rule runs one `cnnlab` command, declared once with the code it depends on in
# cnnlab.pipeline.steps, from which dvc.yaml is written: its stage runs the same command (train and
# evaluate: for one seed; DVC's `runs` stage runs both for each seed of an experiment);
# params.yaml is the catalog for both. After each run, what Snakemake built is recorded in dvc.lock.

from snakemake.utils import min_version

min_version("9.0")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"  # reads and checks params.yaml (the `configfile`)
include: "workflow/rules/dvc.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/experiments.smk"
include: "workflow/rules/study.smk"


localrules:
    all,
    fetch,  # downloads: on the machine with the network, not on a cluster node


rule all:
    default_target: True
    input:
        expand("results/{exp}/summary.json", exp=STUDY),
        expand("results/{exp}/plots", exp=STUDY),
        "results/report.html",


onsuccess:
    record_in_dvc()


onerror:
    record_in_dvc()  # with --keep-going, keep what did finish
