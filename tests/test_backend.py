"""The backend switch, default dtype, explicit random generators and the Layer base class."""
import os
import subprocess
import sys

import numpy as np
import pytest

import linkedref
import linkedref.backend as B
from linkedref.layer import Layer, Sequential


def test_unknown_backend_name_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown backend 'tensorflow'.*numpy.*cupy"):
        B.set_backend("tensorflow")


def test_cupy_without_cupy_or_device_names_cupy():
    try:
        import cupy  # noqa: F401
        pytest.skip("CuPy is installed here")
    except ImportError:
        pass
    before = B.get_backend()
    with pytest.raises(ValueError, match="CuPy is not installed"):
        B.set_backend("cupy")
    assert B.get_backend() == before           # a failed switch leaves the backend as it was


def test_environment_variable_sets_the_default_and_bad_names_fail():
    code = "import linkedref; print(linkedref.get_backend())"
    env = dict(os.environ, LINKEDREF_BACKEND="numpy")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "numpy"
    env["LINKEDREF_BACKEND"] = "nonsense"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode != 0 and "unknown backend 'nonsense'" in out.stderr


def test_cupy_in_the_environment_without_cupy_fails_in_a_few_clear_lines():
    try:
        import cupy  # noqa: F401
        pytest.skip("CuPy is installed here")
    except ImportError:
        pass
    env = dict(os.environ, LINKEDREF_BACKEND="cupy")
    out = subprocess.run([sys.executable, "-c", "import linkedref"], env=env,
                         capture_output=True, text=True)
    assert out.returncode != 0
    err = out.stderr
    assert "LINKEDREF_BACKEND='cupy'" in err and 'pip install -e ".[gpu]"' in err
    assert "Unset LINKEDREF_BACKEND" in err and "set_backend" not in err
    assert len(err.strip().splitlines()) <= 10           # no 22-line chained traceback


def test_default_dtype_switch_and_errors():
    assert B.get_default_dtype() == np.float32
    B.set_default_dtype("float64")
    assert B.get_default_dtype() == np.float64
    with B.default_dtype("float32"):
        assert B.get_default_dtype() == np.float32
    assert B.get_default_dtype() == np.float64
    for bad in ("float16", "int32", "double precision"):
        with pytest.raises((ValueError, TypeError)):
            B.set_default_dtype(bad)


def test_to_numpy_and_asarray_round_trip():
    a = B.asarray([[1.0, 2.0]], dtype=np.float32)
    out = linkedref.to_numpy(a)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    np.testing.assert_array_equal(out, [[1.0, 2.0]])


def test_random_draws_need_a_generator_and_are_reproducible():
    a = B.uniform(np.random.default_rng(3), (4, 5))
    b = B.uniform(np.random.default_rng(3), (4, 5))
    np.testing.assert_array_equal(B.to_numpy(a), B.to_numpy(b))
    assert a.dtype == B.get_default_dtype() and 0 <= float(a.min()) and float(a.max()) < 1
    n = B.normal(np.random.default_rng(0), (20000,), std=2.0, dtype="float64")
    assert abs(float(n.std()) - 2.0) < 0.05
    with pytest.raises(TypeError, match="Generator"):
        B.uniform(7, (2,))
    assert isinstance(B.as_generator(5), np.random.Generator)
    with pytest.raises(TypeError):
        B.as_generator("seed")


class _Scale(Layer):
    def __init__(self):
        super().__init__()
        self.params = {"w": B.xp().ones(3, dtype=self.dtype)}
        self.grads = {"w": B.xp().zeros(3, dtype=self.dtype)}
        self.buffers = {"seen": B.xp().zeros(1, dtype=self.dtype)}

    def forward(self, x, training=False):
        self.check_input(x, ndims=(2,), channels=3)
        self.save_for_backward(x, output_shape=x.shape)
        return x * self.params["w"]

    def backward(self, dy):
        x = self.saved()
        self.grads["w"] = (dy * x).sum(0)
        return dy * self.params["w"]


def test_layer_base_errors_name_the_layer():
    layer = _Scale()
    with pytest.raises(ValueError, match="_Scale: backward\\(\\) called before forward\\(\\)"):
        layer.backward(np.ones((2, 3), np.float32))
    with pytest.raises(TypeError, match="_Scale: expected a NumPy or CuPy array"):
        layer.forward([[1.0, 2.0, 3.0]])
    with pytest.raises(TypeError, match="_Scale: expected a floating-point input"):
        layer.forward(np.ones((2, 3), np.int64))
    with pytest.raises(ValueError, match="_Scale: expected 2D input"):
        layer.forward(np.ones((2, 3, 1), np.float32))
    with pytest.raises(ValueError, match="_Scale: expected 3 features"):
        layer.forward(np.ones((2, 4), np.float32))
    with pytest.raises(TypeError, match="dtype float64 differs from the parameters' dtype float32"):
        layer.forward(np.ones((2, 3), np.float64))


def test_sequential_merges_children_and_casts():
    model = Sequential([_Scale(), _Scale()])
    assert set(model.params) == {"0.w", "1.w"} and set(model.grads) == set(model.params)
    assert set(model.buffers) == {"0.seen", "1.seen"}
    assert model.params["1.w"] is model.layers[1].params["w"]   # the same arrays: in-place updates
    model.astype("float64")
    assert all(v.dtype == np.float64 for v in model.params.values())
    y = model.forward(B.asarray(np.ones((2, 3))))
    dx = model.backward(B.xp().ones_like(y))
    assert dx.shape == (2, 3) and model.grads["0.w"].dtype == np.float64
    model.to("numpy")
    assert model.layers[0].cache is None
    with pytest.raises(TypeError, match="Sequential: item 1 is a int"):
        Sequential([_Scale(), 3])


def test_on_device_is_the_one_condition_for_a_read_that_syncs():
    """fit reads the loss every step where that costs nothing, every sync_every steps on a device
    (CuPy, or the stand-in that keeps its rules): one condition, on the arrays' home, not a name."""
    with B.using_backend("numpy"):
        assert not B.on_device()
    with B.using_backend("strict"):
        assert B.on_device()
