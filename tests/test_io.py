"""save_weights / load_weights: plain .npz round trip, architecture mismatches, bad files;
atomic_write's permissions."""
import os
import pickle
import stat
import zipfile

import numpy as np
import pytest

import linkedref as lk
import linkedref.backend as B
from linkedref.io import atomic_write, load_weights, save_weights
from linkedref.layer import Layer, Sequential


class Affine(Layer):
    """params W (in, out), b (out,). (Test-only.)"""

    def __init__(self, d_in, d_out, seed):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.params = {"W": B.asarray(rng.standard_normal((d_in, d_out)), self.dtype),
                       "b": B.asarray(rng.standard_normal(d_out), self.dtype)}
        self.grads = {k: v * 0 for k, v in self.params.items()}


class Stats(Layer):
    """A buffer-only layer, like BatchNorm's running statistics. (Test-only.)"""

    def __init__(self, d, seed):
        super().__init__()
        mean = np.random.default_rng(seed).standard_normal(d)
        self.buffers = {"mean": B.asarray(mean, self.dtype)}


class Lazy(Layer):
    """Creates its parameter on the first forward, as PReLU does. (Test-only.)"""

    def build(self, c):
        self.params["alpha"] = B.xp().full((c,), 0.25, dtype=self.dtype)
        self.grads["alpha"] = B.xp().zeros((c,), dtype=self.dtype)

    def forward(self, x, training=False):
        if not self.params:
            self.build(x.shape[1])
        return x


def _model(seed, width=4):
    return Sequential([Affine(3, width, seed), Stats(width, seed), Affine(width, 2, seed + 1)])


def _host(store):
    return {k: B.to_numpy(v) for k, v in store.items()}


def test_round_trip_in_place(tmp_path):
    path = tmp_path / "weights.bin"                       # any name: no ".npz" is appended
    a, b = _model(0), _model(10)
    save_weights(a, path)
    assert os.listdir(tmp_path) == ["weights.bin"]        # no temporary file left behind
    arrays = {**b.params, **b.buffers}
    load_weights(b, path)
    for store in ("params", "buffers"):
        got, want = _host(getattr(b, store)), _host(getattr(a, store))
        assert got.keys() == want.keys()
        for k in want:
            np.testing.assert_array_equal(got[k], want[k])
    for k, v in {**b.params, **b.buffers}.items():
        assert v is arrays[k] and v.dtype == np.float32  # same objects, same dtype


def test_file_is_plain_npz_with_metadata(tmp_path):
    path = tmp_path / "w.npz"
    save_weights(_model(0), path)
    with np.load(path, allow_pickle=False) as f:          # readable without linkedref or pickle
        names = set(f.files)
        meta = f["__linkedref__"]
        assert meta.dtype.kind == "U" and meta[0] == "linkedref-weights" and meta[1] == "2"
        assert set(meta[2:]) == names - {"__linkedref__", "__layers__"}
        assert {"param/0.W", "param/2.b", "buffer/1.mean"} <= names
        assert f["__layers__"].tolist() == [["", "Sequential"], ["0", "Affine"], ["1", "Stats"],
                                            ["2", "Affine"]]


def test_loads_into_another_dtype(tmp_path):
    path = tmp_path / "w.npz"
    with B.default_dtype("float64"):
        a = _model(0)
    save_weights(a, path)
    b = _model(5)
    load_weights(b, path)
    assert b.params["0.W"].dtype == np.float32
    np.testing.assert_allclose(B.to_numpy(b.params["0.W"]), B.to_numpy(a.params["0.W"]), rtol=1e-6)


def test_architecture_mismatches_say_what_differs(tmp_path):
    path = tmp_path / "w.npz"
    save_weights(_model(0), path)
    with pytest.raises(ValueError) as err:
        load_weights(_model(1, width=5), path)
    msg = str(err.value)
    assert str(path) in msg and "0.W: file (3, 4), model (3, 5)" in msg and "1.mean (buffer)" in msg
    with pytest.raises(ValueError, match=r"missing in the file: 3\.W, 3\.b"):
        load_weights(Sequential([*_model(0).layers, Affine(2, 2, 0)]), path)
    with pytest.raises(ValueError, match=r"not in the model: 2\.W, 2\.b"):
        load_weights(Sequential(_model(0).layers[:2]), path)
    b = _model(7)
    before = _host(b.params)
    with pytest.raises(ValueError):
        load_weights(Sequential([Affine(3, 4, 7), Stats(4, 7), Affine(4, 3, 8)]), path)
    for k, v in _host(b.params).items():                  # a refused file changes nothing
        np.testing.assert_array_equal(v, before[k])


def test_lazy_parameters_need_a_forward_first(tmp_path):
    path = tmp_path / "w.npz"
    model = Sequential([Affine(3, 4, 0), Lazy()])
    with pytest.raises(ValueError, match="save_weights: Lazy.*run model.forward"):
        save_weights(model, path)
    model.layers[1].forward(B.asarray(np.zeros((1, 4)), dtype="float32"))
    save_weights(model, path)
    fresh = Sequential([Affine(3, 4, 1), Lazy()])
    with pytest.raises(ValueError, match=r"not in the model: 1\.alpha.*forward"):
        load_weights(fresh, path)
    fresh.layers[1].forward(B.asarray(np.zeros((1, 4)), dtype="float32"))
    load_weights(fresh, path)


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "npy", "foreign npz",
                                    "corrupt member"])
def test_unreadable_files_raise_value_error_naming_the_file(tmp_path, damage):
    path = tmp_path / "w.npz"
    save_weights(_model(0), path)
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(b"not weights at all" * 20)
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "npy":
        with open(path, "wb") as f:
            np.save(f, np.ones(3))
    elif damage == "foreign npz":
        with open(path, "wb") as f:
            np.savez(f, a=np.ones(3))
    else:                                                 # flip bytes inside an array's data
        i = data.index(b"param/0.W") + 200
        path.write_bytes(data[:i] + bytes(64) + data[i + 64:])
    with pytest.raises(ValueError) as err:
        load_weights(_model(0), path)
    assert str(path) in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        load_weights(_model(0), tmp_path / "nope.npz")


def _activated(act, seed=0):
    """Affine, activation, Affine: the same shapes whatever the activation."""
    return Sequential([Affine(3, 4, seed), act, Affine(4, 2, seed + 1)])


def test_a_tanh_nets_weights_are_refused_by_a_relu_net(tmp_path):
    path = tmp_path / "w.npz"
    save_weights(_activated(lk.Tanh()), path)
    relu_net = _activated(lk.ReLU(), seed=5)
    before = _host(relu_net.params)
    with pytest.raises(ValueError, match=r"w.npz was saved from a different architecture; layer "
                                         r"types differ at 1: file Tanh, model ReLU$"):
        load_weights(relu_net, path)
    for k, v in _host(relu_net.params).items():                # a refused file changes nothing
        np.testing.assert_array_equal(v, before[k])
    load_weights(_activated(lk.Tanh(), seed=5), path)           # the same types load


def test_layer_types_are_compared_along_the_whole_tree(tmp_path):
    path = tmp_path / "w.npz"
    save_weights(Sequential([Affine(3, 4, 0), Sequential([Affine(4, 4, 1), lk.Tanh()])]), path)
    with pytest.raises(ValueError, match=r"1\.1: file Tanh, model Sigmoid"):
        load_weights(Sequential([Affine(3, 4, 0), Sequential([Affine(4, 4, 1), lk.Sigmoid()])]),
                     path)
    with pytest.raises(ValueError, match=r"1: file Sequential, model Stats; 1\.0: file Affine, "
                                         r"model no layer; 1\.1: file Tanh, model no layer"):
        load_weights(Sequential([Affine(3, 4, 0), Stats(4, 0)]), path)


@pytest.mark.parametrize("version", ["1", "9"])
def test_another_format_version_is_refused_naming_both_versions(tmp_path, version):
    path = tmp_path / "w.npz"
    arrays = {"param/0.W": np.ones((3, 4))}
    np.savez(path, __linkedref__=np.array(["linkedref-weights", version, *arrays]),
             __layers__=np.array([["", "Sequential"]]), **arrays)
    with pytest.raises(ValueError, match=f"w.npz has weights format version {version}; this "
                                         "linkedref reads version 2 only"):
        load_weights(_model(0), path)


def test_a_file_without_its_layer_list_is_refused_as_damaged(tmp_path):
    path = tmp_path / "w.npz"
    arrays = {"param/0.W": np.ones((3, 4))}
    np.savez(path, __linkedref__=np.array(["linkedref-weights", "2", *arrays]), **arrays)
    with pytest.raises(ValueError, match="w.npz is damaged: no valid '__layers__'"):
        load_weights(_model(0), path)


# ---------------------------------------------------------------------- files and permissions
@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_a_new_file_gets_the_mode_open_gives(tmp_path, umask):
    old = os.umask(umask)
    try:
        save_weights(_model(0), tmp_path / "w.npz")
        with open(tmp_path / "plain", "wb"):
            pass
    finally:
        os.umask(old)
    mode, plain = (stat.S_IMODE((tmp_path / n).stat().st_mode) for n in ("w.npz", "plain"))
    assert oct(mode) == oct(0o666 & ~umask) == oct(plain)         # was always 0o600


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_an_existing_file_keeps_its_mode(tmp_path):
    path = tmp_path / "w.npz"
    path.write_bytes(b"old")
    path.chmod(0o640)
    save_weights(_model(0), path)                               # was turned into 0o600
    assert oct(stat.S_IMODE(path.stat().st_mode)) == oct(0o640)
    load_weights(_model(1), path)


def test_saving_into_a_missing_folder_names_the_users_path(tmp_path):
    path = tmp_path / "no" / "such" / "w.npz"
    with pytest.raises(FileNotFoundError) as err:
        save_weights(_model(0), path)
    msg = str(err.value)
    assert str(path) in msg and str(path.parent) in msg and ".tmp" not in msg


def test_atomic_write_failure_leaves_the_old_file(tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="midway"):
        with atomic_write(path) as f:
            f.write(b"new, half written")
            raise RuntimeError("midway")
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["data.bin"]
    with atomic_write(path) as f:
        f.write(b"new")
    assert path.read_bytes() == b"new" and os.listdir(tmp_path) == ["data.bin"]


_UNPICKLED = []


def _spring():
    _UNPICKLED.append("loaded")


class _Trap:
    """Unpickling this calls _spring — it must never happen."""

    def __reduce__(self):
        return (_spring, ())


def test_pickled_content_is_never_loaded(tmp_path):
    path = tmp_path / "w.npz"
    save_weights(_model(0), path)
    with zipfile.ZipFile(path, "a") as z:                 # smuggle in an object array
        with z.open("trap.npy", "w") as f:
            np.lib.format.write_array(f, np.array([_Trap()], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="w.npz"):
        load_weights(_model(0), path)
    raw = tmp_path / "raw.npz"
    raw.write_bytes(pickle.dumps(_Trap()))
    with pytest.raises(ValueError, match="raw.npz"):
        load_weights(_model(0), raw)
    assert _UNPICKLED == []


@pytest.mark.gpu
def test_cupy_weights_load_into_numpy(tmp_path):
    path = tmp_path / "w.npz"
    with B.using_backend("cupy"):
        a = _model(0)
        save_weights(a, path)
    b = _model(3)                                          # the session backend
    load_weights(b, path)
    np.testing.assert_array_equal(B.to_numpy(b.params["0.W"]), B.to_numpy(a.params["0.W"]))


@pytest.mark.slow
def test_trained_library_model_round_trip(tmp_path):
    dense = pytest.importorskip("linkedref.dense")
    acts = pytest.importorskip("linkedref.activations")
    from linkedref.losses import SoftmaxCrossEntropy
    from linkedref.optim import Adam
    from linkedref.train import fit, predict

    def make(seed):
        return Sequential([dense.Dense(2, 8, rng=seed), acts.PReLU(),
                           dense.Dense(8, 2, rng=seed + 1)])

    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 2))
    y = (X[:, 0] > 0).astype(np.int64)
    model = make(0)
    fit(model, SoftmaxCrossEntropy(), Adam(model, lr=0.01), X, y, epochs=2, progress=False)
    assert "1.alpha" in model.params                       # created lazily, then trained
    save_weights(model, tmp_path / "w.npz")
    fresh = make(5)
    with pytest.raises(ValueError, match="forward"):
        load_weights(fresh, tmp_path / "w.npz")
    predict(fresh, X[:1])
    load_weights(fresh, tmp_path / "w.npz")
    np.testing.assert_array_equal(predict(fresh, X), predict(model, X))
