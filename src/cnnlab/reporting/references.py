"""references.yaml: the published numbers of STUDY.md that the reproduction table compares with."""

from pathlib import Path

from cnnlab.config.strict_yaml import read_text, read_yaml
from cnnlab.errors import CnnlabError
from cnnlab.results.records import require_keys

REFERENCES = Path("references.yaml")  # at the project's top, like params.yaml
REFERENCE_KINDS = {"lab": "the lab's text", "source": "original source",
                   "lab_code_here": "the lab's code, run here"}


def load_references(path: Path, params: dict) -> dict:
    path = Path(path)
    if not path.is_file():
        raise CnnlabError(f"{path}: no such file; run `cnnlab report` from the project folder")
    references = read_yaml(read_text(path), source=str(path))  # as strictly as params.yaml
    fix = "see the comments at its top for the format"
    require_keys(references, ("experiments",), path, fix)
    if not isinstance(references["experiments"], dict):
        raise CnnlabError(f"{path}: experiments must map experiment names to lists of references; {fix}")
    unknown = set(references["experiments"]) - set(params["experiments"])
    if unknown:
        raise CnnlabError(f"{path}: experiments not in params.yaml: {', '.join(sorted(unknown))}")
    for name, entries in references["experiments"].items():
        if not isinstance(entries, list):
            raise CnnlabError(f"{path}: {name}: expected a list of references; {fix}")
        for entry in entries:
            if not valid_reference(entry):
                raise CnnlabError(f"{path}: {name}: each reference needs kind ({', '.join(REFERENCE_KINDS)}),"
                                  f" value (a fraction in (0, 1]) and epochs (a number or null); got {entry}")
    return references


def is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def valid_reference(entry) -> bool:
    return (isinstance(entry, dict) and entry.get("kind") in REFERENCE_KINDS
            and is_number(entry.get("value")) and 0 < entry["value"] <= 1
            and (entry.get("epochs") is None or is_number(entry["epochs"])))
