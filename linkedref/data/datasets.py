"""``load(name)``: the datasets linkedref knows, each as NCHW float32 images in [0, 1].

    (X_train, y_train), (X_test, y_test) = load("digits")     # offline, the tutorials' default

- "digits": scikit-learn's 8 x 8 digits, bundled, (N, 1, 8, 8); a fixed stratified 70/30 split.
- "mnist", "fashion_mnist": the original gzipped IDX files, (N, 1, 28, 28).
- "cifar10": the original *binary* version, (N, 3, 32, 32).

Files are looked for in ``root/<name>/`` and then ``root`` (``root`` defaults to the env var
``LINKEDREF_DATA``, else ``~/.cache/linkedref``); files you already have are used as they are.
Missing files are downloaded into ``root/<name>/`` when ``download`` is true. With ``verify``
(the default) each canonical file's size and SHA-256 must equal the published ones.

Checksums: the SHA-256 values and sizes below are those tensorflow-datasets publishes
(``tensorflow_datasets/url_checksums/{mnist,fashion_mnist,cifar10}.txt``). The MNIST mirrors
serve the original files of yann.lecun.com (torchvision checks the same files by MD5).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import cifar, idx
from . import download as dl
from .digits import load_digits

KNOWN = ("digits", "mnist", "fashion_mnist", "cifar10")


@dataclass(frozen=True)
class Remote:
    """A canonical file: its name, byte size and published SHA-256."""
    name: str
    size: int
    sha256: str


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
def load(name: str, root=None, download: bool = True, verify: bool = True):
    """Load a dataset -> ((X_train, y_train), (X_test, y_test)) as host NumPy arrays.

    X: float32 (N, C, H, W) in [0, 1]; y: int64 (N,) class labels 0-9.
    name: "digits" | "mnist" | "fashion_mnist" | "cifar10" ("digits" ignores the other args).
    root: the data folder (default: ``$LINKEDREF_DATA`` or ``~/.cache/linkedref``).
    download: fetch missing files (else fail at once, naming the files and the folder).
    verify: check each canonical file's size and SHA-256 before using it. Files with no
        published checksum (gunzipped IDX copies, an extracted ``cifar-10-batches-bin/``) are
        only checked for structure (headers, lengths, whole records, label range).
    Raises ValueError for an unknown name or a bad file (naming it), FileNotFoundError when
    files are missing and cannot be downloaded (naming them and the folder to put them in).
    """
    key = str(name).lower().replace("-", "_")
    if key not in KNOWN:
        raise ValueError(f"unknown dataset {name!r}; known datasets: {', '.join(KNOWN)}")
    if key == "digits":
        return load_digits()
    root = dl.cache_dir(root)
    if key == "cifar10":
        return _load_cifar10(root, download, verify)
    return _load_idx(key, root, download, verify)


def _to_float(x):
    """uint8 images -> float32 in [0, 1]."""
    return x.astype(np.float32) / np.float32(255)


def _find(root: Path, name: str, filenames):
    """The first existing path among ``root/name/f`` and ``root/f`` for f in ``filenames``."""
    for folder in (root / name, root):
        for f in filenames:
            if (folder / f).is_file():
                return folder / f
    return None


def _obtain(name, root, remotes, mirrors, allow_download, verify, plain_ok=True):
    """Path of each remote file (a user's copy, else a download); fail fast when impossible.

    With ``plain_ok`` an already-gunzipped copy (the name without ".gz") is accepted too; it has
    no published checksum, so only its structure is checked when it is parsed.
    """
    paths, missing = {}, []
    for key, remote in remotes.items():
        names = [remote.name] + ([remote.name[:-3]] if plain_ok and remote.name.endswith(".gz") else [])
        found = _find(root, name, names)
        if found is None:
            missing.append(key)
        else:
            if verify and found.name == remote.name:
                dl.check_file(found, remote.sha256, remote.size)
            paths[key] = found
    if missing and not allow_download:
        raise FileNotFoundError(_missing_message(name, root, remotes, missing, mirrors,
                                                 "download=False was given"))
    for key in missing:
        remote = remotes[key]
        try:
            paths[key] = dl.fetch(remote.name, [m + remote.name for m in mirrors], root / name,
                                  remote.sha256 if verify else None, remote.size if verify else None)
        except dl.DownloadError as err:
            raise FileNotFoundError(_missing_message(name, root, remotes, missing, mirrors,
                                                     f"the download failed: {err}")) from err
    return paths


def _missing_message(name, root, remotes, missing, mirrors, reason):
    files = ", ".join(remotes[k].name for k in missing)
    if name == "cifar10":
        files += f" (or its extracted folder {cifar.FOLDER}/)"
    return (f"{name}: missing {files}; {reason}. Put the files in {root / name} (or {root}), "
            f"pass root=... or set LINKEDREF_DATA to the folder that holds them, or allow "
            f"load({name!r}, download=True) with a network. Source: {mirrors[0]}")


def _load_idx(name, root, allow_download, verify):
    """MNIST / Fashion-MNIST from their four IDX files."""
    remotes, mirrors = IDX_DATASETS[name]
    paths = _obtain(name, root, remotes, mirrors, allow_download, verify)

    def split(images_key, labels_key):
        x = idx.read_idx(paths[images_key], magic=idx.IMAGES_MAGIC)       # N, H, W uint8
        y = idx.read_idx(paths[labels_key], magic=idx.LABELS_MAGIC)       # N uint8
        if len(x) != len(y):
            raise ValueError(f"{paths[images_key]} holds {len(x)} images but "
                             f"{paths[labels_key]} holds {len(y)} labels")
        if y.size and y.max() > 9:
            raise ValueError(f"{paths[labels_key]}: label {int(y.max())} out of range 0-9")
        return _to_float(x[:, None, :, :]), y.astype(np.int64)           # N, 1, H, W

    return split("train_images", "train_labels"), split("test_images", "test_labels")


def _load_cifar10(root, allow_download, verify):
    """CIFAR-10 from an extracted ``cifar-10-batches-bin/`` folder, else the binary archive."""
    for folder in (root / "cifar10" / cifar.FOLDER, root / cifar.FOLDER, root / "cifar10"):
        if (folder / cifar.TRAIN_FILES[0]).is_file():
            parts = cifar.read_folder(folder)
            break
    else:
        path = _obtain("cifar10", root, {"archive": _CIFAR_ARCHIVE}, CIFAR_MIRRORS,
                       allow_download, verify, plain_ok=False)["archive"]
        parts = cifar.read_archive(path)
    (x_train, y_train), (x_test, y_test) = parts
    return (_to_float(x_train), y_train), (_to_float(x_test), y_test)
