"""params.yaml: load, validate against the schema, and resolve one experiment's settings."""

import copy
import math
from importlib import resources
from pathlib import Path

import jsonschema
import yaml

from cnnlab.errors import CnnlabError

STUDY_KEYS = ("seed", "device", "precision", "deterministic", "compile", "scale")


def schema() -> dict:
    return yaml.safe_load(resources.files("cnnlab").joinpath("params.schema.yaml").read_text())


def load_params(path: str | Path = "params.yaml") -> dict:
    """Read and validate params.yaml; fill in the schema's defaults."""
    path = Path(path)
    if not path.is_file():
        raise CnnlabError(f"{path}: no such file; run from the project folder or pass --params")
    try:
        params = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise CnnlabError(f"{path}: not valid YAML: {err}".replace("\n", " ")) from None
    validate(params, source=str(path))
    return params


def validate(params, source: str = "params.yaml") -> None:
    """Raise one CnnlabError naming the first offending key and what is allowed."""
    sch = schema()
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(sch).iter_errors(params))
    if error is not None:
        key = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        raise CnnlabError(f"{source}: {key}: {_explain(error)}")
    if params["scale"] not in params["scales"]:
        raise CnnlabError(
            f"{source}: scale: {params['scale']!r} is not defined; allowed: {sorted(params['scales'])}"
        )
    for spec in params["experiments"].values():
        for key, prop in sch["$defs"]["experiment"]["properties"].items():
            if key not in spec and "default" in prop:
                spec[key] = copy.deepcopy(prop["default"])


def study_experiments(params: dict) -> list[str]:
    """The experiments of the study's datasets (`datasets`; without it, all), in catalog order."""
    chosen = params.get("datasets")
    return [name for name, spec in params["experiments"].items()
            if chosen is None or spec["dataset"] in chosen]


def _explain(error: jsonschema.ValidationError) -> str:
    s = error.schema
    if error.validator == "additionalProperties":
        allowed = sorted(s.get("properties", {}))
        return f"{error.message}; allowed keys: {', '.join(allowed)}" if allowed else error.message
    if error.validator == "enum":
        return f"{error.instance!r} is not allowed; choose one of {s['enum']}"
    if error.validator in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        bounds = {k: s[k] for k in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum") if k in s}
        words = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}
        rule = " and ".join(f"{words[k]} {v}" for k, v in bounds.items())
        return f"{error.instance!r} is out of range; allowed: a value {rule}"
    if error.validator == "type":
        return f"{error.instance!r} has the wrong type; allowed: {s['type']}"
    return error.message


def parse_override(text: str) -> tuple[str, object]:
    """'key=value' → (key, value); the value is read as YAML (numbers, booleans, lists)."""
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise CnnlabError(f"--set {text!r}: expected key=value, e.g. --set epochs=1")
    value = yaml.safe_load(raw) if raw.strip() else ""
    if isinstance(value, str):  # YAML 1.1 reads 1e-3 as a string
        try:
            value = float(value)
            if not math.isfinite(value):
                raise ValueError
        except ValueError:
            value = raw
    return key.strip(), value


def experiment_config(params: dict, name: str, overrides=()) -> dict:
    """One experiment's flat settings: study-wide keys, its recipe, the scale, then --set overrides."""
    if name not in params["experiments"]:
        raise CnnlabError(
            f"unknown experiment {name!r}; known: {', '.join(params['experiments'])} (see `cnnlab list`)"
        )
    params = copy.deepcopy(params)
    experiment_keys = schema()["$defs"]["experiment"]["properties"]
    recipe_overrides = {}
    for text in overrides:
        key, value = parse_override(text)
        if key in experiment_keys:
            params["experiments"][name][key] = value
            recipe_overrides[key] = value
        elif key in STUDY_KEYS:
            params[key] = value
        elif key.startswith("data.") and key[5:] in params["data"]:
            params["data"][key[5:]] = value
        else:
            raise CnnlabError(
                f"--set {text}: unknown key {key!r}; allowed: {', '.join(sorted(experiment_keys))}, "
                f"{', '.join(STUDY_KEYS)}, {', '.join('data.' + k for k in params['data'])}"
            )
    validate(params, source=f"params.yaml with --set {' '.join(overrides)}")

    cfg = {key: params.get(key) for key in STUDY_KEYS}
    cfg["compile"] = bool(params.get("compile", False))
    cfg["data"] = dict(params["data"])
    cfg["val_size"] = params["data"]["val_size"]
    cfg.update(params["experiments"][name])
    cfg.update(params["scales"][params["scale"]])
    cfg.update(recipe_overrides)  # an explicit --set beats the scale
    cfg["name"] = name
    return cfg
