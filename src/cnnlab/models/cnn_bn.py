"""E7: a modern small CNN for MNIST: 3x3 convs, BatchNorm, dropout.

Two blocks of (conv-BN-ReLU) x 2 + max-pool + Dropout2d, then a small classifier. Dropout2d
drops whole feature maps, which suits conv features whose neighbouring pixels are correlated.
"""

from torch import nn

from .registry import register_model


def conv_bn_relu(in_channels, out_channels):
    return [
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    ]


class CNNBatchNorm(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            *conv_bn_relu(1, 32),
            *conv_bn_relu(32, 32),
            nn.MaxPool2d(2, 2),  # 32 x 14 x 14
            nn.Dropout2d(0.25),
            *conv_bn_relu(32, 64),
            *conv_bn_relu(64, 64),
            nn.MaxPool2d(2, 2),  # 64 x 7 x 7
            nn.Dropout2d(0.25),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),  # 3136
            nn.Linear(64 * 7 * 7, 128),
            nn.BatchNorm1d(128),
            nn.ReLU(inplace=True),
            nn.Dropout(0.5),
            nn.Linear(128, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


@register_model("cnn_bn", input_shape=(1, 28, 28))
def cnn_bn(num_classes=10):
    return CNNBatchNorm(num_classes)
