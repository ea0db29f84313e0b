"""The captions of `snakemake --report` (workflow/report/*.rst), made from the figures' declarations
and the tables' notes. After changing a caption, write them again:

    python -m cnnlab.reporting.captions
"""

import re
import textwrap
from pathlib import Path
from string import Formatter

from cnnlab.analysis import statistics
from cnnlab.io import atomic_write_text
from cnnlab.reporting.experiment_figures import FIGURES
from cnnlab.reporting.gallery import Gallery
from cnnlab.reporting.study_figures import STUDY_FIGURES
from cnnlab.reporting.tables import REPRODUCTION_NOTE, SUMMARY_NOTE

RST_FOLDER = Path("workflow/report")
REPORT_CAPTION = (
    "The study report: one self-contained HTML page (figures embedded) with the summary table, "
    "the reproduction table, every figure with its caption, the parameters and the environment.")


def wrap(text: str) -> str:
    return textwrap.fill(text, width=100) + "\n"


def by_name(gallery: Gallery, caption=lambda kind: kind.caption) -> str:
    """One caption for a folder of figures (a directory output marked with patterns=["{name}.png"]):
    it picks each figure's text, `caption(kind)`, by the {name} wildcard."""
    branches = "".join(f"{{% {'if' if i == 0 else 'elif'} snakemake.wildcards.name == \"{kind.name}\" %}}\n"
                       f"{wrap(caption(kind))}" for i, kind in enumerate(gallery.values()))
    return branches + "{% endif %}\n"


def read_from_config(kind) -> str:
    """A study figure's caption with each {field}, its experiments' place in params.yaml's
    `figures.<name>`, read there by Snakemake as it writes its report (its config is params.yaml)."""
    parts = []
    for text, field, _, _ in Formatter().parse(kind.caption):
        parts.append(text)
        if field:
            keys = "".join(f'["{key}"]' for key in re.findall(r"[^\[\]]+", field))
            parts.append(f'{{{{ snakemake.config["figures"]["{kind.name}"]{keys} }}}}')
    return "".join(parts)


def rst_captions() -> dict[str, str]:
    """File name -> text: the captions that workflow/rules/*.smk name in their report() outputs."""
    return {
        "plots.rst": by_name(FIGURES),  # results/EXP/plots
        "figures.rst": by_name(STUDY_FIGURES, read_from_config),  # results/figures
        "summary.rst": wrap(SUMMARY_NOTE),
        "reproduction_table.rst": wrap(REPRODUCTION_NOTE.format(rule=statistics.rule_text())),
        "report.rst": wrap(REPORT_CAPTION),
    }


def write_rst_captions(folder: Path = RST_FOLDER) -> None:
    for name, text in rst_captions().items():
        atomic_write_text(Path(folder) / name, text)


if __name__ == "__main__":
    write_rst_captions()
