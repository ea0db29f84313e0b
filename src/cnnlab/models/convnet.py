"""E6: the beginner CIFAR-10 network of the TensorBoard tutorial, as written.

It has no activation functions: the max-pools are its only nonlinearity, and the two Linear
layers at the end collapse into one. Kept that way on purpose, to reproduce the tutorial.
"""

from torch import nn

from .registry import register_model


class ConvNet(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(3, 32, kernel_size=5, padding=2),  # 32 x 32 x 32
            nn.MaxPool2d(2, 2),  # 32 x 16 x 16
            nn.Conv2d(32, 32, kernel_size=5, padding=2),
            nn.MaxPool2d(2, 2),  # 32 x 8 x 8
            nn.Conv2d(32, 64, kernel_size=5, padding=2),
            nn.MaxPool2d(2, 2),  # 64 x 4 x 4
            nn.Flatten(),  # 1024
            nn.Linear(64 * 4 * 4, 64),
            nn.Linear(64, num_classes),
        )

    def forward(self, x):
        return self.layers(x)


@register_model("convnet", input_shape=(3, 32, 32))
def convnet(num_classes=10):
    return ConvNet(num_classes)
