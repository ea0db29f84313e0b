"""The pipeline's steps, declared once (cnnlab.pipeline.steps): dvc.yaml is the file written from
them, and every key of params.yaml that can change a result is a parameter of a stage."""

from pathlib import Path

from cnnlab import config
from cnnlab.pipeline.dvc_yaml import dvc_yaml
from cnnlab.pipeline.steps import STEPS
from test_drivers_agree import RECIPE_CHANGES

REPO = Path(__file__).resolve().parents[1]
DECLARED = {param for step in STEPS.values() for param in step.params}


def test_dvc_yaml_is_the_file_written_from_the_steps():
    assert (REPO / "dvc.yaml").read_text() == dvc_yaml(), \
        "dvc.yaml is out of date: run `python -m cnnlab.pipeline.dvc_yaml` in the project folder"


def test_every_key_of_params_yaml_is_a_parameter_of_a_stage_or_changes_no_result():
    """A key new to the schema (a study-wide one outside config.STUDY_KEYS, as `compile` was to
    dvc.yaml) fails here until a step takes it."""
    schema = config.schema()["properties"]
    labels = {"study_numbers"}  # `cnnlab list`'s labels: they change no recipe, result or report
    assert set(schema) - {param.split(".")[0] for param in DECLARED} == labels
    where_the_data_lies = {"data.root", "data.mirror"}  # its content is checked, wherever it lies
    assert {f"data.{key}" for key in schema["data"]["properties"]} - DECLARED == where_the_data_lies


def test_the_drivers_test_changes_each_key_that_shapes_a_run():
    """tests/test_drivers_agree.py changes each of these keys in a finished study. `datasets` and
    `data.verify` say which datasets are fetched, checked and built, not what a run computes:
    Snakemake leaves a dataset out of `all` where DVC's commands skip it (tests/test_pipeline.py's
    *_without_a_dataset tests). `questions`, `comparisons` and `figures` shape the report alone, which
    Snakemake makes again when DVC finds its stage changed (cnnlab.pipeline.freshness)."""
    report_only = {"questions", "comparisons", "figures"}
    assert DECLARED - set(RECIPE_CHANGES) == {"datasets", "data.verify", *report_only}
    assert set(RECIPE_CHANGES) <= DECLARED


def test_params_yaml_holds_every_parameter_of_the_stages():
    """DVC refuses to run a stage whose parameter params.yaml lacks (MissingParamsError), even one
    for which the schema has a default."""
    params = config.read_params(REPO / "params.yaml")
    for param in DECLARED:
        value = params
        for part in param.split("."):
            if part.startswith("${"):  # DVC fills it in for each stage
                break
            assert part in value, f"{param}: not in params.yaml"
            value = value[part]
