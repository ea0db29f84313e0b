"""dvc.yaml, written from the steps' declaration (cnnlab.pipeline.steps) with the reasons as comments.

After changing a step, a study-wide key or the code a step depends on, write it again from the
project folder: `python -m cnnlab.pipeline.dvc_yaml` (tests/test_steps.py checks that the dvc.yaml in
git is the one it writes).
"""

import math
import textwrap
from pathlib import Path

import yaml

from cnnlab.io import atomic_write_text
from cnnlab.pipeline.steps import STAGES, Noted, Stage

WIDTH = 100  # a reason that does not fit beside its line within this goes above it
HEADER = [
    "Written by `python -m cnnlab.pipeline.dvc_yaml` from cnnlab.pipeline.steps, the one declaration "
    "of each step: change that, not this file.",
    "The study as DVC stages: `dvc repro`. Each stage runs the same `cnnlab` commands as the Snakemake "
    "rules of its steps (workflow/rules/), and `foreach` makes one stage per dataset or per experiment "
    "of params.yaml, so adding an experiment there adds its stages here. A stage's deps under src/ are "
    "the code of its steps (cnnlab.results.provenance.STEP_CODE); its params, every key of params.yaml "
    "that shapes what it makes (the study-wide keys: cnnlab.config.STUDY_KEYS). Datasets and "
    "checkpoints go to DVC's cache; an experiment's summary.json, seeds.csv and curves.csv stay small "
    "and belong in git.",
    "`datasets` in params.yaml says which datasets make up the study. DVC runs every stage, so each "
    "command made for a dataset or an experiment has --skip-left-out: for a dataset left out it builds "
    "nothing, and leaves the stage's outputs empty where there are none (cnnlab.pipeline.left_out). The "
    "fetch and runs stages take `datasets` as a parameter, so putting a dataset back builds its "
    "stages; the summary and plot stages follow their runs.",
]


def dvc_yaml() -> str:
    """The text of dvc.yaml."""
    header = "\n#\n".join("\n".join(comment(paragraph, "")) for paragraph in HEADER)
    stages = "\n\n".join("\n".join(block({Noted(stage.name, stage.about): stage_entry(stage)}, 2))
                         for stage in STAGES)
    return f"{header}\nstages:\n{stages}\n"


def stage_entry(stage: Stage) -> dict:
    """One stage as dvc.yaml holds it."""
    body = {"cmd": stage.command}
    deps = [*stage.deps, *stage.code]
    if deps:
        body["deps"] = deps
    body["params"] = stage.params
    for kind, entries in (("outs", stage.outs), ("metrics", stage.metrics), ("plots", stage.plots)):
        if entries:
            body[kind] = [{path: flags} if flags else path for path, flags in entries.items()]
    return {"foreach": stage.foreach, "do": body} if stage.foreach else body


def block(value: dict | list, indent: int) -> list[str]:
    """A mapping or a list as YAML's block lines at `indent`; a Noted key or item has its reason."""
    pad = " " * indent
    lines = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (dict, list)):
                lines += noted(f"{pad}{scalar(key)}:", key) + block(item, indent + 2)
            else:
                lines += noted(f"{pad}{scalar(key)}: {scalar(item)}", key)
    else:
        for item in value:
            if isinstance(item, dict):  # an output with its flags: `- path:`, the flags under it
                [(path, flags)] = item.items()
                lines += noted(f"{pad}- {scalar(path)}:", path) + block(flags, indent + 4)
            else:
                lines += noted(f"{pad}- {scalar(item)}", item)
    return lines


def noted(line: str, name) -> list[str]:
    """`line` with the reason of `name`, if it has one: beside it, or above it where it does not fit."""
    why = getattr(name, "why", "")
    if not why:
        return [line]
    if len(line) + len("  # ") + len(why) <= WIDTH:
        return [f"{line}  # {why}"]
    return [*comment(why, line[:len(line) - len(line.lstrip())]), line]


def comment(text: str, indent: str) -> list[str]:
    return [f"{indent}# {part}" for part in textwrap.wrap(text, WIDTH - len(indent) - len("# "))]


def scalar(value) -> str:
    """`value` as YAML writes it (quoted only where YAML needs it)."""
    plain = str(value) if isinstance(value, str) else value  # a Noted is a str to YAML
    return yaml.safe_dump(plain, width=math.inf).removesuffix("\n...\n").removesuffix("\n")


if __name__ == "__main__":
    atomic_write_text(Path("dvc.yaml"), dvc_yaml())
