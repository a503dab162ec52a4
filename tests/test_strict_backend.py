"""The strict device stand-in (linkedref/strict.py): CuPy's rules on the CPU.

One deliberately wrong tiny layer or function per bug class, each refused with a message that
names the call; then the allowed paths (xp from the data, .get(), to_numpy, scalars), and whole
layers, a training run and a weights round trip on the stand-in. These run on any backend: each
test switches to "strict" itself.
"""
import importlib.util
import os
import pathlib
import pickle
import subprocess
import sys

import numpy as np
import pytest

import linkedref as lk
import linkedref.backend as B
from linkedref import strict
from linkedref.gradcheck import gradcheck
from linkedref.gradcheck.check import away_from_kinks
from linkedref.layer import Layer


@pytest.fixture(autouse=True)
def _strict():
    with B.using_backend("strict"):
        yield


def _device(rng, *shape):
    return B.asarray(rng.standard_normal(shape), dtype="float64")


class _Relu(Layer):
    """A parameter-free ReLU whose forward is ``relu`` (one per test) and backward is CuPy-clean."""

    def __init__(self, relu):
        super().__init__()
        self.relu = relu

    def forward(self, x, training=False):
        y = self.relu(x)
        self.save_for_backward(x > 0, output_shape=y.shape)
        return y

    def backward(self, dy, need_dx=True):
        return dy * self.saved(dy)


# ---------------------------------------------------------------------- the bug classes
@pytest.mark.parametrize("relu, call", [
    (lambda x: np.maximum(np.asarray(x), 0), r"`.*np\.asarray\(x\)"),
    (lambda x: np.array(x).clip(0), r"`.*np\.array\(x\)"),
], ids=["asarray", "array"])
def test_implicit_conversion_to_numpy_is_refused_naming_the_line(relu, call, rng):
    with pytest.raises(TypeError, match="implicit conversion of a device array to a NumPy array"
                                        rf" \(at .*test_strict_backend.py:\d+ {call}"):
        _Relu(relu).forward(_device(rng, 2, 3))


@pytest.mark.parametrize("relu, name", [
    (lambda x: np.maximum(x, 0), "numpy.maximum"),                       # a ufunc
    (lambda x: np.concatenate([x, x * 0], axis=1)[:, :3], "numpy.concatenate"),   # a function
    (lambda x: np.where(x > 0, x, 0), "numpy.where"),
], ids=["ufunc", "function", "where"])
def test_a_bare_numpy_call_on_a_device_array_is_refused(relu, name, rng):
    with pytest.raises(TypeError, match=rf"{name} was called on a device array .*"
                                        r"xp = linkedref.backend.get_array_module\(x\)"):
        _Relu(relu).forward(_device(rng, 2, 3))


@pytest.mark.parametrize("expression", [
    lambda x, a: x * a, lambda x, a: a * x,                  # arithmetic, both orders
    lambda x, a: x + a[0], lambda x, a: a[0] - x,            # a 0-d NumPy array too
    lambda x, a: x @ a.T, lambda x, a: a @ x.T,
    lambda x, a: x < a, lambda x, a: a == x,
    lambda x, a: B.get_array_module(x).add(x, a),            # a device ufunc given host data
    lambda x, a: np.add(a, x), lambda x, a: np.multiply(x, a),   # a NumPy ufunc, both orders
    lambda x, a: B.get_array_module(x).stack([x, a]),
], ids=["x*a", "a*x", "x+a0", "a0-x", "x@a", "a@x", "x<a", "a==x", "xp.add", "np.add(a,x)",
        "np.multiply(x,a)", "xp.stack"])
def test_a_numpy_array_in_a_device_expression_is_refused(expression, rng):
    x, a = _device(rng, 2, 3), rng.standard_normal((2, 3))
    with pytest.raises(TypeError, match=r"mixes a NumPy array \(shape .*\) with a device array"):
        expression(x, a)


def test_in_place_updates_across_devices_are_refused(rng):
    x, a = _device(rng, 2, 3), rng.standard_normal((2, 3))
    with pytest.raises(TypeError, match="`-=` mixes a NumPy array"):
        x -= a                                                  # an optimizer step with host g
    with pytest.raises(TypeError, match="mixes a NumPy array"):
        a += x
    with pytest.raises(TypeError, match="assignment into a device array mixes a NumPy array"):
        x[...] = a                                              # CuPy: only scalars by slice


def test_numpy_stride_tricks_on_a_device_array_are_refused(rng):
    def windows(x):                                             # N, C, H, W → N, C, H-1, W-1, 2, 2
        N, C, H, W = x.shape
        s = x.strides
        return np.lib.stride_tricks.as_strided(x, (N, C, H - 1, W - 1, 2, 2), s + s[2:])

    with pytest.raises(TypeError, match=r"\(numpy.lib.stride_tricks.as_strided, called at "
                                        r".*test_strict_backend.py:\d+ `return np.lib"):
        windows(_device(rng, 1, 2, 3, 3))


class _HostDropout(Layer):
    """Wrong: the mask is a NumPy Generator's draw, multiplied into a device array."""

    def __init__(self, p, rng):
        super().__init__()
        self.p, self.rng = p, rng

    def forward(self, x, training=False):
        mask = (self.rng.random(x.shape) >= self.p) / (1 - self.p)    # host, shape of x
        return x * mask


def test_a_numpy_generator_draw_mixed_with_device_arrays_is_refused(rng):
    x = _device(rng, 4, 5)
    with pytest.raises(TypeError, match=r"mixes a NumPy array \(shape \(4, 5\), float64\).*"
                                        r"backend.uniform/normal\(rng, shape, like=x\)"):
        _HostDropout(0.5, np.random.default_rng(0)).forward(x, training=True)
    y = lk.Dropout(0.5, rng=0).forward(x, training=True)         # draws on x's device
    assert B.get_array_module(y) is strict and y.shape == (4, 5)


def test_saving_a_device_array_without_get_is_refused(tmp_path, rng):
    w = _device(rng, 3, 2)
    with pytest.raises(TypeError, match="numpy.savez was given a device array .*.get()"):
        np.savez(tmp_path / "w.npz", w=w)
    with pytest.raises(TypeError, match="numpy.save was given a device array"):
        np.save(tmp_path / "w.npy", w)
    with pytest.raises(TypeError, match="pickling a device array"):
        pickle.dumps(w)
    np.savez(tmp_path / "w.npz", w=w.get())                      # the explicit copy saves
    np.testing.assert_array_equal(np.load(tmp_path / "w.npz")["w"], B.to_numpy(w))


def test_the_device_module_refuses_numpy_arrays_and_host_only_names(rng):
    xp = strict
    with pytest.raises(TypeError, match="xp.concatenate mixes a NumPy array"):
        xp.concatenate([_device(rng, 2), rng.standard_normal(2)])
    with pytest.raises(TypeError, match="unsupported operand of type ndarray|mixes"):
        xp.lib.stride_tricks.as_strided(rng.standard_normal(4), (2,), (8,))
    with pytest.raises(AttributeError, match="no 'savez'"):
        xp.savez("w.npz", w=_device(rng, 2))
    with pytest.raises(AttributeError, match="no 'permutation'"):
        xp.random.default_rng(0).permutation(3)                   # CuPy's Generator has none


# ------------------------------------------------------------------------ allowed paths
def test_the_module_comes_from_the_data_and_computes_as_numpy(rng):
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    x, w = B.asarray(a, dtype="float64"), B.asarray(b, dtype="float64")
    xp = B.get_array_module(x)
    assert xp is strict and B.xp() is strict and B.module_for("strict") is strict
    assert B.get_array_module(a) is np and B.is_array(x) and not isinstance(x, np.ndarray)
    checks = [
        (xp.maximum(x, 0), np.maximum(a, 0)), (xp.exp(x), np.exp(a)), (x @ w, a @ b),
        (xp.matmul(x, w), a @ b), (xp.concatenate([x, -x], axis=1), np.concatenate([a, -a], 1)),
        (xp.einsum("nd,dk->nk", x, w), a @ b), (xp.pad(x, ((0, 0), (1, 1))), np.pad(a, 1)[1:-1]),
        (xp.take_along_axis(x, x.argmax(1)[:, None], 1), a.max(1, keepdims=True)),
        (xp.percentile(x, [10, 90]), np.percentile(a, [10, 90])), (x.sum(0), a.sum(0)),
        (xp.linalg.norm(x), np.linalg.norm(a)), (2 * x - 1, 2 * a - 1), (x.T, a.T),
        (np.float32(2) * x, 2 * a), (np.float64(0.5) < x, 0.5 < a), (x[[0, 2]], a[[0, 2]]),
    ]
    for got, want in checks:
        assert B.get_array_module(got) is strict
        np.testing.assert_allclose(got.get(), want, rtol=1e-12)


def test_explicit_copies_and_python_scalars(rng):
    a = rng.standard_normal((2, 3))
    x = B.asarray(a, dtype="float64")
    a[0, 0] = 99.0                                              # asarray copied: no aliasing
    assert float(x[0, 0]) != 99.0
    host = x.get()
    host[...] = 0                                               # .get() copied too
    assert float(abs(x).sum()) > 0
    out = B.to_numpy(x)
    assert isinstance(out, np.ndarray) and out.dtype == np.float64 and out.shape == (2, 3)
    total = x.sum()                                             # a 0-d device array, as on CuPy
    assert B.get_array_module(total) is strict and total.shape == ()
    assert float(total) == pytest.approx(out.sum()) and total.item() == float(total)
    assert isinstance(int(x.argmax()), int) and bool(x.max() >= x.min())
    assert f"{total:.3f}" == f"{out.sum():.3f}" and B.to_float(total) == float(total)
    y = strict.empty_like(x)
    assert strict.multiply(x, 2, out=y) is y                    # out= returns the same array
    assert x.astype(np.float64, copy=False) is x


def test_device_stride_tricks_and_random_draws(rng):
    x = B.asarray(np.arange(12.0).reshape(3, 4), dtype="float64")
    xp = B.get_array_module(x)
    s = x.strides
    view = xp.lib.stride_tricks.as_strided(x, (2, 3, 2, 2), s + s)          # 2×2 windows
    want = np.lib.stride_tricks.sliding_window_view(x.get(), (2, 2))
    np.testing.assert_array_equal(view.get(), want)
    u = B.uniform(np.random.default_rng(3), (4, 5), like=x)
    again = B.uniform(np.random.default_rng(3), (4, 5), like=x)
    assert B.get_array_module(u) is strict and u.dtype == np.float32
    np.testing.assert_array_equal(u.get(), again.get())         # the NumPy seed fixes the draw
    n = B.normal(np.random.default_rng(0), (20000,), std=2.0, dtype="float64")
    assert B.get_array_module(n) is strict and abs(float(n.std()) - 2.0) < 0.05
    assert B.get_array_module(xp.random.default_rng(1).integers(0, 5, 3)) is strict


def test_names_taken_from_the_module_leave_its_builtins_alone(rng):
    x = _device(rng, 2, 3)
    for name in ("abs", "max", "min", "sum", "all", "any", "round"):    # NumPy's, builtins' too
        getattr(strict, name)
    assert float(abs(-x).min()) >= 0 and strict.get_array_module(x) is strict
    strict.cuda.Device().synchronize()                          # timing code's sync: a no-op


def test_a_cupy_clean_layer_passes_gradcheck_on_the_stand_in(rng):
    def relu(x):
        return B.get_array_module(x).maximum(x, 0)             # the module from the data

    x = B.asarray(away_from_kinks((3, 4), rng))                 # |x| ≥ 0.1: off ReLU's kink
    assert gradcheck(_Relu(relu), x).max_error <= 1e-6


def test_fit_and_a_weights_round_trip_on_the_stand_in(tmp_path, rng):
    def model(seed):
        return lk.Sequential([lk.Dense(4, 8, rng=seed), lk.LKReLU(), lk.Dropout(0.1, rng=seed),
                              lk.Dense(16, 3, rng=seed + 1)])

    X, y = rng.standard_normal((40, 4)), rng.integers(0, 3, 40)
    net = model(0)
    history = lk.fit(net, lk.SoftmaxCrossEntropy(), lk.Adam(net), X, y, epochs=2, batch_size=8,
                     validation=(X, y), progress=False, sync_every=3)   # CuPy's deferred reads
    assert history.epochs == 2 and np.isfinite(history["loss"] + history["val_loss"]).all()
    assert all(B.get_array_module(p) is strict for p in net.params.values())
    assert lk.predict(net, X).shape == (40, 3)                  # NumPy out
    lk.save_weights(net, tmp_path / "w.npz")
    with B.using_backend("numpy"):
        host = model(5)
    lk.load_weights(host, tmp_path / "w.npz")
    for key, value in net.params.items():
        np.testing.assert_array_equal(host.params[key], value.get())


def test_every_registered_component_agrees_with_numpy_on_the_stand_in():
    path = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "parity.py"
    spec = importlib.util.spec_from_file_location("parity", path)
    parity = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(parity)
    rows = parity.compare("numpy", "strict", dtypes=("float64",))
    bad = [row for row in rows if not row[-1]]
    assert len(rows) >= 10 and not bad, bad


def test_the_environment_variable_selects_the_stand_in():
    code = "import linkedref as lk; print(lk.get_backend(), lk.backend.xp().__name__)"
    env = dict(os.environ, LINKEDREF_BACKEND="strict")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.split() == ["strict", "linkedref.strict"]
