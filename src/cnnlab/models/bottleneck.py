"""Discussion question 4 (c): a 1x1 bottleneck before a 3x3 convolution (GoogLeNet, ResNet).

A 3x3 conv from 64 to 64 channels costs 64 * 64 * 9 weights at every position. Squeezing the
64 channels to 16 with a 1x1 conv first costs 64 * 16 + 16 * 64 * 9: about 3.6 times fewer
weights and multiply-adds. Two MNIST models differ only in that block:

- ``cnn_plain_block``: the backbone of the heads (64 x 7 x 7), a 3x3 conv 64 -> 64, the FC head.
- ``cnn_bottleneck_block``: the same, with the 3x3 conv replaced by 1x1 64 -> 16, then 3x3 16 -> 64.
"""

import torch
from torch import nn

from .heads import BACKBONE_CHANNELS, BACKBONE_SIZE, small_backbone
from .registry import register_model

BOTTLENECK_CHANNELS = 16  # a quarter of the block's 64, as in ResNet's bottleneck blocks


def plain_block():
    return nn.Sequential(
        nn.Conv2d(BACKBONE_CHANNELS, BACKBONE_CHANNELS, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
    )


def bottleneck_block():
    return nn.Sequential(
        nn.Conv2d(BACKBONE_CHANNELS, BOTTLENECK_CHANNELS, kernel_size=1),  # the bottleneck
        nn.ReLU(inplace=True),
        nn.Conv2d(BOTTLENECK_CHANNELS, BACKBONE_CHANNELS, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
    )


class BlockNet(nn.Module):
    """The heads' backbone, then `block` (64 x 7 x 7 -> 64 x 7 x 7), then a Linear over all positions."""

    def __init__(self, block: nn.Module, num_classes=10):
        super().__init__()
        self.features = small_backbone()
        self.block = block
        self.head = nn.Linear(BACKBONE_CHANNELS * BACKBONE_SIZE**2, num_classes)

    def forward(self, x):
        return self.head(torch.flatten(self.block(self.features(x)), 1))


@register_model("cnn_plain_block", input_shape=(1, 28, 28))
def cnn_plain_block(num_classes=10):
    return BlockNet(plain_block(), num_classes)


@register_model("cnn_bottleneck_block", input_shape=(1, 28, 28))
def cnn_bottleneck_block(num_classes=10):
    return BlockNet(bottleneck_block(), num_classes)
