"""E8: transfer learning from torchvision's ImageNet ResNet-18.

The network is torchvision's own ``resnet18``; only its last layer changes, from 1000 ImageNet
classes to ``num_classes``. With ``pretrained=True`` the ImageNet weights come through
torchvision's usual mechanism: the torch hub cache (``$TORCH_HOME/hub/checkpoints/``, by default
``~/.cache/torch/hub/checkpoints/``), downloaded there on first use. With the file already in the
cache it works offline; without it and without internet, ``WeightsUnavailable`` says what to do.
"""

import os
import socket

import torch
from torch import nn

from ..errors import CnnlabError
from .registry import register_model

# Seconds one network operation may block: a network that drops packets would otherwise
# hang the download for minutes before failing.
DOWNLOAD_TIMEOUT = 30


class WeightsUnavailable(CnnlabError):
    """The pretrained weights could be neither found in the cache nor downloaded."""


def imagenet_weights():
    """torchvision's ImageNet ResNet-18 weights. torchvision is imported here, not at the top: it
    takes a second or more to import, and every job that imports the models (each `cnnlab train`
    and `evaluate`) would pay it, while only this model needs it."""
    import torchvision

    return torchvision.models.ResNet18_Weights.IMAGENET1K_V1


def weights_cache_path() -> str:
    """Where torchvision looks for (and downloads) the weights file."""
    return os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(imagenet_weights().url))


def load_imagenet_state_dict() -> dict:
    """The ImageNet state dict, from torchvision's cache or downloaded into it."""
    weights = imagenet_weights()
    path = weights_cache_path()
    was_cached = os.path.exists(path)
    previous_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT)
    try:
        return weights.get_state_dict(progress=False, check_hash=True)
    except Exception as error:  # this call only fetches and unpickles: any failure means no weights
        reason = " ".join(str(error).split())  # the CLI prints messages on one line
        if was_cached:
            problem = f"the cached pretrained ImageNet weights {path} could not be read ({reason})"
            fix = f"delete that file, or replace it with {weights.url}"
        else:
            problem = f"the pretrained ImageNet weights could not be downloaded ({reason})"
            fix = f"to run offline, put {weights.url} at {path} (torchvision's cache, TORCH_HOME)"
        skipped = "only this experiment (resnet18_imagenet, pretrained) is skipped"
        raise WeightsUnavailable(f"{problem}; {fix}; {skipped}") from error
    finally:
        socket.setdefaulttimeout(previous_timeout)


@register_model("resnet18_imagenet", input_shape=(3, 32, 32))
def resnet18_imagenet(num_classes=10, pretrained=False):
    import torchvision  # see imagenet_weights

    model = torchvision.models.resnet18(weights=None)
    if pretrained:
        model.load_state_dict(load_imagenet_state_dict())
    model.fc = nn.Linear(model.fc.in_features, num_classes)  # a new head, trained from scratch
    return model
