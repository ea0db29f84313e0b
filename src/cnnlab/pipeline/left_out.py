"""What a DVC stage does for a dataset that `datasets` in params.yaml leaves out of the study.

Snakemake builds what `all` asks for: the study's experiments. DVC builds every stage of dvc.yaml
(its `foreach` cannot filter) and requires each stage's outputs. So dvc.yaml's commands carry
`--skip-left-out`: for a dataset outside `datasets`, and each experiment on it, nothing is fetched,
trained or evaluated, and what a stage already holds stays (a dataset, trained runs). An
experiment whose every run is evaluated is still summarized and plotted (leaving a dataset out
destroys no result); otherwise those stages' outputs are left empty. The fetch and runs stages
have `datasets` among their parameters, so putting a dataset back reruns them: they fetch, train
and evaluate what is missing or out of date, and the summary and plot stages follow the runs
that changed. (An experiment's runs that are all evaluated got a real summary already.)
"""

from pathlib import Path

from cnnlab.config import run_config
from cnnlab.results import layout
from cnnlab.results.kept import evaluated_current

NOT_DONE = {"fetch": "fetched", "train": "trained", "evaluate": "evaluated", "summarize": "summarized",
            "plot": "plotted"}


def evaluated(cfg: dict, out: Path) -> bool:
    """Every seed's run of experiment `cfg` in `out` is evaluated: it can be summarized and plotted."""
    return all(evaluated_current(run_config(cfg, seed), layout.run_folder(out, seed))
               for seed in cfg["seeds"])


def skip(command: str, name: str, dataset: str, folder: Path, why: str) -> str:
    """Leave what `cnnlab COMMAND NAME` would write into `folder` empty, the dataset being left out
    of the study for the reason `why` (config.left_out_datasets); returns what was done."""
    folder = Path(folder)
    if command == "fetch":  # the dataset's folder
        folder.mkdir(parents=True, exist_ok=True)
    elif command == "train":  # evaluate's outputs are train's folder too
        (folder / layout.RUNS).mkdir(parents=True, exist_ok=True)
    elif command == "summarize":
        from cnnlab.analysis.summary import summarize_left_out

        summarize_left_out(name, folder, f"{dataset} is left out of the study ({why})")
    elif command == "plot":
        (folder / layout.PLOTS).mkdir(parents=True, exist_ok=True)
    who = dataset if name == dataset else f"{name}: {dataset}"
    return f"{who} is left out of the study ({why}); not {NOT_DONE[command]} (--skip-left-out)"
