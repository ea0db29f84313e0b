"""The table of models: each model file registers its constructor here under a name.

Kept apart from ``__init__.py`` so the model files can import ``register_model`` without
importing the package that imports them.
"""

from collections.abc import Callable

from torch import nn

# name -> constructor(num_classes=10, **options) returning an nn.Module
MODELS: dict[str, Callable[..., nn.Module]] = {}

# name -> the (channels, height, width) of one input image, to build a dummy batch
MODEL_INPUT_SHAPES: dict[str, tuple[int, int, int]] = {}


def register_model(name: str, input_shape: tuple[int, int, int] | None = None):
    """Decorator: ``@register_model("lenet5", input_shape=(1, 28, 28))`` over a constructor."""

    def add(constructor: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in MODELS:
            raise ValueError(f"model {name!r} is registered twice")
        MODELS[name] = constructor
        if input_shape is not None:
            MODEL_INPUT_SHAPES[name] = tuple(input_shape)
        return constructor

    return add
