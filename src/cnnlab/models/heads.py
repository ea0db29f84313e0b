"""Discussion question 4: a 1x1 convolution vs a fully-connected layer.

A 1x1 conv with C_in inputs and C_out outputs is a Linear(C_in, C_out) applied to the C_in-vector
at every pixel, with the same weights everywhere. ``linear_as_conv1x1`` makes that concrete: it
copies a Linear's weights into a Conv2d, and the two give the same numbers.

Two MNIST models share one feature extractor and differ only in their head:

- ``cnn_fc_head``: flatten the 64 x 7 x 7 features, then Linear(3136, classes): 31,370 head
  parameters, and each weight belongs to one position.
- ``cnn_conv1x1_head``: Conv2d 1x1 to ``classes`` maps, then average them over the 7 x 7
  positions: 650 head parameters, the same at every position. (Both steps are linear, so this
  equals global-average-pooling first and a Linear(64, classes) after.)
"""

import torch
from torch import nn

from .registry import register_model


def small_backbone():
    """1 x 28 x 28 -> 64 x 7 x 7."""
    return nn.Sequential(
        nn.Conv2d(1, 32, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2, 2),  # 32 x 14 x 14
        nn.Conv2d(32, 64, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2, 2),  # 64 x 7 x 7
    )


BACKBONE_CHANNELS, BACKBONE_SIZE = 64, 7


class FCHeadNet(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.features = small_backbone()
        self.head = nn.Linear(BACKBONE_CHANNELS * BACKBONE_SIZE**2, num_classes)

    def forward(self, x):
        return self.head(torch.flatten(self.features(x), 1))


class Conv1x1HeadNet(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.features = small_backbone()
        self.head = nn.Conv2d(BACKBONE_CHANNELS, num_classes, kernel_size=1)

    def forward(self, x):
        class_maps = self.head(self.features(x))  # B x classes x 7 x 7
        return class_maps.mean(dim=(2, 3))  # global average pool -> B x classes


def linear_as_conv1x1(linear: nn.Linear) -> nn.Conv2d:
    """A Conv2d 1x1 that computes ``linear`` at every position of a feature map.

    Linear weight [out, in] becomes conv weight [out, in, 1, 1]; the bias is the same.
    """
    conv = nn.Conv2d(
        linear.in_features,
        linear.out_features,
        kernel_size=1,
        bias=linear.bias is not None,
        device=linear.weight.device,
        dtype=linear.weight.dtype,
    )
    with torch.no_grad():
        conv.weight.copy_(linear.weight.reshape(linear.out_features, linear.in_features, 1, 1))
        if linear.bias is not None:
            conv.bias.copy_(linear.bias)
    return conv


@register_model("cnn_fc_head", input_shape=(1, 28, 28))
def cnn_fc_head(num_classes=10):
    return FCHeadNet(num_classes)


@register_model("cnn_conv1x1_head", input_shape=(1, 28, 28))
def cnn_conv1x1_head(num_classes=10):
    return Conv1x1HeadNet(num_classes)
