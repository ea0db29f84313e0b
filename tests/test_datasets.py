"""cnnlab.data (catalog, formats, fetch, load): fetching (mirror, Debian, internet), verifying, loading."""

import gzip
import hashlib
import io
import json
import lzma
import pickle
import tarfile
import urllib.error
import urllib.request
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision

from cnnlab.data.catalog import (
    CIFAR10,
    DATASETS,
    FASHION_MNIST,
    MNIST,
    PROVENANCE_FILE,
    DebianPackage,
    dataset_dir,
)
from cnnlab.data.fetch import fetch
from cnnlab.data.formats import format_of
from cnnlab.data.load import load
from cnnlab.errors import CnnlabError
from realdata import REAL_MIRROR, needs_real_mnist
from synthetic import (
    IDX_FILES,
    SEED_OFFSETS,
    cifar10_files,
    idx_bytes,
    make_images,
    python2_pickle,
    write_cifar10_dir,
    write_cifar10_tar,
    write_idx_dataset,
    write_mirror,
)

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
TORCHVISION_CLASS = {
    "mnist": torchvision.datasets.MNIST,
    "fashion_mnist": torchvision.datasets.FashionMNIST,
    "cifar10": torchvision.datasets.CIFAR10,
}


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """No test reaches the internet: torchvision's downloads fail at once, as they do here."""
    def urlopen(*args, **kwargs):
        raise urllib.error.URLError("network disabled in tests")

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)


@pytest.fixture(scope="module")
def real_mnist(tmp_path_factory):
    """The real MNIST fetched from the mirror once for this module: (root, provenance, splits)."""
    root = tmp_path_factory.mktemp("real-mnist")
    provenance = fetch("mnist", root, mirror=REAL_MIRROR)
    return root, provenance, load("mnist", root)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _read_sums(path: Path) -> dict[str, str]:
    pairs = (line.split() for line in path.read_text().splitlines())
    return {name: digest for digest, name in pairs}


def _decompressed(path: Path) -> bytes:
    opener = {".gz": gzip.open, ".xz": lzma.open}.get(path.suffix, open)
    with opener(path, "rb") as file:
        return file.read()


def _mirror_file(folder: Path, file: str) -> Path:
    return next(folder / (file + suffix) for suffix in ("", ".gz", ".xz")
                if (folder / (file + suffix)).is_file())


def _debian_at(monkeypatch, folder: Path) -> None:
    """Let Fashion-MNIST's Debian package be installed at `folder` (or missing there)."""
    package = DebianPackage(FASHION_MNIST.package.name, folder)
    monkeypatch.setitem(DATASETS, "fashion_mnist", replace(FASHION_MNIST, package=package))


def _accept_synthetic_cifar10(monkeypatch, files: dict[str, bytes]) -> None:
    """torchvision's CIFAR10 checks the files against the real MD5s: give it the synthetic ones."""
    cifar10 = torchvision.datasets.CIFAR10
    monkeypatch.setattr(cifar10, "train_list",
                        [[f"data_batch_{i}", _md5(files[f"data_batch_{i}"])] for i in range(1, 6)])
    monkeypatch.setattr(cifar10, "test_list", [["test_batch", _md5(files["test_batch"])]])
    monkeypatch.setattr(cifar10, "meta", {**cifar10.meta, "md5": _md5(files["batches.meta"])})


def _serve(monkeypatch, files: dict[str, bytes]) -> None:
    """Let urllib 'download' these files, by name from any address, instead of the network."""
    class Response(io.BytesIO):
        def __init__(self, url: str, data: bytes):
            super().__init__(data)
            self.url, self.length = url, len(data)

    def urlopen(request, *args, **kwargs):
        url = getattr(request, "full_url", request)
        name = url.rsplit("/", 1)[-1]
        if name not in files:
            raise urllib.error.URLError(f"{name} is not served in this test")
        return Response(url, files[name])

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)


def _check_splits(splits, name: str, n_train: int, n_test: int) -> None:
    info = DATASETS[name]
    shape = (info.channels, info.size, info.size)
    assert splits.info == info
    assert splits.train_x.shape == (n_train, *shape) and splits.train_x.dtype == torch.uint8
    assert splits.test_x.shape == (n_test, *shape) and splits.test_x.dtype == torch.uint8
    assert splits.train_y.shape == (n_train,) and splits.train_y.dtype == torch.int64
    assert splits.test_y.shape == (n_test,) and splits.test_y.dtype == torch.int64


def _check_same_as_torchvision(splits, name: str, root: Path) -> None:
    for train, x, y in ((True, splits.train_x, splits.train_y),
                        (False, splits.test_x, splits.test_y)):
        # torchvision reads the layout cnnlab writes, with data/raw/<name> as its root
        theirs = TORCHVISION_CLASS[name](root / name, train=train, download=False)
        # torchvision keeps MNIST as [N, H, W] and CIFAR-10 as [N, H, W, C]
        data = torch.as_tensor(theirs.data)
        expected_x = data.permute(0, 3, 1, 2) if data.ndim == 4 else data.unsqueeze(1)
        assert torch.equal(x, expected_x)
        assert torch.equal(y, torch.as_tensor(theirs.targets, dtype=torch.int64))


# ---- the catalog ----

def test_catalog_describes_the_three_datasets():
    assert set(DATASETS) == {"mnist", "fashion_mnist", "cifar10"}
    assert DATASETS["mnist"].classes == tuple("0123456789")
    assert DATASETS["fashion_mnist"].classes[0] == "T-shirt/top"
    assert DATASETS["cifar10"].classes == ("plane", "car", "bird", "cat", "deer",
                                           "dog", "frog", "horse", "ship", "truck")
    for info in DATASETS.values():
        assert len(info.classes) == 10
        assert len(info.mean) == len(info.std) == info.channels
    assert DATASETS["cifar10"].mean == (0.4914, 0.4822, 0.4465)
    assert DATASETS["cifar10"].std == (0.2023, 0.1994, 0.2010)


def test_known_cifar10_digests_are_torchvisions():
    cifar10 = torchvision.datasets.CIFAR10
    published = dict(cifar10.train_list + cifar10.test_list)
    published[cifar10.meta["filename"]] = cifar10.meta["md5"]
    assert CIFAR10.digests == published
    assert CIFAR10.archive.md5 == cifar10.tgz_md5


def test_every_declaration_is_complete():
    """What fetch, load and the figures read from a declaration is there and means something."""
    for name, info in DATASETS.items():
        assert info.name == name
        module = format_of(info)  # cnnlab/data/formats/<format>.py
        assert callable(module.copy_from) and callable(module.parse)
        assert info.digests and info.mirror_subfolders
        assert all(len(digest) == hashlib.new(info.algorithm).digest_size * 2
                   for digest in info.digests.values())
        assert hasattr(torchvision.datasets, info.download)
    for attribute in ("title", "marker", "folder"):
        assert len({getattr(info, attribute) for info in DATASETS.values()}) == len(DATASETS), attribute


# A new dataset for each format: the declaration of an existing one under another name.
NEW_DATASETS = {
    "idx": replace(MNIST, name="kmnist", title="Kuzushiji-MNIST", folder="KMNIST",
                   mirror_subfolders=("kmnist",), download="KMNIST", marker="D"),
    "cifar": replace(CIFAR10, name="cifar10_copy", title="CIFAR-10 again", mirror_subfolders=("copy",),
                     marker="v"),
}


@pytest.mark.parametrize("format_name", NEW_DATASETS)
def test_a_new_dataset_is_one_declaration(tmp_path, monkeypatch, format_name):
    """fetch and load dispatch on the declared format, never on the name: a dataset that cnnlab's
    code does not name works from its declaration alone, from the mirror and not from elsewhere."""
    info = NEW_DATASETS[format_name]
    monkeypatch.setitem(DATASETS, info.name, info)
    mirror = tmp_path / "mirror"
    if format_name == "idx":
        write_idx_dataset(mirror / "kmnist", n_train=30, n_test=10)
    else:
        write_cifar10_dir(mirror / "copy", n_train=30, n_test=10)
    root = tmp_path / "raw"
    provenance = fetch(info.name, root, mirror=mirror, verify=False)

    assert provenance["source"].startswith(f"offline mirror {mirror / info.mirror_subfolders[0]}")
    assert dataset_dir(info.name, root) == root / info.name / info.folder
    _check_splits(load(info.name, root), info.name, 30, 10)
    with pytest.raises(CnnlabError, match=rf"could not fetch {info.name}; tried \(1\) offline mirror: "
                                          r"none given; \(2\) internet: torchvision's download failed"):
        fetch(info.name, tmp_path / "elsewhere")


@pytest.mark.parametrize("function", [fetch, load])
def test_unknown_dataset_is_refused_naming_the_known_ones(tmp_path, function):
    with pytest.raises(CnnlabError, match="unknown dataset 'svhn'; known: mnist, fashion_mnist, "
                                          "cifar10"):
        function("svhn", tmp_path)
    assert list(tmp_path.iterdir()) == []


# ---- synthetic copies (digests unknown, so verify=False) ----

@pytest.mark.parametrize("compress", ["gz", "xz", None])
@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_idx_import_from_mirror_unverified(tmp_path, name, compress):
    mirror = write_mirror(tmp_path / "mirror", datasets=(name,), n_train=50, n_test=20,
                          compress=compress)
    root = tmp_path / "raw"
    provenance = fetch(name, root, mirror=mirror, verify=False)

    folder = dataset_dir(name, root)
    assert [path.name for path in root.iterdir()] == [name]  # no temporary folder left
    assert [path.name for path in folder.parent.iterdir()] == [folder.name]
    assert provenance == json.loads((folder / "cnnlab-fetch.json").read_text())
    source_folder = mirror / ("mnist" if name == "mnist" else "fashion-mnist")
    assert provenance["dataset"] == name and provenance["verified"] is False
    assert provenance["source"] == f"offline mirror {source_folder}"
    assert sorted(path.name for path in (folder / "raw").iterdir()) == sorted(IDX_FILES)
    for file in IDX_FILES:
        content = (folder / "raw" / file).read_bytes()
        assert content == _decompressed(_mirror_file(source_folder, file))
        assert provenance["files"][file] == _sha256(content)

    splits = load(name, root)
    _check_splits(splits, name, 50, 20)
    assert splits.verified is False
    train_x, train_y = make_images(50, 1, 28, SEED_OFFSETS[name])
    assert np.array_equal(splits.train_x.numpy(), train_x)
    assert np.array_equal(splits.train_y.numpy(), train_y)
    _check_same_as_torchvision(splits, name, root)


@pytest.mark.parametrize("subfolder", ["", "cifar10", "cifar-10"])
@pytest.mark.parametrize("layout", ["tar", "dir"])
def test_cifar10_import_from_mirror_unverified(tmp_path, monkeypatch, layout, subfolder):
    mirror = tmp_path / "mirror"
    write = write_cifar10_tar if layout == "tar" else write_cifar10_dir
    written = write(mirror / subfolder, n_train=50, n_test=20, seed=3)
    root = tmp_path / "raw"
    provenance = fetch("cifar10", root, mirror=mirror, verify=False)

    folder = dataset_dir("cifar10", root)
    assert [path.name for path in root.iterdir()] == ["cifar10"]
    assert [path.name for path in folder.parent.iterdir()] == [folder.name]
    assert provenance["verified"] is False
    assert provenance["source"].startswith(f"offline mirror {written}")
    if layout == "tar":  # the archive is named, and said not to be the canonical one
        assert "the canonical one's is c58f30108f718f92721af3b95e74349a" in provenance["source"]
    files = cifar10_files(n_train=50, n_test=20, seed=3)
    assert sorted(path.name for path in folder.iterdir()) == sorted([*files, "cnnlab-fetch.json"])
    for file, data in files.items():
        assert (folder / file).read_bytes() == data
        assert provenance["files"][file] == _sha256(data)

    splits = load("cifar10", root)
    _check_splits(splits, "cifar10", 50, 20)
    train_x, train_y = make_images(50, 3, 32, seed=3)
    test_x, test_y = make_images(20, 3, 32, seed=4)
    assert np.array_equal(splits.train_x.numpy(), train_x)
    assert np.array_equal(splits.train_y.numpy(), train_y)
    assert np.array_equal(splits.test_x.numpy(), test_x)
    assert np.array_equal(splits.test_y.numpy(), test_y)
    _accept_synthetic_cifar10(monkeypatch, files)
    _check_same_as_torchvision(splits, "cifar10", root)


def test_synthetic_cifar10_pickles_have_the_real_keys():
    batch = pickle.loads(cifar10_files(n_train=10, n_test=5)["data_batch_1"], encoding="bytes")
    assert set(batch) == {b"data", b"labels", b"batch_label", b"filenames"}
    assert batch[b"data"].dtype == np.uint8 and batch[b"data"].shape == (2, 3072)
    assert batch[b"batch_label"] == b"training batch 1 of 5"


@pytest.mark.parametrize("name", list(DATASETS))
def test_unknown_digests_are_refused_unless_verify_is_off(tmp_path, name):
    mirror = write_mirror(tmp_path / "mirror", datasets=(name,), n_train=20, n_test=10,
                          cifar_layout="dir", compress=None)
    root = tmp_path / "raw"
    root.mkdir()
    with pytest.raises(CnnlabError) as refusal:
        fetch(name, root, mirror=mirror)
    message = str(refusal.value)
    first_file = "data_batch_1" if name == "cifar10" else "train-images-idx3-ubyte"
    copy = next(mirror.rglob(first_file)).read_bytes()
    if name == "cifar10":
        expected, actual = CIFAR10.digests[first_file], _md5(copy)
    else:
        known = MNIST.digests if name == "mnist" else FASHION_MNIST.digests
        expected, actual = known[first_file], _sha256(copy)
    assert f"{first_file} has " in message and expected in message and actual in message
    assert "--no-verify" in message and "\n" not in message
    assert list(root.iterdir()) == []  # nothing left behind

    assert fetch(name, root, mirror=mirror, verify=False)["verified"] is False


def test_mirror_takes_precedence_over_debian(tmp_path, monkeypatch):
    _debian_at(monkeypatch, write_idx_dataset(tmp_path / "debian", n_train=20, n_test=10))
    mirror = write_mirror(tmp_path / "mirror", datasets=("fashion_mnist",), n_train=30, n_test=10)
    provenance = fetch("fashion_mnist", tmp_path / "raw", mirror=mirror, verify=False)
    assert provenance["source"] == f"offline mirror {mirror / 'fashion-mnist'}"


def test_fashion_mnist_from_the_debian_folder(tmp_path, monkeypatch):
    debian = write_idx_dataset(tmp_path / "debian", n_train=30, n_test=10, compress="gz", seed=5)
    _debian_at(monkeypatch, debian)
    empty_mirror = tmp_path / "mirror"
    (empty_mirror / "fashion-mnist").mkdir(parents=True)  # as in shared/: sums but no files
    root = tmp_path / "raw"
    provenance = fetch("fashion_mnist", root, mirror=empty_mirror, verify=False)
    assert provenance["source"] == f"Debian package dataset-fashion-mnist ({debian})"
    splits = load("fashion_mnist", root)
    _check_splits(splits, "fashion_mnist", 30, 10)
    assert np.array_equal(splits.test_x.numpy(), make_images(10, 1, 28, seed=6)[0])


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_idx_download_through_torchvision(tmp_path, monkeypatch, name):
    _debian_at(monkeypatch, tmp_path / "no-debian")
    served = write_idx_dataset(tmp_path / "server", n_train=30, n_test=10, compress="gz")
    files = {path.name: path.read_bytes() for path in served.iterdir()}
    _serve(monkeypatch, files)
    # torchvision checks downloads against the real archives' MD5s: give it the synthetic ones
    monkeypatch.setattr(TORCHVISION_CLASS[name], "resources",
                        [(file, _md5(data)) for file, data in files.items()])
    root = tmp_path / "raw"
    provenance = fetch(name, root, verify=False)

    assert provenance["source"] == "internet (torchvision download)"
    folder = dataset_dir(name, root)
    assert [path.name for path in root.iterdir()] == [name]
    assert [path.name for path in folder.parent.iterdir()] == [folder.name]
    assert sorted(path.name for path in (folder / "raw").iterdir()) == sorted(IDX_FILES)
    splits = load(name, root)
    _check_splits(splits, name, 30, 10)
    assert np.array_equal(splits.train_x.numpy(), make_images(30, 1, 28, seed=0)[0])


def test_cifar10_download_through_torchvision(tmp_path, monkeypatch):
    archive = write_cifar10_tar(tmp_path / "server", n_train=30, n_test=10)
    _serve(monkeypatch, {archive.name: archive.read_bytes()})
    monkeypatch.setattr(torchvision.datasets.CIFAR10, "tgz_md5", _md5(archive.read_bytes()))
    _accept_synthetic_cifar10(monkeypatch, cifar10_files(n_train=30, n_test=10))
    root = tmp_path / "raw"
    provenance = fetch("cifar10", root, verify=False)

    assert provenance["source"] == "internet (torchvision download)"
    assert [path.name for path in (root / "cifar10").iterdir()] == ["cifar-10-batches-py"]
    splits = load("cifar10", root)
    _check_splits(splits, "cifar10", 30, 10)
    assert np.array_equal(splits.train_x.numpy(), make_images(30, 3, 32, seed=0)[0])


# ---- no source, broken sources ----

def test_no_source_gives_one_error_listing_what_was_tried(tmp_path, monkeypatch):
    _debian_at(monkeypatch, tmp_path / "no-debian")
    mirror = tmp_path / "mirror"
    (mirror / "fashion-mnist").mkdir(parents=True)
    root = tmp_path / "raw"
    root.mkdir()
    with pytest.raises(CnnlabError) as failure:
        fetch("fashion_mnist", root, mirror=mirror)
    message = str(failure.value)
    assert message.startswith("could not fetch fashion_mnist; tried (1) offline mirror: ")
    assert f"{mirror / 'fashion-mnist'} lacks train-images-idx3-ubyte" in message
    assert f"no folder {mirror / 'fashion_mnist'}" in message
    no_debian = tmp_path / "no-debian"
    assert f"(2) Debian package dataset-fashion-mnist: {no_debian} not found" in message
    assert "(3) internet: torchvision's download failed" in message
    assert "network disabled in tests" in message
    assert "data.mirror" in message and "CNNLAB_DATA_MIRROR" in message
    assert "\n" not in message  # the CLI prints it on one line
    assert list(root.iterdir()) == []


@pytest.mark.parametrize("name", list(DATASETS))
def test_no_mirror_given(tmp_path, monkeypatch, name):
    _debian_at(monkeypatch, tmp_path / "no-debian")
    root = tmp_path / "raw"
    root.mkdir()
    with pytest.raises(CnnlabError, match=r"\(1\) offline mirror: none given; .*"
                                          r"internet: torchvision's download failed"):
        fetch(name, root)
    assert list(root.iterdir()) == []


def test_empty_mirror_for_cifar10_says_where_it_looked(tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    with pytest.raises(CnnlabError, match=r"no cifar-10-python.tar.gz or complete "
                                          r"cifar-10-batches-py/ in .*cifar-10"):
        fetch("cifar10", tmp_path / "raw", mirror=mirror)


def test_damaged_compressed_file_is_refused(tmp_path):
    mirror = write_mirror(tmp_path / "mirror", datasets=("mnist",), n_train=20, n_test=10)
    damaged = mirror / "mnist" / "t10k-images-idx3-ubyte.gz"
    damaged.write_bytes(damaged.read_bytes()[:40])
    root = tmp_path / "raw"
    root.mkdir()
    with pytest.raises(CnnlabError, match="cannot read .*t10k-images-idx3-ubyte.gz"):
        fetch("mnist", root, mirror=mirror, verify=False)
    assert list(root.iterdir()) == []


@pytest.mark.parametrize("damage, complaint", [
    (lambda data: b"\x00\x00\x08\x01" + data[4:], "not an IDX file of 3-dimensional"),
    (lambda data: data[:-1], "announces shape"),
])
def test_malformed_idx_is_refused_even_unverified(tmp_path, damage, complaint):
    mirror = write_mirror(tmp_path / "mirror", datasets=("mnist",), n_train=20, n_test=10,
                          compress=None)
    images = mirror / "mnist" / "train-images-idx3-ubyte"
    images.write_bytes(damage(images.read_bytes()))
    root = tmp_path / "raw"
    root.mkdir()
    with pytest.raises(CnnlabError, match=f"train-images-idx3-ubyte.*{complaint}"):
        fetch("mnist", root, mirror=mirror, verify=False)
    assert list(root.iterdir()) == []


def test_labels_out_of_range_are_refused(tmp_path):
    mirror = write_mirror(tmp_path / "mirror", datasets=("mnist",), n_train=20, n_test=10,
                          compress=None)
    (mirror / "mnist" / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.full(10, 10)))
    with pytest.raises(CnnlabError, match="t10k-labels-idx1-ubyte has labels outside 0-9"):
        fetch("mnist", tmp_path / "raw", mirror=mirror, verify=False)


def test_pickle_that_calls_a_function_is_refused(tmp_path):
    unpacked = write_cifar10_dir(tmp_path / "mirror", n_train=20, n_test=10)

    class CallsPrint:
        def __reduce__(self):
            return print, ("this must not run",)

    (unpacked / "test_batch").write_bytes(python2_pickle({b"data": CallsPrint()}))
    with pytest.raises(CnnlabError, match="test_batch is not a readable CIFAR-10 pickle: "
                                          "it refers to .*print"):
        fetch("cifar10", tmp_path / "raw", mirror=tmp_path / "mirror", verify=False)


def test_cifar10_archive_missing_a_batch_is_refused(tmp_path):
    archive = write_cifar10_tar(tmp_path / "mirror", n_train=20, n_test=10)
    with tarfile.open(archive) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}
    with tarfile.open(archive, "w:gz") as tar:
        for name, data in members.items():
            if not name.endswith("test_batch"):
                member = tarfile.TarInfo(name)
                member.size = len(data)
                tar.addfile(member, io.BytesIO(data))
    root = tmp_path / "raw"
    root.mkdir()
    with pytest.raises(CnnlabError, match="lacks cifar-10-batches-py/test_batch"):
        fetch("cifar10", root, mirror=tmp_path / "mirror", verify=False)
    assert list(root.iterdir()) == []


# ---- a folder already in place ----

def test_existing_unverified_folder_is_refused_when_verifying_and_kept(tmp_path, capsys):
    mirror = write_mirror(tmp_path / "mirror", datasets=("mnist",), n_train=20, n_test=10)
    root = tmp_path / "raw"
    provenance = fetch("mnist", root, mirror=mirror, verify=False)
    folder = dataset_dir("mnist", root)
    before = {path: path.read_bytes() for path in folder.rglob("*") if path.is_file()}

    with pytest.raises(CnnlabError, match=f"Delete {folder} and run `cnnlab fetch mnist` again, "
                                          "or pass --no-verify"):
        fetch("mnist", root, mirror=mirror)
    assert fetch("mnist", root, mirror=mirror, verify=False) == provenance
    assert "already in place (NOT verified); nothing to do" in capsys.readouterr().out
    assert {path: path.read_bytes() for path in folder.rglob("*") if path.is_file()} == before


def test_existing_folder_without_provenance_is_adopted(tmp_path):
    # as torchvision's own download leaves it: the .gz files and the decompressed ones
    raw = dataset_dir("fashion_mnist", tmp_path / "raw") / "raw"
    write_idx_dataset(raw, n_train=20, n_test=10, compress=None)
    write_idx_dataset(raw, n_train=20, n_test=10, compress="gz")
    provenance = fetch("fashion_mnist", tmp_path / "raw", verify=False)
    assert provenance["source"] == f"existing folder {raw.parent}"
    assert provenance["verified"] is False
    _check_splits(load("fashion_mnist", tmp_path / "raw"), "fashion_mnist", 20, 10)


def test_incomplete_existing_folder_is_refused(tmp_path):
    (dataset_dir("mnist", tmp_path) / "raw").mkdir(parents=True)
    with pytest.raises(CnnlabError, match="MNIST exists but lacks train-images-idx3-ubyte, "
                                          "train-labels-idx1-ubyte, t10k-images-idx3-ubyte"):
        fetch("mnist", tmp_path, verify=False)


# ---- load ----

def test_load_before_fetch_says_how_to_fetch(tmp_path):
    with pytest.raises(CnnlabError, match="run `cnnlab fetch cifar10` first"):
        load("cifar10", tmp_path)


def test_load_notices_files_changed_since_fetch(tmp_path):
    mirror = write_mirror(tmp_path / "mirror", datasets=("mnist",), n_train=20, n_test=10)
    fetch("mnist", tmp_path / "raw", mirror=mirror, verify=False)
    labels = dataset_dir("mnist", tmp_path / "raw") / "raw" / "t10k-labels-idx1-ubyte"
    labels.write_bytes(labels.read_bytes()[:-1] + b"\x00")
    with pytest.raises(CnnlabError, match="t10k-labels-idx1-ubyte changed since it was fetched"):
        load("mnist", tmp_path / "raw")


# ---- the real data ----

@needs_real_mnist
def test_real_mnist_imports_verified(real_mnist):
    root, provenance, splits = real_mnist
    assert provenance["verified"] is True and splits.verified is True
    assert provenance["source"] == f"offline mirror {REAL_MIRROR / 'mnist'}"
    assert provenance["files"] == _read_sums(REAL_MIRROR / "mnist" / "SHA256SUMS")
    assert provenance["files"] == MNIST.digests
    _check_splits(splits, "mnist", 60000, 10000)
    assert torch.bincount(splits.train_y).tolist() == MNIST_TRAIN_COUNTS
    assert torch.bincount(splits.test_y).tolist() == MNIST_TEST_COUNTS


@needs_real_mnist
def test_real_mnist_pixels_match_torchvision(real_mnist):
    root, _, splits = real_mnist
    _check_same_as_torchvision(splits, "mnist", root)


@needs_real_mnist
def test_fetch_again_is_a_no_op(real_mnist, capsys):
    root, provenance, _ = real_mnist
    before = {path: path.stat().st_mtime_ns for path in root.rglob("*")}
    assert fetch("mnist", root) == provenance  # no source needed
    assert "already in place (verified); nothing to do" in capsys.readouterr().out
    assert {path: path.stat().st_mtime_ns for path in root.rglob("*")} == before


@needs_real_mnist
def test_existing_real_copy_is_adopted_as_verified(real_mnist, tmp_path):
    raw = dataset_dir("mnist", tmp_path) / "raw"
    raw.mkdir(parents=True)
    for file in IDX_FILES:
        (raw / file).symlink_to(dataset_dir("mnist", real_mnist[0]) / "raw" / file)
    provenance = fetch("mnist", tmp_path)
    assert provenance["verified"] is True and provenance["files"] == MNIST.digests


@needs_real_mnist
def test_real_file_with_one_byte_flipped_is_refused(real_mnist, tmp_path):
    real_raw = dataset_dir("mnist", real_mnist[0]) / "raw"
    mirror = tmp_path / "mirror"
    (mirror / "mnist").mkdir(parents=True)
    for file in ("train-images-idx3-ubyte", "t10k-images-idx3-ubyte"):
        (mirror / "mnist" / file).symlink_to(real_raw / file)  # the big files stay as they are
    (mirror / "mnist" / "t10k-labels-idx1-ubyte").write_bytes(
        (real_raw / "t10k-labels-idx1-ubyte").read_bytes())
    labels = bytearray((real_raw / "train-labels-idx1-ubyte").read_bytes())
    labels[8 + 100] = (labels[8 + 100] + 1) % 10  # one label changed, still a valid file
    (mirror / "mnist" / "train-labels-idx1-ubyte").write_bytes(labels)
    root = tmp_path / "raw"
    root.mkdir()

    with pytest.raises(CnnlabError) as refusal:
        fetch("mnist", root, mirror=mirror)
    message = str(refusal.value)
    expected = MNIST.digests["train-labels-idx1-ubyte"]
    assert (f"train-labels-idx1-ubyte has SHA256 {_sha256(labels)}, expected {expected}"
            in message)
    assert "t10k-labels-idx1-ubyte" not in message  # only the damaged file is named
    assert list(root.iterdir()) == []

    # Accepted, as unverified, when verification is off.
    assert fetch("mnist", root, mirror=mirror, verify=False)["verified"] is False
    assert load("mnist", root).verified is False


@needs_real_mnist
def test_real_file_changed_with_its_record_is_refused(real_mnist, tmp_path):
    """Issue 9: a label changed in a verified copy, and its digest in cnnlab-fetch.json with it."""
    real = dataset_dir("mnist", real_mnist[0])
    copy = dataset_dir("mnist", tmp_path)
    (copy / "raw").mkdir(parents=True)
    for file in ("train-images-idx3-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (copy / "raw" / file).symlink_to(real / "raw" / file)  # the big files stay as they are
    labels = bytearray((real / "raw" / "train-labels-idx1-ubyte").read_bytes())
    labels[8 + 100] = (labels[8 + 100] + 1) % 10  # still a valid file
    (copy / "raw" / "train-labels-idx1-ubyte").write_bytes(labels)
    record = json.loads((real / PROVENANCE_FILE).read_text())
    record["files"]["train-labels-idx1-ubyte"] = _sha256(labels)
    (copy / PROVENANCE_FILE).write_text(json.dumps(record))
    assert record["verified"] is True

    expected = MNIST.digests["train-labels-idx1-ubyte"]
    with pytest.raises(CnnlabError) as refusal:
        load("mnist", tmp_path)
    assert str(refusal.value) == (
        f"{copy / 'raw' / 'train-labels-idx1-ubyte'} is not the canonical file "
        f"(SHA256 {_sha256(labels)}, expected {expected}); "
        f"delete {copy} and run `cnnlab fetch mnist` again")


@pytest.mark.skipif(not FASHION_MNIST.package.folder.is_dir(),
                    reason="Debian package dataset-fashion-mnist is not installed")
def test_real_fashion_mnist_from_debian(tmp_path):
    provenance = fetch("fashion_mnist", tmp_path)
    assert provenance["verified"] is True
    assert FASHION_MNIST.package.folder.name in provenance["source"]
    assert provenance["files"] == FASHION_MNIST.digests
    if REAL_MIRROR is not None and (REAL_MIRROR / "fashion-mnist" / "SHA256SUMS").is_file():
        assert provenance["files"] == _read_sums(REAL_MIRROR / "fashion-mnist" / "SHA256SUMS")
    splits = load("fashion_mnist", tmp_path)
    _check_splits(splits, "fashion_mnist", 60000, 10000)
    assert torch.bincount(splits.train_y).tolist() == [6000] * 10
    assert torch.bincount(splits.test_y).tolist() == [1000] * 10
    _check_same_as_torchvision(splits, "fashion_mnist", tmp_path)
