"""The model registry: shapes, parameter counts and FLOPs against STUDY.md, init schemes, errors,
the offline behaviour of the pretrained model, and the 1x1-conv = Linear equivalence."""

import math
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
from pathlib import Path

import pytest
import torch
import torchvision
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from cnnlab import config
from cnnlab.errors import CnnlabError
from cnnlab.models import (
    MODEL_INPUT_SHAPES,
    MODELS,
    WeightsUnavailable,
    count_parameters,
    create_model,
    init_weights,
    linear_as_conv1x1,
    transfer,
)

REPO = Path(__file__).resolve().parents[1]

# STUDY.md's numbers for the study's models; the two question-4 heads are this package's own
# design. The tests of shapes and training run on every registered model.
PARAMETERS = {
    "lenet5": 61_706,
    "lenet_sigmoid": 61_706,
    "mlp_small": 6_442,
    "cnn_small": 6_422,
    "vgg_lab": 9_231_114,
    "vgg16": 14_728_266,
    "resnet18": 11_173_962,
    "convnet": 145_578,
    "cnn_bn": 468_458,
    "resnet18_imagenet": 11_181_642,
    "cnn_fc_head": 50_186,
    "cnn_conv1x1_head": 19_466,
}
LOG_SOFTMAX_MODELS = ["mlp_small", "cnn_small"]
FLOPS_PER_IMAGE = {"lenet5": 0.83e6, "vgg_lab": 306e6, "resnet18": 1.11e9}


@pytest.fixture(autouse=True)
def seeded():
    torch.manual_seed(0)


def batch(name, size=2):
    return torch.randn(size, *MODEL_INPUT_SHAPES[name])


def test_registry_holds_every_study_model_with_an_input_shape():
    assert set(PARAMETERS) <= set(MODELS)
    assert set(MODEL_INPUT_SHAPES) == set(MODELS)
    assert all(shape in [(1, 28, 28), (3, 32, 32)] for shape in MODEL_INPUT_SHAPES.values())


def test_schema_names_every_registered_model():
    assert sorted(config.schema()["$defs"]["model"]["enum"]) == sorted(MODELS)


def test_a_new_model_file_is_found_without_editing_the_package(tmp_path):
    """Adding a model: a file in cnnlab/models/ (and its name in the schema's enum, checked above)."""
    package = tmp_path / "cnnlab"
    shutil.copytree(REPO / "src" / "cnnlab", package, ignore=shutil.ignore_patterns("__pycache__"))
    (package / "models" / "tiny.py").write_text(
        "from torch import nn\n\nfrom .registry import register_model\n\n\n"
        "@register_model('tiny', input_shape=(1, 28, 28))\n"
        "def tiny(num_classes=10):\n    return nn.Sequential(nn.Flatten(), nn.Linear(784, num_classes))\n")
    code = ("from cnnlab.models import MODEL_INPUT_SHAPES, create_model; "
            "print(MODEL_INPUT_SHAPES['tiny'], create_model('tiny'))")
    found = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                           env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert found.returncode == 0, found.stderr
    assert found.stdout.startswith("(1, 28, 28) Sequential(")


@pytest.mark.parametrize("name", sorted(PARAMETERS))
def test_parameter_count_is_the_studys(name):
    assert count_parameters(create_model(name)) == PARAMETERS[name]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_output_shape(name):
    model = create_model(name).eval()
    with torch.no_grad():
        assert model(batch(name)).shape == (2, 10)
    assert create_model(name, num_classes=7).eval()(batch(name)).shape == (2, 7)


def test_count_parameters_includes_frozen_ones():
    model = create_model("lenet5")
    for p in model.features.parameters():
        p.requires_grad_(False)
    assert count_parameters(model) == PARAMETERS["lenet5"]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_channels_last_input_gives_the_same_output(name):
    model = create_model(name).eval()
    x = batch(name)
    with torch.no_grad():
        expected = model(x)
        model = model.to(memory_format=torch.channels_last)
        got = model(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_training_step_reaches_every_parameter(name):
    model = create_model(name).train().to(memory_format=torch.channels_last)
    x = batch(name).contiguous(memory_format=torch.channels_last)
    model(x).sum().backward()
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize("name", LOG_SOFTMAX_MODELS)
def test_log_softmax_models_output_log_probabilities(name):
    with torch.no_grad():
        out = create_model(name).eval()(batch(name, size=4))
    torch.testing.assert_close(out.exp().sum(dim=1), torch.ones(4))


@pytest.mark.parametrize("name", sorted(FLOPS_PER_IMAGE))
def test_flops_per_image_match_the_study(name):
    model, x = create_model(name).eval(), batch(name)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    flops_per_image = counter.get_total_flops() / len(x)  # a multiply-add counts 2
    assert flops_per_image == pytest.approx(FLOPS_PER_IMAGE[name], rel=0.02)


def test_lenet_variants_differ_only_in_activation_and_pooling():
    relu, sigmoid = create_model("lenet5"), create_model("lenet_sigmoid")
    assert [type(m) for m in relu.modules() if isinstance(m, nn.Sigmoid | nn.AvgPool2d)] == []
    assert sum(isinstance(m, nn.Sigmoid) for m in sigmoid.modules()) == 4
    assert sum(isinstance(m, nn.AvgPool2d) for m in sigmoid.modules()) == 2
    assert {k: v.shape for k, v in relu.state_dict().items()} == {
        k: v.shape for k, v in sigmoid.state_dict().items()
    }


def test_convnet_has_no_activations_as_written():
    activations = (nn.ReLU, nn.Sigmoid, nn.Tanh, nn.GELU)
    assert not any(isinstance(m, activations) for m in create_model("convnet").modules())


# --- weight initialisation ---------------------------------------------------------------


def test_default_init_leaves_pytorch_weights():
    model = create_model("lenet5")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    assert init_weights(model, "default") is model
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key])


def test_xavier_uniform_redraws_conv_and_linear_weights_within_the_bound():
    model = create_model("lenet_sigmoid")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    init_weights(model, "xavier_uniform")
    layers = [m for m in model.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    assert len(layers) == 5
    for layer in layers:
        w = layer.weight
        fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(w)
        bound = math.sqrt(6 / (fan_in + fan_out))
        assert w.abs().max() <= bound
        assert w.abs().max() > 0.9 * bound  # uniform on [-bound, bound]: the edge is reached
    for key, value in model.state_dict().items():
        changed = not torch.equal(value, before[key])
        assert changed == key.endswith("weight"), key  # weights redrawn, biases left alone


def test_kaiming_normal_sets_conv_std_and_batchnorm_identity():
    model = create_model("resnet18")
    for m in model.modules():  # make BatchNorm's state visibly not-initial first
        if isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight)
            nn.init.normal_(m.bias)
    fc_before = model.fc.weight.clone()
    init_weights(model, "kaiming_normal")
    for m in model.modules():
        if isinstance(m, nn.Conv2d) and m.weight.numel() > 10_000:
            fan_out = m.out_channels * m.kernel_size[0] * m.kernel_size[1]
            assert m.weight.std().item() == pytest.approx(math.sqrt(2 / fan_out), rel=0.1)
            assert m.weight.mean().abs().item() < 0.1 * math.sqrt(2 / fan_out)
        if isinstance(m, nn.BatchNorm2d):
            assert torch.equal(m.weight, torch.ones_like(m.weight))
            assert torch.equal(m.bias, torch.zeros_like(m.bias))
    assert torch.equal(model.fc.weight, fc_before)


def test_kaiming_normal_reaches_batchnorm1d():
    model = create_model("cnn_bn")
    bn = model.classifier[2]
    nn.init.normal_(bn.weight)
    init_weights(model, "kaiming_normal")
    assert torch.equal(bn.weight, torch.ones(128))


# --- errors a user can cause ---------------------------------------------------------------


def test_unknown_model_lists_the_known_ones():
    with pytest.raises(CnnlabError, match="unknown model 'lenet6'") as info:
        create_model("lenet6")
    assert all(name in str(info.value) for name in MODELS)


def test_unknown_init_scheme():
    with pytest.raises(CnnlabError, match="unknown init scheme 'he'.*kaiming_normal"):
        init_weights(create_model("lenet5"), "he")


def test_unknown_model_option():
    with pytest.raises(CnnlabError, match="lenet5.*pretrained"):
        create_model("lenet5", pretrained=True)


# --- E8: torchvision's ResNet-18 and its pretrained weights ---------------------------------


def test_resnet18_imagenet_is_torchvisions_with_a_new_head():
    model = create_model("resnet18_imagenet", pretrained=False)
    reference = torchvision.models.resnet18(weights=None)
    ours = {k: v.shape for k, v in model.state_dict().items() if not k.startswith("fc.")}
    theirs = {k: v.shape for k, v in reference.state_dict().items() if not k.startswith("fc.")}
    assert ours == theirs
    assert (model.fc.in_features, model.fc.out_features) == (512, 10)


@pytest.fixture
def empty_torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    return tmp_path


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise urllib.error.URLError("network disabled by the test")

    monkeypatch.setattr(torch.hub, "urlopen", refuse)


def test_pretrained_without_network_or_cache_raises_weights_unavailable(
    empty_torch_home, no_network
):
    expected_path = empty_torch_home / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    assert transfer.weights_cache_path() == str(expected_path)
    with pytest.raises(WeightsUnavailable) as info:
        create_model("resnet18_imagenet", pretrained=True)
    message = str(info.value)
    assert isinstance(info.value, CnnlabError)
    assert "could not be downloaded" in message
    assert str(expected_path) in message
    assert "only this experiment" in message
    assert "\n" not in message  # the CLI prints it on one line
    assert socket.getdefaulttimeout() is None  # the download's timeout does not leak out


def test_pretrained_offline_here_fails_fast(empty_torch_home):
    # The real download attempt, no monkeypatching of the network: offline it must fail quickly.
    start = time.monotonic()
    try:
        create_model("resnet18_imagenet", pretrained=True)
    except WeightsUnavailable:
        assert time.monotonic() - start < transfer.DOWNLOAD_TIMEOUT + 10
    else:
        pytest.skip("the network is reachable here: the weights were downloaded")


def test_pretrained_loads_from_the_cache_offline(empty_torch_home, no_network):
    imagenet_like = torchvision.models.resnet18(weights=None).state_dict()
    path = transfer.weights_cache_path()
    os.makedirs(os.path.dirname(path))
    torch.save(imagenet_like, path)
    model = create_model("resnet18_imagenet", pretrained=True)
    torch.testing.assert_close(model.conv1.weight, imagenet_like["conv1.weight"])
    torch.testing.assert_close(model.layer4[1].bn2.bias, imagenet_like["layer4.1.bn2.bias"])
    assert model.fc.out_features == 10


def test_pretrained_with_a_broken_cached_file_says_so(empty_torch_home, no_network):
    path = transfer.weights_cache_path()
    os.makedirs(os.path.dirname(path))
    with open(path, "wb") as f:
        f.write(b"not a checkpoint")
    with pytest.raises(WeightsUnavailable, match="could not be read.*delete that file"):
        create_model("resnet18_imagenet", pretrained=True)


# --- discussion question 4: 1x1 convolution vs fully-connected layer -----------------------


def test_conv1x1_is_a_linear_layer_applied_at_every_position():
    linear = nn.Linear(64, 10)
    conv = linear_as_conv1x1(linear)
    x = torch.randn(2, 64, 7, 7)
    with torch.no_grad():
        # Linear on the channel vector of each pixel: move channels last, apply, move back.
        per_position = linear(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        torch.testing.assert_close(conv(x), per_position, rtol=0, atol=1e-6)
    assert count_parameters(conv) == count_parameters(linear) == 650


def test_linear_as_conv1x1_without_bias():
    linear = nn.Linear(8, 3, bias=False)
    conv = linear_as_conv1x1(linear)
    assert conv.bias is None
    x = torch.randn(1, 8, 4, 4)
    with torch.no_grad():
        per_position = linear(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        torch.testing.assert_close(conv(x), per_position, rtol=0, atol=1e-6)


def test_the_two_heads_share_the_backbone_and_differ_in_size():
    fc_net, conv_net = create_model("cnn_fc_head"), create_model("cnn_conv1x1_head")
    backbone = {k: v.shape for k, v in fc_net.features.state_dict().items()}
    assert backbone == {k: v.shape for k, v in conv_net.features.state_dict().items()}
    assert count_parameters(fc_net.head) == 64 * 7 * 7 * 10 + 10
    assert count_parameters(conv_net.head) == 64 * 10 + 10


def test_conv1x1_head_equals_global_pool_then_linear():
    model = create_model("cnn_conv1x1_head").eval()
    linear = nn.Linear(64, 10)
    with torch.no_grad():
        linear.weight.copy_(model.head.weight.flatten(1))
        linear.bias.copy_(model.head.bias)
        x = batch("cnn_conv1x1_head")
        pooled_first = linear(model.features(x).mean(dim=(2, 3)))
        torch.testing.assert_close(model(x), pooled_first, rtol=0, atol=1e-6)
