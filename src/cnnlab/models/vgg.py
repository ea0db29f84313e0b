"""VGG with BatchNorm, shrunk for 32x32 CIFAR-10 images (as in kuangliu/pytorch-cifar).

A VGG is a list of 3x3 convolutions and 2x2 max-pools; the list ("cfg") is the whole design.
After five pools a 32x32 image is 1x1, so the classifier is a single Linear 512 -> classes
instead of ImageNet VGG's three big fully-connected layers.
"""

from torch import nn

from .registry import register_model

M = "M"  # a 2x2 max-pool in a cfg; every number is a conv 3x3 with that many output channels

VGG_CFGS = {
    # The lab's network. It calls it VGG16, but this layout is VGG-11's (8 convs).
    "vgg_lab": [64, M, 128, M, 256, 256, M, 512, 512, M, 512, 512, M],
    # The true VGG-16: 13 convs (its three ImageNet FC layers become the one Linear here).
    "vgg16": [64, 64, M, 128, 128, M, 256, 256, 256, M, 512, 512, 512, M, 512, 512, 512, M],
}


class VGG(nn.Module):
    def __init__(self, cfg, num_classes=10, in_channels=3):
        super().__init__()
        self.features = self.make_layers(cfg, in_channels)
        last_channels = [c for c in cfg if c != M][-1]
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(last_channels, num_classes))

    @staticmethod
    def make_layers(cfg, in_channels):
        layers = []
        for item in cfg:
            if item == M:
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [
                    nn.Conv2d(in_channels, item, kernel_size=3, padding=1),
                    nn.BatchNorm2d(item),
                    nn.ReLU(inplace=True),
                ]
                in_channels = item
        return nn.Sequential(*layers)

    def forward(self, x):
        return self.classifier(self.features(x))


@register_model("vgg_lab", input_shape=(3, 32, 32))
def vgg_lab(num_classes=10):
    return VGG(VGG_CFGS["vgg_lab"], num_classes)


@register_model("vgg16", input_shape=(3, 32, 32))
def vgg16(num_classes=10):
    return VGG(VGG_CFGS["vgg16"], num_classes)
