"""ResNet-18 for CIFAR-10 (He et al. 2016; the CIFAR variant of kuangliu/pytorch-cifar).

Differences from ImageNet ResNet-18, because the images are 32x32 rather than 224x224: the stem
is one 3x3 conv with stride 1 (not 7x7 stride 2) and there is no max-pool, so the first stage
still sees 32x32 feature maps.
"""

from torch import nn

from .registry import register_model


class BasicBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN, plus the input (the shortcut), then ReLU."""

    def __init__(self, in_channels, channels, stride=1):
        super().__init__()
        # No conv bias: the BatchNorm right after has its own.
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)
        if stride != 1 or in_channels != channels:
            # The input's shape differs from the output's: project it with a 1x1 conv.
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(channels),
            )
        else:
            self.shortcut = nn.Identity()

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    def __init__(self, blocks_per_stage=(2, 2, 2, 2), num_classes=10, in_channels=3):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, 64, 3, stride=1, padding=1, bias=False),
            nn.BatchNorm2d(64),
            nn.ReLU(inplace=True),
        )
        stages = []
        channels_in = 64
        for channels, first_stride, blocks in zip(
            (64, 128, 256, 512), (1, 2, 2, 2), blocks_per_stage, strict=True
        ):
            stage = []
            for i in range(blocks):
                stage.append(BasicBlock(channels_in, channels, first_stride if i == 0 else 1))
                channels_in = channels
            stages.append(nn.Sequential(*stage))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.pool = nn.AdaptiveAvgPool2d(1)  # global average pool: 512 x 4 x 4 -> 512 x 1 x 1
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x):
        x = self.stem(x)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.pool(x).flatten(1))


@register_model("resnet18", input_shape=(3, 32, 32))
def resnet18(num_classes=10):
    return ResNet((2, 2, 2, 2), num_classes)
