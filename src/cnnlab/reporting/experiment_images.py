"""An experiment's figures of images: test images with their predictions, the pixel permutation,
and the CIFAR augmentations (`cnnlab plot EXP`; experiment_figures.FIGURES shows them after the
charts)."""

from matplotlib.figure import Figure

from cnnlab.reporting.experiment_inputs import FigureInputs
from cnnlab.reporting.gallery import Gallery
from cnnlab.reporting.style import SAMPLE_COLUMNS, image_grid

FIRST_IMAGES = 16  # the sample grid shows the first test images ...
FIRST_MISTAKES = 16  # ... and the first misclassified ones
MIXUP_ALPHA, CUTMIX_ALPHA = 0.2, 1.0  # the companion tutorial's values (STUDY.md)

IMAGE_FIGURES = Gallery()  # `applies` gets the experiment's config


@IMAGE_FIGURES.figure("samples", caption=(
    "Test images with their true and predicted class: the first 16 of the test set and the "
    "first 16 misclassified ones, in test order (#n is the test index). Misclassified images "
    "are framed and titled in red. Images are shown as stored, before normalisation (and "
    "before any pixel permutation)."))
def samples_figure(inputs: FigureInputs) -> Figure:
    """The first test images and the first misclassified ones, in test order; mistakes in red."""
    predictions = inputs.tables["predictions"]
    wrong = predictions[predictions["actual"] != predictions["predicted"]]
    chosen = sorted(set(predictions.index[:FIRST_IMAGES]) | set(wrong.index[:FIRST_MISTAKES]))
    rows = predictions.loc[chosen]
    captions = [f"#{r.index}\ntrue: {r.actual}\npred: {r.predicted}" for r in rows.itertuples()]
    mistakes = (rows["actual"] != rows["predicted"]).tolist()
    fig = image_grid(inputs.data.test_x[rows["index"].tolist()], captions, mistakes)
    fig.suptitle(f"{inputs.title}: test images, true and predicted class\n"
                 f"(the first {FIRST_IMAGES} and the first {FIRST_MISTAKES} misclassified; "
                 f"misclassified in red, {sum(mistakes)} shown of {len(wrong)} in the test set)")
    return fig


@IMAGE_FIGURES.figure("permutation", applies=lambda cfg: cfg["permute"], caption=(
    "The same test images as stored (top) and as this experiment's model sees them (bottom): "
    "every image's pixel positions shuffled by one fixed, seeded permutation. Nothing of the "
    "content is lost for an MLP, but neighbouring pixels are no longer neighbours, which is "
    "all a convolution relies on."))
def permutation_figure(inputs: FigureInputs) -> Figure:
    """The same test images as the model sees them: original pixel order above, permuted below."""
    import torch  # see the imports at the top

    from cnnlab.data import transforms

    data, seed = inputs.data, inputs.run.cfg["seed"]
    x = data.test_x[:SAMPLE_COLUMNS]
    permuted = transforms.permute_pixels(x, transforms.pixel_permutation(seed, x[0, 0].numel()))
    labels = [data.info.classes[i] for i in data.test_y[:SAMPLE_COLUMNS].tolist()]
    fig = image_grid(torch.cat([x, permuted]), labels * 2, row_labels=["original", "permuted"])
    fig.suptitle(f"{inputs.title}\nthe same test images before (top) and after (bottom) "
                 f"the fixed pixel permutation (seed {seed}) applied to every image")
    return fig


# Drawn for every CIFAR-10 experiment (with augment: none too): the augmentations its recipes can use.
@IMAGE_FIGURES.figure("augmentation", applies=lambda cfg: cfg["dataset"] == "cifar10", caption=(
    "The CIFAR augmentations on real training images: random 32x32 crop of the image padded "
    "by 4 pixels plus a random horizontal flip (the labs' recipe); MixUp blends two images "
    "and their labels with one weight lambda; CutMix pastes a box of a partner image and "
    "weights the labels by area."))
def augmentation_figure(inputs: FigureInputs) -> Figure:
    """Real training images under each augmentation the CIFAR recipes can use."""
    import torch  # see the imports at the top

    from cnnlab import random_streams
    from cnnlab.data import transforms
    from cnnlab.data.batches import CROP_PADDING

    data, seed, classes = inputs.data, inputs.run.cfg["seed"], inputs.data.info.classes
    x, y = data.train_x[:SAMPLE_COLUMNS], data.train_y[:SAMPLE_COLUMNS]
    generator = random_streams.augmentation_figure_generator(seed)
    names = [classes[i] for i in y.tolist()]
    cropped = transforms.random_crop_flip(x, CROP_PADDING, generator)
    mixed, _, partner, lam = transforms.mixup(transforms.to_float(x), y, MIXUP_ALPHA, generator)
    cut, _, cut_partner, cut_lam = transforms.cutmix(x, y, CUTMIX_ALPHA, generator)
    captions = (
        names * 2
        + [f"{lam:.2f} {n}\n+ {1 - lam:.2f} {classes[p]}" for n, p in zip(names, partner.tolist())]
        + [f"{cut_lam:.2f} {n}\n+ {1 - cut_lam:.2f} {classes[p]}"
           for n, p in zip(names, cut_partner.tolist())]
    )
    images = torch.cat([x, cropped, (mixed * 255).round().to(torch.uint8), cut])
    fig = image_grid(images, captions, row_labels=[
        "original", f"random crop\n(padding {CROP_PADDING})\n+ flip",
        f"MixUp\n(alpha {MIXUP_ALPHA})", f"CutMix\n(alpha {CUTMIX_ALPHA})"])
    fig.suptitle(f"{inputs.title}: augmentations on real training images\n"
                 "(MixUp and CutMix: each image's label weight = the share of the image it contributes)")
    return fig
