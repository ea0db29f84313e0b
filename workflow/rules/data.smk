# Datasets: from the offline mirror ($CNNLAB_DATA_MIRROR or data.mirror), Debian's package, or
# the internet, into torchvision's layout under data.root (see `cnnlab fetch --help`).

# The code that fetches and checks a dataset: the data wing less batches.py and transforms.py, so
# that editing those does not fetch again. dvc.yaml's fetch stage lists the same.
FETCH_CODE = [
    "src/cnnlab/data/catalog.py",
    "src/cnnlab/data/fetch.py",
    "src/cnnlab/data/load.py",
    *sorted(glob.glob("src/cnnlab/data/formats/*.py")),
]

rule fetch:
    input:
        FETCH_CODE,
    output:
        directory(f"{DATA_ROOT}/{{dataset}}"),
    conda:
        "../envs/cnnlab.yaml"
    log:
        "logs/fetch/{dataset}.log",
    shell:
        "cnnlab fetch {wildcards.dataset} 2>&1 | tee {log}"
