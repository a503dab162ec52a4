"""The offline "digits" dataset shipped in the package, and dataset names."""
import ast
import hashlib
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

import linkedref as lk
from linkedref.data import KNOWN, digits, load


def test_digits_shapes_dtypes_and_range():
    (x_train, y_train), (x_test, y_test) = load("digits")
    assert x_train.shape == (1257, 1, 8, 8) and x_test.shape == (540, 1, 8, 8)
    assert y_train.shape == (1257,) and y_test.shape == (540,)
    assert x_train.dtype == x_test.dtype == np.float32
    assert y_train.dtype == y_test.dtype == np.int64
    both = np.concatenate([x_train, x_test])
    assert both.min() == 0 and both.max() == 1                    # 0..16 scaled by 16
    assert np.array_equal(both * 16, np.rint(both * 16))


def test_digits_split_is_deterministic():
    first, second = load("digits"), load("digits")
    for a, b in zip(first[0] + first[1], second[0] + second[1]):
        np.testing.assert_array_equal(a, b)


def test_digits_split_is_stratified_and_disjoint():
    (x_train, y_train), (x_test, y_test) = load("digits")
    p_train = np.bincount(y_train, minlength=10) / len(y_train)
    p_test = np.bincount(y_test, minlength=10) / len(y_test)
    assert np.abs(p_train - p_test).max() < 0.005
    a = digits.read_digits_file()
    rows = np.concatenate([a["train_index"], a["test_index"]])
    np.testing.assert_array_equal(np.sort(rows), np.arange(1797))   # each image exactly once


def test_shipped_digits_equal_scikit_learns_split():
    """The arrays linkedref returned when it split scikit-learn's digits itself."""
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    bunch = load_digits()
    x = (bunch.images[:, None, :, :] / 16.0).astype(np.float32)       # the code it replaces
    y = bunch.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.3, stratify=y,
                                                        random_state=0)
    (ours_x, ours_y), (ours_xt, ours_yt) = load("digits")
    for got, want in ((ours_x, x_train), (ours_y, y_train), (ours_xt, x_test), (ours_yt, y_test)):
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)


def test_digits_load_without_scikit_learn(monkeypatch):
    for name in [m for m in sys.modules if m == "sklearn" or m.startswith("sklearn.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "sklearn", None)               # `import sklearn` now fails
    (x_train, _), (x_test, _) = load("digits")
    assert len(x_train) == 1257 and len(x_test) == 540


def test_shipped_file_has_the_recorded_checksum():
    assert hashlib.sha256(digits.FILE.read_bytes()).hexdigest() == digits.SHA256
    with np.load(digits.FILE, allow_pickle=False) as f:               # plain arrays, no pickle
        assert sorted(f.files) == ["images", "labels", "test_index", "train_index"]
        assert f["images"].dtype == np.uint8 and f["images"].max() == 16


@pytest.mark.parametrize("where", [0, 1000, -10])
def test_corrupted_copy_is_refused_naming_the_file(tmp_path, where):
    path = tmp_path / "digits.npz"
    data = bytearray(digits.FILE.read_bytes())
    data[where] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=f"{path}: SHA-256 .* expected {digits.SHA256}"):
        digits.load_digits(path)


def test_a_well_formed_file_with_other_arrays_is_refused(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, images=np.zeros((3, 8, 8), np.uint8))
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(ValueError, match="other.npz: expected array 'images'"):
        digits.read_digits_file(path, sha)


def test_missing_file(tmp_path):
    shutil.copy(digits.FILE, tmp_path / "copy.npz")
    digits.load_digits(tmp_path / "copy.npz")                        # a good copy loads
    with pytest.raises(FileNotFoundError, match="gone.npz"):
        digits.load_digits(tmp_path / "gone.npz")


def test_no_scikit_learn_import_in_the_package():
    """scikit-learn is not a runtime dependency: no module of linkedref imports it."""
    package = Path(lk.__file__).parent
    found = []
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            found += [f"{path.relative_to(package)}: {n}" for n in names
                      if n.split(".")[0] == "sklearn"]
    assert found == []


@pytest.mark.parametrize("name", ["imagenet", "", "cifar100"])
def test_unknown_name_lists_the_known_ones(name):
    with pytest.raises(ValueError, match=f"unknown dataset '{name}'") as err:
        load(name)
    for known in KNOWN:
        assert known in str(err.value)
    assert set(KNOWN) == {"digits", "mnist5k", "mnist", "fashion_mnist", "cifar10"}


def test_names_are_case_and_dash_tolerant(tmp_path):
    with pytest.raises(FileNotFoundError, match="fashion_mnist"):
        load("Fashion-MNIST", root=tmp_path, download=False)
