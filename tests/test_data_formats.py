"""IDX and CIFAR-10 binary parsing, on small files written here in the exact original formats."""
import gzip
import hashlib
import io
import struct
import tarfile

import numpy as np
import pytest

from linkedref.data import cifar, datasets, download, idx, load
from linkedref.data.datasets import Remote, Split

IMAGE_FILES = {"train_images": "train-images-idx3-ubyte.gz",
               "train_labels": "train-labels-idx1-ubyte.gz",
               "test_images": "t10k-images-idx3-ubyte.gz",
               "test_labels": "t10k-labels-idx1-ubyte.gz"}


# ------------------------------------------------------------------ writers of the formats
def idx_images(x):
    """uint8 (N, rows, cols) -> IDX bytes: magic 2051, big-endian N, rows, cols, pixels by row."""
    return struct.pack(">IIII", 2051, *x.shape) + x.astype(np.uint8).tobytes()


def idx_labels(y):
    """uint8 (N,) -> IDX bytes: magic 2049, big-endian N, labels."""
    return struct.pack(">II", 2049, len(y)) + y.astype(np.uint8).tobytes()


def cifar_records(x, y):
    """uint8 (N, 3, 32, 32), labels (N,) -> records [label | R plane | G plane | B plane]."""
    return b"".join(bytes([label]) + img[0].tobytes() + img[1].tobytes() + img[2].tobytes()
                    for img, label in zip(x.astype(np.uint8), y))


def write_mnist(folder, rng, n_train=5, n_test=3, rows=28, cols=28):
    """The four gzipped IDX files in ``folder``; returns the arrays written."""
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {"train_images": rng.integers(0, 256, (n_train, rows, cols)),
              "train_labels": rng.integers(0, 10, n_train),
              "test_images": rng.integers(0, 256, (n_test, rows, cols)),
              "test_labels": rng.integers(0, 10, n_test)}
    for key, name in IMAGE_FILES.items():
        data = idx_images(arrays[key]) if key.endswith("images") else idx_labels(arrays[key])
        (folder / name).write_bytes(gzip.compress(data))
    return arrays


def remotes_of(folder):
    """Registry entries whose size and SHA-256 are those of the files in ``folder``."""
    return {key: Remote(name, (folder / name).stat().st_size,
                        hashlib.sha256((folder / name).read_bytes()).hexdigest())
            for key, name in IMAGE_FILES.items()}


def cifar_batches(rng, n=4):
    """Six batches of n records each: {file name: (x, y)}."""
    return {name: (rng.integers(0, 256, (n, 3, 32, 32)), rng.integers(0, 10, n))
            for name in cifar.TRAIN_FILES + cifar.TEST_FILES}


def write_cifar_archive(path, batches):
    with tarfile.open(path, "w:gz") as tar:
        for name, (x, y) in batches.items():
            data = cifar_records(x, y)
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


@pytest.fixture
def no_download(monkeypatch):
    """Fail the test if anything tries to download."""
    def fetch(*args, **kwargs):
        raise AssertionError("the downloader was called although the files exist")
    monkeypatch.setattr(download, "fetch", fetch)


# ------------------------------------------------------------------------------------- IDX
def test_idx_images_keep_shape_and_pixel_order(tmp_path, rng):
    x = rng.integers(0, 256, (3, 5, 7))                 # rows != cols: catches a transpose
    path = tmp_path / "imgs.gz"
    path.write_bytes(gzip.compress(idx_images(x)))
    out = idx.read_idx(path, magic=idx.IMAGES_MAGIC)
    assert out.dtype == np.uint8 and out.shape == (3, 5, 7)
    np.testing.assert_array_equal(out, x)


def test_idx_labels_and_plain_files(tmp_path, rng):
    y = rng.integers(0, 10, 11)
    path = tmp_path / "labels"                          # not gzipped: read as is
    path.write_bytes(idx_labels(y))
    np.testing.assert_array_equal(idx.read_idx(path, magic=idx.LABELS_MAGIC), y)


def test_idx_other_element_types_are_big_endian():
    data = struct.pack(">BBBBI", 0, 0, 0x0C, 1, 3) + np.array([1, -2, 70000], ">i4").tobytes()
    np.testing.assert_array_equal(idx.parse_idx(data), [1, -2, 70000])


@pytest.mark.parametrize("cut", [1, 100, 30])
def test_idx_truncated_file_names_the_file(tmp_path, rng, cut):
    data = idx_images(rng.integers(0, 256, (2, 28, 28)))
    path = tmp_path / "short-images.gz"
    path.write_bytes(gzip.compress(data[:-cut]))
    with pytest.raises(ValueError, match="short-images.gz.*truncated"):
        idx.read_idx(path, magic=idx.IMAGES_MAGIC)


def test_idx_trailing_bytes_are_rejected(rng):
    with pytest.raises(ValueError, match="trailing"):
        idx.parse_idx(idx_labels(rng.integers(0, 10, 4)) + b"\0", name="x")


def test_idx_truncated_gzip_stream(tmp_path, rng):
    path = tmp_path / "cut.gz"
    path.write_bytes(gzip.compress(idx_labels(rng.integers(0, 10, 50)))[:-12])
    with pytest.raises(ValueError, match="cut.gz.*gzip"):
        idx.read_idx(path)


def test_idx_bad_magic(tmp_path, rng):
    path = tmp_path / "labels.gz"
    path.write_bytes(gzip.compress(idx_labels(rng.integers(0, 10, 4))))
    with pytest.raises(ValueError, match="labels.gz.*magic number 2049, expected 2051"):
        idx.read_idx(path, magic=idx.IMAGES_MAGIC)
    with pytest.raises(ValueError, match="not an IDX file"):
        idx.parse_idx(b"PK\x03\x04whatever", name="zip")


# ----------------------------------------------------------------------------------- CIFAR
def test_cifar_records_keep_labels_and_channel_planes(rng):
    x, y = rng.integers(0, 256, (3, 3, 32, 32)), np.array([7, 0, 9])
    out_x, out_y = cifar.parse_records(cifar_records(x, y))
    assert out_x.shape == (3, 3, 32, 32) and out_y.dtype == np.int64
    np.testing.assert_array_equal(out_x, x)
    np.testing.assert_array_equal(out_y, y)


def test_cifar_record_layout_by_hand():
    record = bytearray(cifar.RECORD)
    record[0] = 4                                       # label
    record[1 + 0 * 1024 + 0] = 10                       # R plane, pixel (0, 0)
    record[1 + 1 * 1024 + 1 * 32 + 2] = 20              # G plane, row 1, col 2
    record[1 + 2 * 1024 + 31 * 32 + 31] = 30            # B plane, last pixel
    x, y = cifar.parse_records(bytes(record))
    assert y.tolist() == [4]
    assert (x[0, 0, 0, 0], x[0, 1, 1, 2], x[0, 2, 31, 31]) == (10, 20, 30)
    assert x.sum() == 60


def test_cifar_not_whole_records_and_bad_labels(rng):
    data = cifar_records(rng.integers(0, 256, (2, 3, 32, 32)), [1, 2])
    with pytest.raises(ValueError, match="batch.bin.*whole number"):
        cifar.parse_records(data[:-1], name="batch.bin")
    with pytest.raises(ValueError, match="batch.bin.*label 200"):
        cifar.parse_records(bytes([200]) + data[1:], name="batch.bin")


@pytest.fixture
def tiny_cifar(monkeypatch):
    """verify=True expects 4 records per batch file (20 train, 4 test) instead of 10,000."""
    monkeypatch.setitem(datasets.SPLITS, "cifar10", Split(20, 4, (3, 32, 32)))


def test_cifar10_from_archive_and_from_folders_agree(tmp_path, rng, no_download, monkeypatch,
                                                     tiny_cifar):
    batches = cifar_batches(rng)
    (tmp_path / "a" / "cifar10").mkdir(parents=True)
    path = tmp_path / "a" / "cifar10" / "cifar-10-binary.tar.gz"
    write_cifar_archive(path, batches)
    monkeypatch.setattr(datasets, "_CIFAR_ARCHIVE", Remote(path.name, path.stat().st_size,
                                                           download.sha256_of(path)))
    for folder in (tmp_path / "f" / "cifar10" / "cifar-10-batches-bin", tmp_path / "g" / "cifar10"):
        folder.mkdir(parents=True)
        for name, (x, y) in batches.items():
            (folder / name).write_bytes(cifar_records(x, y))

    from_archive = load("cifar10", root=tmp_path / "a", download=False)
    (x_train, y_train), (x_test, y_test) = from_archive
    assert x_train.shape == (20, 3, 32, 32) and x_test.shape == (4, 3, 32, 32)
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64
    want_x = np.concatenate([batches[n][0] for n in cifar.TRAIN_FILES]) / 255
    np.testing.assert_allclose(x_train, want_x, rtol=1e-6)
    want_y = np.concatenate([batches[n][1] for n in cifar.TRAIN_FILES])
    np.testing.assert_array_equal(y_train, want_y)
    np.testing.assert_array_equal(y_test, batches["test_batch.bin"][1])
    for root in ("f", "g"):
        from_folder = load("cifar10", root=tmp_path / root, download=False)
        for a, b in zip(from_archive[0] + from_archive[1], from_folder[0] + from_folder[1]):
            np.testing.assert_array_equal(a, b)


def test_cifar10_archive_checksum_and_truncation(tmp_path, rng, no_download):
    path = tmp_path / "cifar10" / "cifar-10-binary.tar.gz"
    path.parent.mkdir()
    write_cifar_archive(path, cifar_batches(rng, n=1))
    with pytest.raises(ValueError, match="cifar-10-binary.tar.gz.*expected 170052171 bytes"):
        load("cifar10", root=tmp_path, download=False)          # the real registry entry
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(ValueError, match="cifar-10-binary.tar.gz.*corrupt or truncated"):
        load("cifar10", root=tmp_path, download=False, verify=False)


def test_cifar10_truncated_batch_in_folder(tmp_path, rng, no_download, tiny_cifar):
    folder = tmp_path / "cifar10"
    folder.mkdir()
    for name, (x, y) in cifar_batches(rng).items():
        cut = -5 if name == "data_batch_3.bin" else None
        (folder / name).write_bytes(cifar_records(x, y)[:cut])
    with pytest.raises(ValueError, match="data_batch_3.bin: expected 12292 bytes"):
        load("cifar10", root=tmp_path, download=False)
    with pytest.raises(ValueError, match="data_batch_3.bin.*whole number"):
        load("cifar10", root=tmp_path, download=False, verify=False)


def test_a_short_extracted_cifar10_is_refused_unless_trusted(tmp_path, rng, no_download):
    """15 records are not CIFAR-10 (50,000 + 10,000); verify=False loads them on request."""
    folder = tmp_path / "cifar10" / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    for name, (x, y) in cifar_batches(rng, n=3).items():
        keep = 2 * cifar.RECORD if name.startswith("data") else None      # 5 x 2 + 3 records
        (folder / name).write_bytes(cifar_records(x, y)[:keep])
    with pytest.raises(ValueError, match=r"data_batch_1.bin: expected 30730000 bytes \(10000 "
                                         r"records of 3073 bytes\), found 6146.*verify=False"):
        load("cifar10", root=tmp_path, download=False)
    (x_train, _), (x_test, _) = load("cifar10", root=tmp_path, download=False, verify=False)
    assert len(x_train) == 10 and len(x_test) == 3


def test_cifar10_folder_missing_some_batches(tmp_path, rng, no_download):
    folder = tmp_path / "cifar10" / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    x, y = cifar_batches(rng, n=1)["data_batch_1.bin"]
    (folder / "data_batch_1.bin").write_bytes(cifar_records(x, y))
    with pytest.raises(FileNotFoundError, match="lacks data_batch_2.bin.*test_batch.bin"):
        load("cifar10", root=tmp_path, download=False, verify=False)


def test_cifar10_outside_its_folder_is_not_read(tmp_path, rng, no_download):
    folder = tmp_path / "cifar-10-batches-bin"                  # root/, not root/cifar10/
    folder.mkdir()
    for name, (x, y) in cifar_batches(rng).items():
        (folder / name).write_bytes(cifar_records(x, y))
    with pytest.raises(FileNotFoundError, match=f"Put the files in {tmp_path / 'cifar10'}"):
        load("cifar10", root=tmp_path, download=False, verify=False)


# --------------------------------------------------------------------- MNIST through load()
@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_load_idx_dataset_from_user_files(tmp_path, rng, no_download, monkeypatch, name):
    arrays = write_mnist(tmp_path / name, rng)
    monkeypatch.setitem(datasets.IDX_DATASETS, name, (remotes_of(tmp_path / name), ("http://x/",)))
    monkeypatch.setitem(datasets.SPLITS, name, Split(5, 3, (1, 28, 28)))
    (x_train, y_train), (x_test, y_test) = load(name, root=tmp_path)     # download allowed, unused
    assert x_train.shape == (5, 1, 28, 28) and x_test.shape == (3, 1, 28, 28)
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64
    assert 0 <= x_train.min() and x_train.max() <= 1
    np.testing.assert_array_equal(np.rint(x_train[:, 0] * 255), arrays["train_images"])
    np.testing.assert_array_equal(y_train, arrays["train_labels"])
    np.testing.assert_array_equal(np.rint(x_test[:, 0] * 255), arrays["test_images"])
    np.testing.assert_array_equal(y_test, arrays["test_labels"])


def gunzip_all(folder):
    """Leave only decompressed copies of the four IDX files in ``folder``."""
    for name in IMAGE_FILES.values():
        path = folder / name
        path.with_suffix("").write_bytes(gzip.decompress(path.read_bytes()))
        path.unlink()


def test_files_directly_in_root_are_not_read(tmp_path, rng, no_download):
    """MNIST and Fashion-MNIST share file names: MNIST in root/ once loaded as Fashion-MNIST."""
    write_mnist(tmp_path, rng)
    gunzip_all(tmp_path)
    for name in ("fashion_mnist", "mnist"):
        with pytest.raises(FileNotFoundError, match=f"Put the files in {tmp_path / name}"):
            load(name, root=tmp_path, download=False, verify=False)


def test_gunzipped_copies_must_have_the_exact_size(tmp_path, rng, no_download, monkeypatch):
    arrays = write_mnist(tmp_path / "mnist", rng)                 # 5 train, 3 test images
    gunzip_all(tmp_path / "mnist")
    with pytest.raises(ValueError, match=r"mnist/train-images-idx3-ubyte: expected 47040016 "
                                         r"bytes .*found 3936"):
        load("mnist", root=tmp_path, download=False)
    (_, y_train), _ = load("mnist", root=tmp_path, download=False, verify=False)
    np.testing.assert_array_equal(y_train, arrays["train_labels"])
    monkeypatch.setitem(datasets.SPLITS, "mnist", Split(5, 3, (1, 28, 28)))
    load("mnist", root=tmp_path, download=False)                  # sizes 16 + 5·784, 8 + 5...


def test_verified_files_must_hold_the_whole_split(tmp_path, rng, no_download, monkeypatch):
    """Even files whose checksums match (here: registered for the test) must be the dataset."""
    write_mnist(tmp_path / "mnist", rng)
    monkeypatch.setitem(datasets.IDX_DATASETS, "mnist", (remotes_of(tmp_path / "mnist"), ("x",)))
    with pytest.raises(ValueError, match=r"mnist train set holds 5 images of shape \(1, 28, 28\), "
                                         r"expected 60000 .*verify=False"):
        load("mnist", root=tmp_path, download=False)
    write_mnist(tmp_path / "mnist", rng, rows=14, cols=14)
    monkeypatch.setitem(datasets.IDX_DATASETS, "mnist", (remotes_of(tmp_path / "mnist"), ("x",)))
    monkeypatch.setitem(datasets.SPLITS, "mnist", Split(5, 3, (1, 28, 28)))
    with pytest.raises(ValueError, match=r"shape \(1, 14, 14\), expected 5 of shape \(1, 28, 28\)"):
        load("mnist", root=tmp_path, download=False)
    (x_train, _), _ = load("mnist", root=tmp_path, download=False, verify=False)
    assert x_train.shape == (5, 1, 14, 14)


def test_checksum_mismatch_names_the_file_and_is_not_used(tmp_path, rng, no_download):
    write_mnist(tmp_path / "mnist", rng)                    # not the canonical bytes
    with pytest.raises(ValueError, match=r"mnist/train-images-idx3-ubyte.gz: expected 9912422"):
        load("mnist", root=tmp_path, download=False)
    load("mnist", root=tmp_path, download=False, verify=False)  # used as they are on request


def test_checksum_mismatch_with_the_right_size(tmp_path, rng, no_download, monkeypatch):
    write_mnist(tmp_path / "mnist", rng)
    remotes = remotes_of(tmp_path / "mnist")
    bad = remotes["test_labels"]
    remotes["test_labels"] = Remote(bad.name, bad.size, "0" * 64)
    monkeypatch.setitem(datasets.IDX_DATASETS, "mnist", (remotes, ("http://x/",)))
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte.gz: SHA-256 mismatch"):
        load("mnist", root=tmp_path)


def test_images_and_labels_must_agree(tmp_path, rng, no_download):
    write_mnist(tmp_path / "mnist", rng)
    labels = tmp_path / "mnist" / IMAGE_FILES["test_labels"]
    labels.write_bytes(gzip.compress(idx_labels(np.arange(4))))
    with pytest.raises(ValueError, match="3 images but .*t10k-labels-idx1-ubyte.gz holds 4"):
        load("mnist", root=tmp_path, download=False, verify=False)
