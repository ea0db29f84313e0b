"""The study's models, looked up by name (like timm's ``create_model``).

    from cnnlab.models import create_model, init_weights
    model = create_model("lenet5", num_classes=10)
    init_weights(model, "xavier_uniform")

Each model lives in a small file of its own in this folder and registers itself with
``@register_model``; importing every module of the folder (below) fills ``MODELS``. A new model is
a new file here, and its name in the schema's ``model`` enum (tests/test_models.py checks both).
"""

import importlib
import inspect
import pkgutil

from torch import nn

from ..errors import CnnlabError

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

from .heads import linear_as_conv1x1  # noqa: E402
from .registry import MODEL_INPUT_SHAPES, MODELS, register_model  # noqa: E402
from .transfer import WeightsUnavailable  # noqa: E402

__all__ = [
    "INIT_SCHEMES",
    "MODELS",
    "MODEL_INPUT_SHAPES",
    "CnnlabError",
    "WeightsUnavailable",
    "count_parameters",
    "create_model",
    "init_weights",
    "linear_as_conv1x1",
    "register_model",
]


def create_model(name: str, num_classes: int = 10, **kwargs) -> nn.Module:
    """Build the model registered as ``name``; ``kwargs`` are its options (e.g. ``pretrained``)."""
    if name not in MODELS:
        raise CnnlabError(f"unknown model {name!r}; known models: {', '.join(sorted(MODELS))}")
    constructor = MODELS[name]
    try:  # check the options before building, so a typo is the user's error, not a crash
        inspect.signature(constructor).bind(num_classes=num_classes, **kwargs)
    except TypeError as error:
        raise CnnlabError(f"model {name!r}: {error}") from None
    return constructor(num_classes=num_classes, **kwargs)


def count_parameters(model: nn.Module) -> int:
    """All parameters, trainable and frozen."""
    return sum(p.numel() for p in model.parameters())


def _xavier_uniform(module: nn.Module) -> None:
    # Dive into Deep Learning's LeNet: Xavier-uniform weights, biases left as they are.
    if isinstance(module, (nn.Conv2d, nn.Linear)):
        nn.init.xavier_uniform_(module.weight)


def _kaiming_normal(module: nn.Module) -> None:
    # The ResNet tutorial's: He-normal for the convs (ReLU follows them; fan_out keeps the
    # gradients' scale in the backward pass), BatchNorm starts as the identity.
    if isinstance(module, nn.Conv2d):
        nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
    elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


INIT_SCHEMES = {
    "default": None,  # keep PyTorch's own initialisation
    "xavier_uniform": _xavier_uniform,
    "kaiming_normal": _kaiming_normal,
}


def init_weights(model: nn.Module, scheme: str) -> nn.Module:
    """Re-initialise ``model``'s weights in place with ``scheme``; returns the model."""
    if scheme not in INIT_SCHEMES:
        raise CnnlabError(
            f"unknown init scheme {scheme!r}; known schemes: {', '.join(INIT_SCHEMES)}"
        )
    init_module = INIT_SCHEMES[scheme]
    if init_module is not None:
        model.apply(init_module)
    return model
