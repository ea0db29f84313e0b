"""`cnnlab evaluate EXP`: test the validation-selected checkpoint, per class and on shifted test images."""

from pathlib import Path

import pandas as pd
import torch

from cnnlab.errors import CnnlabError
from cnnlab.io import atomic_write_json, atomic_write_with, held_folder
from cnnlab.random_streams import shifted_test_generator
from cnnlab.results.kept import file_sha256
from cnnlab.results.provenance import code_digest
from cnnlab.results.records import load_model_state, read_history, read_train_record
from cnnlab.training.engine import accuracy, set_up

# shifted_test_acc (question 4): each test image moved this many pixels up, down, left or right
# (one direction an image, drawn from the run's seed), the uncovered border black (0).
SHIFT_PIXELS = 2
SHIFT_DIRECTIONS = ((-1, 0), (1, 0), (0, -1), (0, 1))  # (rows, columns): up, down, left, right


def evaluate(cfg: dict, out_dir: Path, threads: int | None = None) -> dict:
    out_dir = Path(out_dir)
    if not (out_dir / "train.json").is_file():
        raise CnnlabError(f"{out_dir}/train.json is missing: the training did not finish; "
                          f"run `cnnlab train {cfg['name']}` first")
    with held_folder(out_dir):  # refused before any work when the folder is busy or read-only
        metrics, predictions, confusion, per_class = compute(cfg, out_dir, threads)
        atomic_write_with(out_dir / "predictions.csv", lambda p: predictions.to_csv(p, index=False))
        atomic_write_with(out_dir / "confusion.csv", lambda p: confusion.to_csv(p))
        atomic_write_with(out_dir / "per_class.csv", lambda p: per_class.to_csv(p, index=False))
        atomic_write_json(out_dir / "metrics.json", metrics)  # last: its presence means all is written
    return metrics


def compute(cfg: dict, out_dir: Path, threads: int | None) -> tuple[dict, pd.DataFrame, pd.DataFrame,
                                                                     pd.DataFrame]:
    """metrics.json's figures, and the tables of predictions.csv, confusion.csv and per_class.csv."""
    fix = f"run `cnnlab train {cfg['name']}` again (with the same --set values)"
    trained = read_train_record(out_dir, cfg, fix)
    history = read_history(out_dir, fix)
    # The precision it was trained in; no pretrained weights: model.pt replaces them all.
    session = set_up({**cfg, "pretrained": False}, threads, precision=trained["precision"])
    load_model_state(session.model, out_dir / "model.pt", cfg, fix)
    data = session.data
    test_loss, test_pred = session.predict(data.test_x, data.test_y)
    _, val_pred = session.predict(data.val_x, data.val_y)
    _, shifted_pred = session.predict(shifted_images(data.test_x, cfg["seed"]), data.test_y)
    labs_best = history.loc[history["test_acc"].idxmax()]
    metrics = {
        "test_acc": accuracy(test_pred, data.test_y),
        "shifted_test_acc": accuracy(shifted_pred, data.test_y),
        "val_acc": accuracy(val_pred, data.val_y) if len(data.val_y) else None,
        "test_loss": test_loss,
        "best_epoch": trained["best_epoch"],
        "labs_best_test_acc": float(labs_best["test_acc"]),
        "labs_best_epoch": int(labs_best["epoch"]),
    }
    metrics = {k: round(v, 6) if isinstance(v, float) else v for k, v in metrics.items()}
    # what it was made from, so that a current evaluation is kept (cnnlab.results.kept.evaluation_kept)
    metrics.update(model_sha256=file_sha256(out_dir / "model.pt"), code_sha256=code_digest("evaluate"))

    classes = list(data.info.classes)
    actual = [classes[i] for i in data.test_y.tolist()]
    predicted = [classes[i] for i in test_pred.tolist()]
    predictions = pd.DataFrame({"index": range(len(actual)), "actual": actual, "predicted": predicted})
    confusion = (pd.crosstab(pd.Categorical(actual, classes), pd.Categorical(predicted, classes),
                             dropna=False).reindex(index=classes, columns=classes, fill_value=0))
    confusion.index.name, confusion.columns.name = "actual", None
    correct = pd.Series([confusion.loc[c, c] for c in classes], index=classes)
    total = confusion.sum(axis=1)
    per_class = pd.DataFrame({"class": classes, "correct": correct.values, "total": total.values})
    per_class["accuracy"] = (per_class["correct"] / per_class["total"].where(per_class["total"] > 0)).round(6)

    return metrics, predictions, confusion, per_class


def shift(images: torch.Tensor, rows: int, columns: int) -> torch.Tensor:
    """`images` [N, C, H, W] moved down `rows` and right `columns` pixels (negative: up, left),
    the pixels moved in from outside zero."""
    height, width = images.shape[-2:]
    shifted = torch.zeros_like(images)
    shifted[..., max(rows, 0):height + min(rows, 0), max(columns, 0):width + min(columns, 0)] = \
        images[..., max(-rows, 0):height + min(-rows, 0), max(-columns, 0):width + min(-columns, 0)]
    return shifted


def shifted_images(images: torch.Tensor, seed: int, pixels: int = SHIFT_PIXELS) -> torch.Tensor:
    """Each image moved `pixels` in one of SHIFT_DIRECTIONS, drawn per image from the seed's stream."""
    directions = torch.randint(len(SHIFT_DIRECTIONS), (len(images),), generator=shifted_test_generator(seed))
    directions = directions.to(images.device)
    shifted = torch.empty_like(images)
    for index, (rows, columns) in enumerate(SHIFT_DIRECTIONS):
        chosen = directions == index
        shifted[chosen] = shift(images[chosen], rows * pixels, columns * pixels)
    return shifted
