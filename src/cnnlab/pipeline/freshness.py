"""Whether results are current, where Snakemake's own record cannot tell.

Snakemake reruns a job when an input is newer than the job's outputs, or when the job's params
differ from those it recorded the last time it ran the job itself. Both fail for results that DVC
made (`dvc repro` leaves Snakemake's record behind) or brought (`dvc pull` writes files in any
order, later than the git checkout of the code and of metrics.json). The workflow uses these two
rules instead (workflow/rules/dvc.smk, experiments.smk):

- `write_recipe`: each run's recipe is a file that its train and evaluate jobs take as input (and
  each experiment's list of seeds one that its summary takes), rewritten only when it changes, and
  then dated to the epoch when the results on disk were already made with it (their train.json or
  summary.json says so), by whichever tool made them;
- `date_in_order`: in a copy where Snakemake has not run yet, the outputs of the stages that DVC
  finds current by their content are dated in the pipeline's order, as if made one by one when
  the last of them arrived;
- `drop_stale_mark`: a folder that another tool remade after Snakemake is dated by the folder,
  not by the mark that Snakemake left in it;
- `drop_empty_folders`: a dataset's folder that DVC's fetch stage left empty (while `datasets`
  left it out: cnnlab.pipeline.left_out) is removed once the dataset is back in the study: Snakemake goes
  by the folder's existence and would take it for fetched;
- `drop_stale_records`: Snakemake's record of how it made a file (its inputs, params, code) is
  dropped once another tool has rewritten the file: the record no longer describes it (one more
  seed made by `dvc repro` changes the inputs of a summary that DVC has already remade).
"""

import base64
import json
import os
from pathlib import Path

from cnnlab.io import atomic_write_text


def recipe_text(settings: dict) -> str:
    """The settings that decide an experiment's results (without the data locations), as JSON."""
    return json.dumps({k: v for k, v in settings.items() if k != "data"}, sort_keys=True, indent=1) + "\n"


def write_recipe(path: Path, settings: dict, record: Path, key: str = "config") -> None:
    """Keep `path` holding the recipe of `settings`; `record` is the results' own record of what
    they were made with, under `key`: a run's train.json (`config`, its settings) or an
    experiment's summary.json (`seeds`, its list of seeds; `settings` is then {"seeds": [...]}).

    Unchanged, the file keeps its time. Changed, it is newer than the results, so they are made
    again; unless `record` shows they were made with this recipe already: then it is older.
    """
    text = recipe_text(settings)
    if path.exists() and path.read_text() == text:
        return
    atomic_write_text(path, text)
    try:
        made = json.loads(record.read_text())[key]
    except (OSError, ValueError, KeyError, TypeError):
        return  # no results, or none that say what they were made with
    if recipe_text(made if key == "config" else {key: made}) == text:
        os.utime(path, (0, 0))


def date_in_order(steps: list[list[Path]]) -> None:
    """Give every file and folder of step i (recursively) one time, 1 ms after step i - 1's, the
    first step 1 ms after the newest of them all: so each step's outputs are newer than the step
    before, and whatever was made from them afterwards (a report) stays newer than them."""
    items = [[item for path in paths for item in walk(Path(path))] for paths in steps]
    newest = max((item.stat(follow_symlinks=False).st_mtime for step in items for item in step), default=0)
    for index, step in enumerate(items, start=1):
        for item in step:
            os.utime(item, (newest + index * 0.001,) * 2, follow_symlinks=False)


def drop_stale_mark(folder: Path, sibling: Path) -> None:
    """Snakemake dates a folder it made by a mark file inside (`.snakemake_timestamp`). When the
    command that wrote the folder also wrote `sibling` after that mark (run again by DVC or by
    hand), the mark is stale: remove it, and the folder's own time counts."""
    mark = folder / ".snakemake_timestamp"
    if mark.exists() and sibling.exists() and sibling.stat().st_mtime > mark.stat().st_mtime:
        mark.unlink()


def drop_empty_folders(folders: list[Path]) -> None:
    """Remove each of `folders` that is an empty folder; leave anything else as it is."""
    for folder in folders:
        try:
            Path(folder).rmdir()
        except OSError:  # not empty, not there, not a folder
            pass


def walk(path: Path) -> list[Path]:
    """`path` and, for a folder, everything below it; nothing when it does not exist."""
    if not path.exists():
        return []
    if not path.is_dir():
        return [path]
    return [path, *path.rglob("*")]


def drop_stale_records(metadata: Path) -> None:
    """Remove each record under `metadata` (Snakemake's `.snakemake/metadata/`: one JSON file an
    output it made, named by the output's path in URL-safe base64, with the output's time when made
    as `endtime`) whose output has been rewritten since: a file with another time, a folder with a
    file inside newer than the record (Snakemake dates a folder by its mark, written last)."""
    for record in Path(metadata).glob("*"):
        if not record.is_file() or record.name.startswith("@"):  # "@": a long name split into folders
            continue
        try:
            path = Path(base64.urlsafe_b64decode(record.name).decode())
            made = json.loads(record.read_text()).get("endtime")
        except (ValueError, UnicodeDecodeError, AttributeError):
            continue  # not a record of this kind: none of ours to judge
        if made is not None and rewritten_since(path, made):
            record.unlink()


def rewritten_since(path: Path, made: float) -> bool:
    if path.is_file():
        return abs(path.stat().st_mtime - made) > 0.001
    inside = [item for item in walk(path)[1:] if item.name != ".snakemake_timestamp"]
    return any(item.stat().st_mtime > made + 0.001 for item in inside)
