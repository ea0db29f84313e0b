# Datasets: from the offline mirror ($CNNLAB_DATA_MIRROR or data.mirror), Debian's package, or
# the internet, into torchvision's layout under data.root (see `cnnlab fetch --help`).

rule fetch:
    input:
        code=code_files("fetch"),
    output:
        directory(f"{DATA_ROOT}/{{dataset}}"),
    conda:
        "../envs/cnnlab.yaml"
    log:
        "logs/fetch/{dataset}.log",
    shell:
        step_command("fetch") + " 2>&1 | tee {log}"
