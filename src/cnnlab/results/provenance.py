"""Which code made a result: the source each step's results depend on, and its digest.

A run records the digest of its step's code (train.json, metrics.json); a run made by other code is
not kept as current. Each step's declaration (cnnlab.pipeline.steps) takes its code from here:
Snakemake's jobs have the files as inputs, and dvc.yaml's stages, written from it, as deps. Modules
outside every step only pass things along or check them (the CLI, config/, errors.py, io.py,
text.py, results/): editing them reruns nothing.
"""

import glob
import hashlib
import os

TRAIN_CODE = [
    "src/cnnlab/data",
    "src/cnnlab/training/engine.py",
    "src/cnnlab/models",
    "src/cnnlab/random_streams.py",
    "src/cnnlab/training/runtime.py",
    "src/cnnlab/training/train.py",
]
ENGINE_CODE = [path for path in TRAIN_CODE if path != "src/cnnlab/training/train.py"]
STEP_CODE = {
    # None: a dataset in place is known by its content (checked against its digests), not by the
    # code that fetched it, and the code that reads it is train's. Fetching again on a code change
    # would delete the dataset and, through Snakemake's `ancient` bug (snakemake/snakemake#4166),
    # leave the jobs after it unplanned: `snakemake all` would fetch and stop.
    "fetch": [],
    "train": TRAIN_CODE,
    "evaluate": [*ENGINE_CODE, "src/cnnlab/training/evaluate.py"],
    "summarize": ["src/cnnlab/analysis/statistics.py", "src/cnnlab/analysis/summary.py"],
    "plot": ["src/cnnlab/reporting"],
    # equivalence.py (Q4's 1x1 check, with its model helper) runs as the report is made
    "report": ["src/cnnlab/reporting", "src/cnnlab/analysis/equivalence.py", "src/cnnlab/models"],
}


def code_digest(step: str) -> str:
    """SHA-256 over the source of STEP_CODE[step] as this installation of cnnlab has it: a run
    records it, and a run made by other code is not kept as current (`cnnlab train`)."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # src/cnnlab as installed
    digest = hashlib.sha256()
    for path in STEP_CODE[step]:
        local = os.path.join(package, os.path.relpath(path, "src/cnnlab"))
        for file in entry_files(local):
            digest.update(os.path.relpath(file, package).encode() + b"\0")
            with open(file, "rb") as source:
                digest.update(hashlib.sha256(source.read()).digest())
    return digest.hexdigest()


def entry_files(path: str) -> list[str]:
    """One STEP_CODE entry as files: a file itself, a folder its Python files, its templates and its
    messages (the report's page is a Jinja2 template, its words a catalog per language: changing
    either must rerun the report)."""
    if not os.path.isdir(path):
        return [path]
    return sorted({file for pattern in ("**/*.py", "**/templates/*", "**/messages/*")
                   for file in glob.glob(f"{path}/{pattern}", recursive=True)})
