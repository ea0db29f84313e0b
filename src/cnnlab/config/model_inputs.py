"""The image channels each model takes, read from its `@register_model(name, input_shape=...)` line.

Validation checks that an experiment's model fits its dataset before anything runs, and must not
import torch (seconds; Snakemake validates while it reads the workflow). Importing cnnlab.models
would, so its files are read as text: the decorator stays the one declaration of a model's input.
"""

import ast
import functools
from pathlib import Path

MODELS_FOLDER = Path(__file__).parents[1] / "models"


@functools.cache
def input_channels() -> dict[str, int]:
    """model name -> the channels of its input images, for every model registered in models/."""
    channels = {}
    for path in sorted(MODELS_FOLDER.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "register_model":
                shape = next((k.value for k in node.keywords if k.arg == "input_shape"), None)
                if shape is not None and node.args:
                    channels[ast.literal_eval(node.args[0])] = ast.literal_eval(shape)[0]
    return channels
