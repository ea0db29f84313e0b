"""E2: an MLP and a CNN with (almost) the same number of parameters, on MNIST.

The MLP has 6,442 parameters, the CNN 6,422. With the budget equal, any difference in accuracy
comes from the inductive bias: the CNN assumes nearby pixels belong together and that a pattern
means the same wherever it appears. Shuffling the pixels (E2b) breaks that assumption.

Both end in LogSoftmax because the lab trains them with the NLL loss.
"""

from torch import nn

from .registry import register_model


class MLPSmall(nn.Module):
    def __init__(self, num_classes=10, hidden=8):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Flatten(),  # 784
            nn.Linear(28 * 28, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, num_classes),
            nn.LogSoftmax(dim=1),
        )

    def forward(self, x):
        return self.layers(x)


class CNNSmall(nn.Module):
    def __init__(self, num_classes=10, channels=6):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, channels, kernel_size=5),  # 6 x 24 x 24
            nn.ReLU(),
            nn.MaxPool2d(2, 2),  # 6 x 12 x 12
            nn.Conv2d(channels, channels, kernel_size=5),  # 6 x 8 x 8
            nn.ReLU(),
            nn.MaxPool2d(2, 2),  # 6 x 4 x 4
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),  # 96
            nn.Linear(channels * 4 * 4, 50),
            nn.ReLU(),
            nn.Linear(50, num_classes),
            nn.LogSoftmax(dim=1),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


@register_model("mlp_small", input_shape=(1, 28, 28))
def mlp_small(num_classes=10):
    return MLPSmall(num_classes)


@register_model("cnn_small", input_shape=(1, 28, 28))
def cnn_small(num_classes=10):
    return CNNSmall(num_classes)
