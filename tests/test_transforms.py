import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms as T

from cnnlab.data import transforms

CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)


def random_images(n=8, c=3, size=32, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, c, size, size), dtype=torch.uint8, generator=generator)


@pytest.mark.parametrize("channels, mean, std", [(1, (0.1307,), (0.3081,)), (3, CIFAR_MEAN, CIFAR_STD)])
def test_to_float_and_normalize_match_torchvision(channels, mean, std):
    images = random_images(c=channels)
    ours = transforms.normalize(transforms.to_float(images), mean, std)
    reference = T.Compose([T.ToTensor(), T.Normalize(mean, std)])
    for image, got in zip(images, ours):
        array = image.permute(1, 2, 0).numpy()
        pil = Image.fromarray(array[:, :, 0] if channels == 1 else array)
        torch.testing.assert_close(got, reference(pil), atol=1e-6, rtol=0)


def _all_torchvision_outcomes(image: torch.Tensor, padding: int) -> list[torch.Tensor]:
    """Every image RandomCrop(32, padding) + RandomHorizontalFlip could return for `image`."""
    pil = Image.fromarray(image.permute(1, 2, 0).numpy())
    padded = T.functional.pad(pil, padding)
    size = image.shape[-1]
    outcomes = []
    for top in range(2 * padding + 1):
        for left in range(2 * padding + 1):
            crop = T.functional.crop(padded, top, left, size, size)
            for candidate in (crop, T.functional.hflip(crop)):
                outcomes.append(torch.from_numpy(np.array(candidate)).permute(2, 0, 1))
    return outcomes


def test_random_crop_flip_outputs_are_torchvision_outcomes():
    images = random_images(n=16)
    out = transforms.random_crop_flip(images, 4, torch.Generator().manual_seed(1))
    assert out.shape == images.shape and out.dtype == torch.uint8
    for image, got in zip(images, out):
        assert any(torch.equal(got, o) for o in _all_torchvision_outcomes(image, 4))


def test_random_crop_flip_varies_and_is_seeded():
    images = random_images(n=64)
    a = transforms.random_crop_flip(images, 4, torch.Generator().manual_seed(3))
    b = transforms.random_crop_flip(images, 4, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    assert not torch.equal(a, images)
    flipped = sum(torch.equal(o, i.flip(-1)) for o, i in zip(
        transforms.random_crop_flip(images, 0, torch.Generator().manual_seed(4)), images))
    assert 16 < flipped < 48  # about half, as RandomHorizontalFlip(0.5)


def test_pixel_permutation_is_fixed_by_seed_and_moves_every_image_alike():
    p1, p2 = transforms.pixel_permutation(7, 784), transforms.pixel_permutation(7, 784)
    assert torch.equal(p1, p2) and not torch.equal(p1, transforms.pixel_permutation(8, 784))
    assert torch.equal(p1.sort().values, torch.arange(784))
    images = random_images(n=4, c=1, size=28).float()
    shuffled = transforms.permute_pixels(images, p1)
    assert torch.equal(shuffled.flatten(1), images.flatten(1)[:, p1])


def test_mixup_blends_images_and_labels_with_one_lambda():
    x, y = torch.rand(16, 3, 8, 8), torch.arange(16)
    mixed, y_a, y_b, lam = transforms.mixup(x, y, 0.2, torch.Generator().manual_seed(0))
    assert 0 <= lam <= 1 and torch.equal(y_a, y)
    partner = [int((y == label).nonzero()) for label in y_b]
    torch.testing.assert_close(mixed, lam * x + (1 - lam) * x[partner])


def test_cutmix_lambda_is_the_unpasted_area():
    x, y = torch.rand(32, 3, 32, 32), torch.arange(32)
    for seed in range(5):
        mixed, _, y_b, lam = transforms.cutmix(x, y, 1.0, torch.Generator().manual_seed(seed))
        partner = [int((y == label).nonzero()) for label in y_b]
        kept = (mixed == x).all(dim=1)  # pixel positions still from the original image
        moved = [i for i in range(32) if partner[i] != i]
        assert moved, "the permutation should move some images"
        i = moved[0]
        assert kept[i].float().mean().item() == pytest.approx(lam, abs=1e-6)
        assert torch.equal(mixed[i][:, ~kept[i]], x[partner[i]][:, ~kept[i]])
