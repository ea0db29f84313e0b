"""What one experiment's figures are drawn from: the files `cnnlab train`, `evaluate` and
`summarize` wrote, checked to belong to the experiment, and its data."""

from __future__ import annotations  # FigureInputs names StudyData without importing it

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from cnnlab.errors import CnnlabError
from cnnlab.reporting.style import DATASET_TITLES
from cnnlab.results.records import FinishedRun, read_evaluation_tables, read_seed_runs, seed_fix

# torch and cnnlab's data modules (which import it) are imported by the functions that load and draw
# images: `cnnlab report` imports the figures for their declarations alone, and torch takes seconds
# to import.
if TYPE_CHECKING:
    from cnnlab.data.batches import StudyData


@dataclass
class FigureInputs:
    """What one experiment's figures are drawn from."""

    run: FinishedRun  # the first seed's run (its samples, its permutation)
    runs: list[FinishedRun]  # every seed's run
    tables: dict[str, pd.DataFrame]  # per_class, confusion (all runs added up), predictions (the first run's)
    data: StudyData
    title: str  # "name: model on dataset", and "with shuffled pixels" where it applies



def read_inputs(cfg: dict, out_dir: Path) -> FigureInputs:
    """The files `cnnlab train`, `evaluate` and `summarize` wrote, checked to belong to `cfg`, and its
    data."""
    from cnnlab.data.batches import load_study_data  # see the imports at the top

    runs = read_seed_runs(out_dir, cfg["name"], cfg["seeds"], cfg)
    first = runs[0]
    tables = {**read_evaluation_tables(first.folder, seed_fix(cfg["name"], cfg["seeds"][0])),
              **read_evaluation_tables(out_dir, f"run `cnnlab summarize {cfg['name']}` again (with the same "
                                                "--set values)", with_predictions=False)}
    data = load_study_data(first.cfg)
    if len(tables["predictions"]) != len(data.test_y):
        raise CnnlabError(f"{first.folder}/predictions.csv has {len(tables['predictions'])} rows but the "
                          f"test set has {len(data.test_y)} images; run `cnnlab evaluate {cfg['name']}` "
                          "again")
    title = f"{cfg['name']}: {cfg['model']} on {DATASET_TITLES[cfg['dataset']]}"
    if cfg["permute"]:  # every figure of such a run says so: its accuracy is not on MNIST as we see it
        title += " with shuffled pixels"
    return FigureInputs(first, runs, tables, data, title)

