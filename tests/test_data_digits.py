"""The offline "digits" dataset and dataset names."""
import numpy as np
import pytest

from linkedref.data import KNOWN, load


def test_digits_shapes_dtypes_and_range():
    (x_train, y_train), (x_test, y_test) = load("digits")
    assert x_train.shape[1:] == (1, 8, 8) and x_test.shape[1:] == (1, 8, 8)
    assert len(x_train) + len(x_test) == 1797 and len(y_train) == len(x_train)
    assert abs(len(x_test) / 1797 - 0.3) < 0.01
    assert x_train.dtype == x_test.dtype == np.float32
    assert y_train.dtype == y_test.dtype == np.int64
    both = np.concatenate([x_train, x_test])
    assert both.min() == 0 and both.max() == 1                    # 0..16 scaled by 16
    assert np.allclose(both * 16, np.rint(both * 16))


def test_digits_split_is_deterministic():
    first, second = load("digits"), load("digits")
    for a, b in zip(first[0] + first[1], second[0] + second[1]):
        np.testing.assert_array_equal(a, b)


def test_digits_split_is_stratified_and_disjoint():
    (x_train, y_train), (x_test, y_test) = load("digits")
    p_train = np.bincount(y_train, minlength=10) / len(y_train)
    p_test = np.bincount(y_test, minlength=10) / len(y_test)
    assert np.abs(p_train - p_test).max() < 0.005
    train_rows = {row.tobytes() for row in x_train.reshape(len(x_train), -1)}
    overlap = sum(row.tobytes() in train_rows for row in x_test.reshape(len(x_test), -1))
    assert overlap <= 2                          # sklearn's digits hold a couple of duplicates


def test_digits_are_sklearns_images_scaled():
    from sklearn.datasets import load_digits
    (x_train, _), (x_test, _) = load("digits")
    ours = (np.concatenate([x_train, x_test]).reshape(1797, 64) * 16).round()
    theirs = load_digits().images.reshape(1797, 64)
    np.testing.assert_array_equal(np.unique(ours, axis=0), np.unique(theirs, axis=0))
    assert len(ours) == len(theirs)


@pytest.mark.parametrize("name", ["imagenet", "", "cifar100"])
def test_unknown_name_lists_the_known_ones(name):
    with pytest.raises(ValueError, match=f"unknown dataset '{name}'") as err:
        load(name)
    for known in KNOWN:
        assert known in str(err.value)
    assert set(KNOWN) == {"digits", "mnist", "fashion_mnist", "cifar10"}


def test_names_are_case_and_dash_tolerant(tmp_path):
    with pytest.raises(FileNotFoundError):
        load("Fashion-MNIST", root=tmp_path, download=False)
