"""params.yaml: read it strictly, validate it against the schema, resolve one experiment's settings.

cnnlab reads params.yaml with `load_params` (the Snakefile with `read_params`, then `completed`),
and every `--set` value goes through `parse_override`: both use `read_yaml`, PyYAML's safe loader
made strict. Each experiment is completed with `defaults:` and the schema's defaults, then checked.
"""

import copy
import difflib
import functools
import math
from importlib import resources
from pathlib import Path

import jsonschema
import yaml

from cnnlab.config.strict_yaml import read_text, read_yaml
from cnnlab.errors import CnnlabError
from cnnlab.text import cut, shown

STUDY_KEYS = ("seeds", "device", "precision", "deterministic", "compile", "scale")
# The keys of `data:` that are part of every run's recipe (its settings take them at the top level);
# the others say where the data lies and how it is checked.
RECIPE_DATA_KEYS = ("val_size",)

# The keys besides `experiments` that name experiments (cnnlab.config.named_experiments checks
# the names): the report's, no part of any recipe.
NAMING_KEYS = ("questions", "comparisons", "figures")

# Keys of older catalogs, and what replaced them (issue 12): named in the error for the old key.
RENAMED_KEYS = {"shuffle": "`order` (true = shuffled, false = file)"}


@functools.cache  # read once; no caller changes it
def schema() -> dict:
    return yaml.safe_load(resources.files("cnnlab.config").joinpath("params.schema.yaml").read_text())


def read_params(path: str | Path = "params.yaml"):
    """params.yaml as written, read strictly but not yet validated."""
    path = Path(path)
    if not path.is_file():
        what = "not a regular file" if path.exists() else "no such file"
        raise CnnlabError(f"{path}: {what}; run from the project folder or pass --params params.yaml")
    return read_yaml(read_text(path), source=str(path))


def load_params(path: str | Path = "params.yaml") -> dict:
    """Read params.yaml strictly and validate it; each experiment completed with `defaults` and
    the schema's defaults."""
    return completed(read_params(path), source=str(path))


def completed(params, source: str) -> dict:
    """A validated copy of `params` (as read by `read_params`), its experiments completed."""
    params = copy.deepcopy(params)
    validate(params, source)
    return params


# jsonschema's own "integer" accepts 2.0 and its "number" accepts nan and inf: values that only fail
# later, inside torch, with a traceback.
_TYPES = jsonschema.Draft202012Validator.TYPE_CHECKER.redefine_many({
    "integer": lambda _, value: type(value) is int,  # not a float, not a bool
    "number": lambda _, value: type(value) in (int, float) and math.isfinite(value),
})
StrictValidator = jsonschema.validators.extend(jsonschema.Draft202012Validator, type_checker=_TYPES)


def experiment_keys() -> dict:
    """The recipe keys an experiment may set (and `--set` takes), each with its schema; not `base`,
    which names where an experiment's keys come from and is no part of its recipe."""
    return {key: prop for key, prop in schema()["$defs"]["experiment"]["properties"].items() if key != "base"}


def validate(params, source: str = "params.yaml") -> None:
    """Check `params` against the schema, then complete each experiment in place: its base's own
    keys, `defaults`, then the schema's defaults, merged under it; then check the experiments that
    NAMING_KEYS name. Raises one CnnlabError naming the first offending key and what is allowed."""
    from cnnlab.config.named_experiments import check_comparisons, check_questions  # it imports this module

    sch = schema()
    _check(StrictValidator(sch), params, source)
    if params["scale"] not in params["scales"]:
        raise CnnlabError(f"{source}: scale: {shown(params['scale'])} is not defined; "
                          f"allowed: {sorted(params['scales'])}")
    experiments = params["experiments"]
    own_keys = copy.deepcopy(experiments)  # as written: a base lends only the keys it sets itself
    schema_defaults = {key: prop["default"] for key, prop in experiment_keys().items() if "default" in prop}
    complete = StrictValidator({"$ref": "#/$defs/resolved_experiment", "$defs": sch["$defs"]})
    for name, spec in experiments.items():
        base = base_keys(own_keys, name, source)
        for layer in (base, params.get("defaults", {}), schema_defaults):
            for key, value in layer.items():
                spec.setdefault(key, copy.deepcopy(value))
        _check(complete, spec, source, where=["experiments", name])
        check_model_fits(spec, f"{source}: experiments.{name}")
    check_questions(params.get("questions", {}), experiments, source)
    check_comparisons(params, source)


def base_keys(own_keys: dict, name: str, source: str) -> dict:
    """The keys experiment `name` takes from its `base` (none without one); one level only."""
    base = own_keys[name].get("base")
    if base is None:
        return {}
    where = f"{source}: experiments.{name}.base"
    if base == name:
        raise CnnlabError(f"{where}: an experiment cannot be its own base; name another experiment "
                          "or remove `base`")
    if base not in own_keys:
        raise CnnlabError(f"{where}: {shown(base)} is not an experiment; "
                          f"{_choices(base, list(own_keys), 'known')}")
    if "base" in own_keys[base]:
        raise CnnlabError(f"{where}: {base} has a base itself ({own_keys[base]['base']}); a base must "
                          f"be an experiment without one: name {own_keys[base]['base']} instead")
    return {key: value for key, value in own_keys[base].items() if key != "base"}


def check_model_fits(spec: dict, where: str) -> None:
    """The experiment's model takes images of its dataset's channels (1 for MNIST, 3 for CIFAR-10)."""
    from cnnlab.config.model_inputs import input_channels
    from cnnlab.data.catalog import dataset_info

    takes, has = input_channels()[spec["model"]], dataset_info(spec["dataset"]).channels
    if takes != has:
        fitting = [model for model, channels in input_channels().items() if channels == has]
        raise CnnlabError(f"{where}: model {spec['model']} takes {takes}-channel images but "
                          f"{spec['dataset']} has {has}; set its model to one for {spec['dataset']} "
                          f"({', '.join(fitting)}) or its dataset to one for {spec['model']}")


def _check(validator, instance, source: str, where=(), explain=None) -> None:
    """Raise one CnnlabError for the most relevant schema violation of `instance`, if any, said by
    `explain` (without it, _explain)."""
    error = jsonschema.exceptions.best_match(validator.iter_errors(instance))
    if error is not None:
        key = ".".join(cut(str(p)) for p in [*where, *error.absolute_path]) or "(top level)"
        raise CnnlabError(f"{source}: {key}: {(explain or _explain)(error)}")


def study_datasets(params: dict) -> list[str]:
    """The datasets whose experiments make up the study (config.study: `datasets`, or `auto`)."""
    from cnnlab.config.study import study_choice

    return study_choice(params)[0]


def left_out_datasets(params: dict) -> dict[str, str]:
    """Each dataset the study leaves out, with why and how to put it in (in English)."""
    return {name: str(why) for name, why in left_out_reasons(params).items()}


def left_out_reasons(params: dict) -> dict:
    """Each dataset the study leaves out, with why (config.study.LeftOut: a kind, for other languages)."""
    from cnnlab.config.study import study_choice

    return study_choice(params)[1]


def study_experiments(params: dict) -> list[str]:
    """The experiments of the study's datasets, in catalog order."""
    chosen = study_datasets(params)
    return [name for name, spec in params["experiments"].items() if spec["dataset"] in chosen]


def _choices(word: str, choices, label: str = "allowed keys") -> str:
    """'did you mean `x`? <label>: ...' for a word that is not one of `choices`."""
    hint = f"it is now {RENAMED_KEYS[word]}; " if word in RENAMED_KEYS else _did_you_mean(word, choices)
    return f"{hint}{label}: {', '.join(choices)}"


def _did_you_mean(word: str, choices) -> str:
    """'did you mean `x`? ' where one of `choices` is close to `word`, else ''."""
    close = difflib.get_close_matches(word, choices, n=1)
    return f"did you mean `{close[0]}`? " if close else ""


def _explain(error: jsonschema.ValidationError) -> str:
    s, value = error.schema, error.instance
    if error.validator == "additionalProperties":
        allowed = list(s.get("properties", {}))
        unknown = next(str(k) for k in value if k not in allowed)
        return f"unknown key {shown(unknown)}; {_choices(unknown, sorted(allowed))}"
    if error.validator == "required":
        missing = next(k for k in error.validator_value if k not in value)
        own_keys = schema()["properties"]["defaults"]["propertyNames"]["not"]["enum"]  # not in defaults
        shared = missing in experiment_keys() and missing not in own_keys
        where = "to the experiment or to `defaults` " if shared else ""
        return f"the key {missing!r} is missing; add it {where}(see src/cnnlab/config/params.schema.yaml)"
    if error.validator == "not" and "description" in s:  # a key in the wrong place
        return f"{shown(value)} is not allowed here: {s['description']}"
    if error.validator == "enum":
        return f"{shown(value)} is not allowed; choose one of {s['enum']}"
    if error.validator in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        bounds = {k: s[k] for k in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum") if k in s}
        words = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}
        rule = " and ".join(f"{words[k]} {v}" for k, v in bounds.items())
        return f"{shown(value)} is out of range; allowed: a value {rule}"
    if error.validator == "minItems":
        return f"{shown(value)} has too few items; allowed: at least {error.validator_value}"
    if error.validator == "uniqueItems":
        return f"{shown(value)} lists a value more than once; allowed: each value once"
    if error.validator == "type":
        return _explain_type(value, s["type"], top_level=not error.absolute_path)
    return f"{shown(value)} is not allowed ({error.validator} {shown(error.validator_value)})"


def _explain_type(value, allowed, top_level: bool) -> str:
    if top_level:  # do not repeat a whole file that is not a catalog
        return (f"the file holds {type(value).__name__ if value is not None else 'nothing'}, "
                "not the catalog's keys; see src/cnnlab/config/params.schema.yaml")
    if isinstance(value, float) and not math.isfinite(value):
        return f"{value} is not a finite number; allowed: a finite {allowed}"
    if isinstance(value, str) and allowed == "number" and _is_float(value):
        return (f"{shown(value)} is text to YAML 1.1; allowed: a number, "
                "with a dot and a signed exponent if any (0.001, 1.0e-3)")
    if isinstance(value, float) and allowed == "integer" and value.is_integer():
        return f"{value} is not an integer; allowed: integer (write {int(value)}, not {value})"
    return f"{shown(value)} has the wrong type; allowed: {allowed}"


def _is_float(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def parse_override(text: str) -> tuple[str, object]:
    """'key=value' → (key, value); the value is read as YAML (numbers, booleans, lists), as strictly
    as params.yaml."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise CnnlabError(f"--set {shown(text)}: expected key=value, e.g. --set epochs=1")
    value = read_yaml(raw, source=f"--set {cut(text)}: {cut(key)}") if raw.strip() else ""
    if isinstance(value, str) and _is_float(value):  # YAML 1.1 reads 1e-3 as a string
        value = float(value)
    return key, value


def override_keys(params: dict) -> list[str]:
    """The keys --set takes: an experiment's, the study-wide ones, data.KEY."""
    return sorted({*experiment_keys(), *STUDY_KEYS}) + [f"data.{k}" for k in params["data"]]


def experiment_config(params: dict, name: str, overrides=()) -> dict:
    """One experiment's flat settings: study-wide keys, its recipe, the scale, then --set overrides."""
    if name not in params["experiments"]:
        known = _choices(name, list(params["experiments"]), "known")
        raise CnnlabError(f"unknown experiment {shown(name)}; {known} (see `cnnlab list`)")
    # Only this experiment and its base matter here: copying (and, with overrides, checking) the
    # whole catalog for each of its experiments would make reading a big catalog quadratic.
    spec = params["experiments"][name]
    own = {key: value for key, value in params.items() if key not in ("experiments", *NAMING_KEYS)}
    params = copy.deepcopy({**own, "experiments": {n: params["experiments"][n]
                                                   for n in (name, spec.get("base")) if n is not None}})
    recipe_keys = experiment_keys()
    recipe_overrides = {}
    for text in overrides:
        key, value = parse_override(text)
        if key in recipe_keys:
            params["experiments"][name][key] = value
            recipe_overrides[key] = value
        elif key in STUDY_KEYS:
            params[key] = value
        elif key.startswith("data.") and key[5:] in params["data"]:
            params["data"][key[5:]] = value
        else:
            allowed = _choices(key, override_keys(params))
            raise CnnlabError(f"--set {cut(text)}: unknown key {shown(key)}; {allowed}")
    if overrides:  # `params` itself was validated when it was loaded
        validate(params, source=f"params.yaml with --set {cut(' '.join(overrides))}")

    cfg = {key: params.get(key) for key in STUDY_KEYS}
    cfg["compile"] = bool(params.get("compile", False))
    cfg["data"] = dict(params["data"])
    cfg.update({key: params["data"][key] for key in RECIPE_DATA_KEYS})
    cfg.update(params["experiments"][name])
    cfg.pop("base", None)  # where the keys came from, no part of the recipe
    cfg.update(params["scales"][params["scale"]])
    cfg.update(recipe_overrides)  # an explicit --set beats the scale
    cfg["name"] = name
    return cfg


def run_config(cfg: dict, seed: int) -> dict:
    """The settings of one run of `cfg`'s experiment: `seed` in place of the list of seeds.

    The list is no part of a run's recipe: adding a seed to it changes no other run."""
    if seed not in cfg["seeds"]:
        raise CnnlabError(f"--seed {seed}: {cfg['name']} runs at the seeds {cfg['seeds']}; choose one of "
                          f"them, or add {seed} to `seeds` in params.yaml")
    run = {key: value for key, value in cfg.items() if key != "seeds"}
    run["seed"] = seed
    return run
