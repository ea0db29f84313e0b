"""LeNet-5 (LeCun et al. 1998), in two flavours.

- ``lenet5`` (E1): the lab's modern version, ReLU and max pooling.
- ``lenet_sigmoid`` (E5): the textbook version from Dive into Deep Learning, sigmoid and average
  pooling as in the original paper. Same layers, same 61,706 parameters: only the nonlinearity
  and the pooling differ, which is exactly what the comparison is about.

Input: 1x28x28. The first conv pads by 2, so the 28x28 image acts like the paper's 32x32 one.
"""

from torch import nn

from .registry import register_model


class LeNet(nn.Module):
    def __init__(self, num_classes=10, activation=nn.ReLU, pool=nn.MaxPool2d):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, kernel_size=5, padding=2),  # 6 x 28 x 28
            activation(),
            pool(2, 2),  # 6 x 14 x 14
            nn.Conv2d(6, 16, kernel_size=5),  # 16 x 10 x 10
            activation(),
            pool(2, 2),  # 16 x 5 x 5
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),  # 400
            nn.Linear(16 * 5 * 5, 120),
            activation(),
            nn.Linear(120, 84),
            activation(),
            nn.Linear(84, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


@register_model("lenet5", input_shape=(1, 28, 28))
def lenet5(num_classes=10):
    return LeNet(num_classes, activation=nn.ReLU, pool=nn.MaxPool2d)


@register_model("lenet_sigmoid", input_shape=(1, 28, 28))
def lenet_sigmoid(num_classes=10):
    return LeNet(num_classes, activation=nn.Sigmoid, pool=nn.AvgPool2d)
