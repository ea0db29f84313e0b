"""The experiments that params.yaml names outside `experiments` (config.NAMING_KEYS), checked
against the catalog once its experiments are complete: the questions' bases and variants, and the
experiments of each comparison and figure (the schema's `$defs.experiment_name`)."""

from cnnlab.config import StrictValidator, _check, _choices, _did_you_mean, schema
from cnnlab.errors import CnnlabError
from cnnlab.text import shown


def check_questions(questions: dict, experiments: dict, source: str) -> None:
    """Each question compares experiments that differ from its `base` (their `base:`) in one key."""
    for name, question in questions.items():
        where, base = f"{source}: questions.{name}", question["base"]
        plain = [n for n, spec in experiments.items() if "base" not in spec]
        if base not in plain:
            raise CnnlabError(f"{where}.base: {shown(base)} is not an experiment without a base; "
                              f"{_choices(base, plain, 'known')}")
        for variant in question["variants"]:
            if experiments.get(variant, {}).get("base") != base:
                raise CnnlabError(f"{where}.variants: {shown(variant)} is not an experiment with "
                                  f"`base: {base}`; give it that base in `experiments`, or remove it here")


def check_comparisons(params: dict, source: str) -> None:
    """Each experiment that `comparisons` and `figures` name is one of `experiments`, and each
    comparison compares two of them."""
    names, sch = list(params["experiments"]), schema()
    # The file's own schema, already met, with an experiment's name one of the catalog's: its
    # only violations now are names that are not.
    naming = {key: sch["properties"][key] for key in ("comparisons", "figures")}
    named = StrictValidator({"properties": naming,
                             "$defs": {**sch["$defs"], "experiment_name": {"enum": names}}})

    def unknown(error) -> str:  # without the list of every experiment: a catalog holds dozens
        return (f"{shown(error.instance)} is not an experiment; {_did_you_mean(error.instance, names)}"
                "name one of `experiments`, or add it there")

    _check(named, params, source, explain=unknown)
    for number, comparison in enumerate(params.get("comparisons", [])):
        if comparison["a"] == comparison["b"]:
            raise CnnlabError(f"{source}: comparisons.{number}: a and b are both {comparison['a']}; "
                              "a comparison names two experiments")
