"""The settings the lab's questions vary, on real (synthetic) batches: batch order, Normalize's
statistics, random crop."""

import pytest
import torch
import yaml

from cnnlab import config
from cnnlab.data import transforms
from cnnlab.data.batches import BatchPreparer
from cnnlab.data.catalog import DATASETS
from cnnlab.data.fetch import fetch
from cnnlab.training import engine
from cnnlab.training.train import train_one_epoch
from synthetic import write_mirror
from test_config import PARAMS


@pytest.fixture(scope="module")
def params_file(tmp_path_factory):
    """params.yaml with synthetic MNIST (300 training images) as its data."""
    tmp = tmp_path_factory.mktemp("questions")
    mirror = write_mirror(tmp / "mirror", datasets=("mnist",), n_train=400, n_test=100)
    fetch("mnist", tmp / "raw", mirror=mirror, verify=False)
    params = config.read_params(PARAMS)
    params["data"].update(root=str(tmp / "raw"), mirror=str(mirror), verify=False, val_size=100)
    (tmp / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return tmp / "params.yaml"


def labels_seen(params_file, order: str, epochs=(1, 2)) -> list[list[int]]:
    """The labels of the training images in the order train_one_epoch feeds them, per epoch."""
    cfg = config.experiment_config(config.load_params(params_file), "lenet5_mnist",
                                   [f"order={order}", "batch_size=32"])
    session = engine.set_up_training(config.run_config(cfg, 0), threads=1)
    label_of = {bytes(image.numpy()): int(label) for image, label in zip(session.data.train_x,
                                                                        session.data.train_y)}
    assert len(label_of) == len(session.data.train_y)  # every image tells its label
    seen, prepare = [], session.prepare

    def recording_prepare(x, train, generator=None):
        seen.extend(label_of[bytes(image.numpy())] for image in x)
        return prepare(x, train, generator)

    session.prepare = recording_prepare
    per_epoch = []
    for epoch in epochs:
        seen.clear()
        train_one_epoch(session, epoch)
        per_epoch.append(list(seen))
    return per_epoch, session.data.train_y.tolist()


def test_class_sorted_batches_come_in_label_order_the_same_every_epoch(params_file):
    (first, second), labels = labels_seen(params_file, "class_sorted")
    assert first == sorted(labels) and second == first


def test_file_order_is_the_training_split_as_it_lies(params_file):
    (first, second), labels = labels_seen(params_file, "file")
    assert first == labels and second == labels and labels != sorted(labels)


def test_shuffled_order_differs_every_epoch(params_file):
    (first, second), labels = labels_seen(params_file, "shuffled")
    assert sorted(first) == sorted(second) == sorted(labels)
    assert first != labels and second != first


def prepared(kind: str, dataset: str, x: torch.Tensor, augment="none", train=False, generator=None):
    cfg = {"normalize": kind, "augment": augment, "permute": False, "seed": 0}
    return BatchPreparer(cfg, DATASETS[dataset], channels_last=False)(x, train, generator)


@pytest.mark.parametrize("dataset, kind, mean, std", [
    ("mnist", "dataset", (0.1307,), (0.3081,)),
    ("mnist", "imagenet", (0.449,), (0.226,)),  # ImageNet's three values averaged
    ("mnist", "wrong", (0.9,), (0.05,)),
    ("cifar10", "dataset", (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)),
    ("cifar10", "imagenet", (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    ("cifar10", "wrong", (0.9, 0.9, 0.9), (0.05, 0.05, 0.05)),
])
def test_normalize_uses_the_statistics_it_names(dataset, kind, mean, std):
    """Images whose every channel has the named mean and std come out with mean 0 and std 1."""
    channels = DATASETS[dataset].channels
    generator = torch.Generator().manual_seed(0)
    values = torch.rand(64, channels, 8, 8, generator=generator)
    values = (values - values.mean((0, 2, 3), keepdim=True)) / values.std((0, 2, 3), keepdim=True)
    target = values * torch.tensor(std).view(1, -1, 1, 1) + torch.tensor(mean).view(1, -1, 1, 1)
    out = transforms.normalize(target, *transforms.normalization(kind, DATASETS[dataset].mean,
                                                                  DATASETS[dataset].std, channels))
    assert out.mean((0, 2, 3)) == pytest.approx([0.0] * channels, abs=1e-4)
    assert out.std((0, 2, 3)) == pytest.approx([1.0] * channels, abs=1e-3)
    # and the preparer applies them to uint8 batches
    x = torch.randint(0, 256, (4, channels, 8, 8), dtype=torch.uint8, generator=generator)
    expected = (x.float() / 255 - torch.tensor(mean).view(1, -1, 1, 1)) / torch.tensor(std).view(1, -1, 1, 1)
    assert torch.allclose(prepared(kind, dataset, x), expected, atol=2e-3)


def test_without_normalize_the_batch_is_to_tensor_alone_and_wrong_statistics_blow_it_up():
    x = torch.tensor([0, 128, 255], dtype=torch.uint8).view(1, 1, 1, 3)
    assert prepared("none", "mnist", x).flatten().tolist() == pytest.approx([0.0, 128 / 255, 1.0])
    assert prepared("wrong", "mnist", x).flatten().tolist() == pytest.approx([-18.0, (128 / 255 - 0.9) / 0.05,
                                                                              2.0], abs=1e-4)


def test_crop_shifts_without_flipping_and_only_in_training():
    generator = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (64, 1, 28, 28), dtype=torch.uint8, generator=generator)
    crop = prepared("none", "mnist", images, "crop", True, torch.Generator().manual_seed(5))
    crop_flip = prepared("none", "mnist", images, "crop_flip", True, torch.Generator().manual_seed(5))
    # the same crops: crop_flip's images are crop's, some of them mirrored
    mirrored = [not torch.equal(a, b) and torch.equal(a, b.flip(-1)) for a, b in zip(crop, crop_flip)]
    assert all(m or torch.equal(a, b) for m, a, b in zip(mirrored, crop, crop_flip))
    assert 10 < sum(mirrored) < 54
    padded = torch.nn.functional.pad(images.float() / 255, (4,) * 4)
    for image, out in zip(padded, crop):  # each crop is a window of the zero-padded image
        assert any(torch.equal(image[:, top:top + 28, left:left + 28], out)
                   for top in range(9) for left in range(9))
    assert sum(not torch.equal(out, image.float() / 255) for out, image in zip(crop, images)) > 50
    assert torch.equal(prepared("none", "mnist", images, "crop", False), images.float() / 255)
