"""Question 4 (a): a Linear layer's weights copied into a 1x1 convolution give the same outputs.

The 1x1 conv is applied to whole feature maps; the Linear to the channel vector of each position
alone. Both compute the same sums, in a different order, so they differ only by rounding: the
largest absolute difference is what `max_abs_difference` returns, in float64 and float32.

    from cnnlab.analysis.equivalence import conv1x1_equivalence
    conv1x1_equivalence()  # {"float64": ..., "float32": ..., "linear": "Linear(64, 10)", ...}

The report calls `conv1x1_equivalence` (milliseconds, no training, the same numbers every time).
"""

import torch
from torch import nn

from cnnlab.models import linear_as_conv1x1
from cnnlab.random_streams import conv1x1_check_generator

# The head of cnn_conv1x1_head: 64 channels to 10 classes on 7 x 7 maps; a batch of 8 maps.
IN_CHANNELS, OUT_CHANNELS, MAP_SIZE, MAPS = 64, 10, 7, 8
DTYPES = {"float64": torch.float64, "float32": torch.float32}


def linear_at_every_position(linear: nn.Linear, feature_maps: torch.Tensor) -> torch.Tensor:
    """`linear` applied to the channel vector of each position of [N, C, H, W] maps: [N, out, H, W]."""
    channels_last = feature_maps.permute(0, 2, 3, 1)  # [N, H, W, C]: one C-vector a position
    return linear(channels_last).permute(0, 3, 1, 2)


def max_abs_difference(dtype: torch.dtype, seed: int = 0) -> float:
    """The largest |conv1x1(x) - linear(x at each position)| over every output, with seeded random
    Linear weights and feature maps in `dtype`."""
    generator = conv1x1_check_generator(seed)
    linear = nn.Linear(IN_CHANNELS, OUT_CHANNELS, dtype=dtype)
    feature_maps = torch.randn(MAPS, IN_CHANNELS, MAP_SIZE, MAP_SIZE, generator=generator, dtype=dtype)
    with torch.no_grad():
        # scaled like PyTorch's own initialisation, so the outputs are of order 1
        weight = torch.randn(linear.weight.shape, generator=generator, dtype=dtype) / IN_CHANNELS**0.5
        linear.weight.copy_(weight)
        linear.bias.copy_(torch.randn(linear.bias.shape, generator=generator, dtype=dtype))
        conv = linear_as_conv1x1(linear)
        difference = conv(feature_maps) - linear_at_every_position(linear, feature_maps)
    return difference.abs().max().item()


def conv1x1_equivalence(seed: int = 0) -> dict:
    """The largest difference in each of DTYPES, and what was compared (for the report's text)."""
    return {
        **{name: max_abs_difference(dtype, seed) for name, dtype in DTYPES.items()},
        "linear": f"Linear({IN_CHANNELS}, {OUT_CHANNELS})",
        "feature_maps": f"{MAPS} x {IN_CHANNELS} x {MAP_SIZE} x {MAP_SIZE}",
        "outputs": MAPS * OUT_CHANNELS * MAP_SIZE * MAP_SIZE,
        "seed": seed,
        "threads": torch.get_num_threads(),  # the float32 rounding differs with the thread count
    }
