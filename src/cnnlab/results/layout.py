"""Where results lie, declared once: a folder per experiment, a folder per run (seed) inside it.

    results/<experiment>/runs/seed<k>/   one run: model.pt, last.pt, history.csv, train.json,
                                         metrics.json, per_class.csv, confusion.csv, predictions.csv
    results/<experiment>/                its runs together: summary.json, seeds.csv, curves.csv,
                                         per_class.csv, confusion.csv, plots/

Free of torch: Snakemake's rules and DVC's stages address the same paths.
"""

from pathlib import Path

RESULTS = "results"
RUNS = "runs"  # the runs of an experiment, one folder a seed
RUN = RUNS + "/seed{seed}"
PLOTS = "plots"  # an experiment's figures


def experiment_folder(name: str, results: str | Path = RESULTS) -> Path:
    return Path(results) / name


def run_folder(experiment_dir: str | Path, seed: int) -> Path:
    return Path(experiment_dir) / RUN.format(seed=seed)
