# Datasets: from the offline mirror ($CNNLAB_DATA_MIRROR or data.mirror), Debian's package, or
# the internet, into torchvision's layout under data.root (see `cnnlab fetch --help`). A dataset's
# folder that DVC's fetch stage left empty (the dataset was left out) is fetched (FRESHNESS).

rule fetch:
    input:
        lambda wc: FRESHNESS.inputs(("fetch", wc.dataset), code_files("fetch")),
    output:
        directory(f"{DATA_ROOT}/{{dataset}}"),
    conda:
        "../envs/cnnlab.yaml"
    log:
        "logs/fetch/{dataset}.log",
    shell:
        step_command("fetch") + " 2>&1 | tee {log}"
