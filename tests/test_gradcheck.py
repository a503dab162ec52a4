"""The gradient checker itself: it passes a right backward, catches a wrong one, skips kinks."""
import numpy as np
import pytest

import linkedref as lk
import linkedref.backend as B
from linkedref.gradcheck import GradientCheckError, away_from_kinks, distinct_values, gradcheck
from linkedref.layer import Layer, Sequential


class Affine(Layer):
    """y = x * w + b**2, elementwise over the last axis; w, b of shape (D,). (Test-only layer.)"""

    def __init__(self, d, rng, wrong=False):
        super().__init__()
        self.params = {"w": B.asarray(rng.standard_normal(d), self.dtype),
                       "b": B.asarray(rng.standard_normal(d), self.dtype)}
        self.grads = {k: v * 0 for k, v in self.params.items()}
        self.wrong = wrong

    def forward(self, x, training=False):
        self.cache = x
        return x * self.params["w"] + self.params["b"] ** 2

    def backward(self, dy):
        x = self.saved()
        self.grads["w"] = (dy * x).sum(axis=0)
        self.grads["b"] = 2 * self.params["b"] * dy.sum(axis=0) * (1.5 if self.wrong else 1.0)
        return dy * self.params["w"]


class Relu(Layer):
    def forward(self, x, training=False):
        self.cache = x > 0
        return x * self.cache

    def backward(self, dy):
        return dy * self.saved()


def test_passes_a_correct_backward(rng):
    report = gradcheck(Sequential([Affine(5, rng), Affine(5, rng)]), rng.standard_normal((4, 5)))
    assert report.passed and report.max_error < 1e-8
    assert {r.name for r in report.rows} == {"x", "0.w", "0.b", "1.w", "1.b"}


def test_catches_a_wrong_backward_and_prints_numbers(rng):
    with pytest.raises(GradientCheckError) as err:
        gradcheck(Affine(3, rng, wrong=True), rng.standard_normal((2, 3)))
    msg = str(err.value)
    assert "'b'" not in msg and "b " in msg and "analytic" in msg  # names the tensor and values
    assert "FAIL" not in msg and "e-0" in msg


def test_does_not_modify_the_layer(rng):
    layer = Affine(3, rng)
    before = {k: v.copy() for k, v in layer.params.items()}
    gradcheck(layer, rng.standard_normal((2, 3)))
    for k in before:
        assert layer.params[k].dtype == np.float32
        np.testing.assert_array_equal(B.to_numpy(layer.params[k]), B.to_numpy(before[k]))


def test_kinks_are_skipped_not_reported(rng):
    x = away_from_kinks((3, 4), rng)
    x[0, 0] = 1e-7                       # within eps of the ReLU kink
    report = gradcheck(Relu(), x)
    assert report.passed and report.rows[0].skipped == 1


def test_curvature_near_a_minimum_is_not_a_kink():
    """Near a minimum the one-sided slopes differ by ε·f'' ≫ f': still smooth, still checked."""
    report = lk.gradcheck(None, np.array([[0.3]]), loss=lk.MSE(), labels=np.array([[0.3001]]))
    assert report.rows[0].skipped == 0 and report.max_error < 1e-9


class _Square(Layer):
    """y = x², with a backward that is wrong by ``factor`` (1: right)."""

    def __init__(self, factor=1.0):
        super().__init__()
        self.factor = factor

    def forward(self, x, training=False):
        self.save_for_backward(x, output_shape=x.shape)
        return x * x

    def backward(self, dy):
        return self.factor * 2 * self.saved(dy) * dy


def test_a_wrong_backward_near_a_minimum_is_still_caught():
    x = np.array([[1e-4, -2e-4, 3e-4]])                 # near the minimum of x²: f' ≪ ε·f''
    with pytest.raises(GradientCheckError):
        lk.gradcheck(_Square(factor=1.01), x)
    report = lk.gradcheck(_Square(), x)
    assert report.passed and report.rows[0].skipped == 0


def test_kinks_are_still_skipped_beside_curvature(rng):
    """A ReLU kink within ε (at every step size) is skipped; the curved coordinates are kept:
    L = mean((relu(x) − 0.5)²) jumps in slope at x = 0 and curves (L'' > 0) for x > 0."""
    x = away_from_kinks((2, 3), rng)
    x[0, 1] = 3e-6                                       # kink within ε/4 of the point
    report = gradcheck(Relu(), x, loss=lk.MSE(), labels=np.full((2, 3), 0.5))
    assert report.rows[0].skipped == 1 and report.rows[0].checked == 5 and report.passed


def test_all_kinks_is_an_error(rng):
    with pytest.raises(ValueError, match="kink"):
        gradcheck(Relu(), np.zeros((2, 2)))


def test_helpers_keep_their_promises(rng):
    x = away_from_kinks((50,), rng, margin=0.2)
    assert np.abs(x).min() >= 0.2
    v = np.sort(distinct_values((4, 5), rng, spacing=0.01).ravel())
    assert np.diff(v).min() >= 0.01 - 1e-12


class _MatMul(Layer):
    def __init__(self, w):
        super().__init__()
        self.params, self.grads = {"W": w}, {"W": w * 0}

    def forward(self, x, training=False):
        self.cache = x
        return x @ self.params["W"]

    def backward(self, dy):
        self.grads["W"] = self.saved().T @ dy
        return dy @ self.params["W"].T


class _FortranMatMul(_MatMul):
    """A layer that does not keep its parameters contiguous: its astype puts W in Fortran order.
    gradcheck casts its deep copy with astype, so the copy it perturbs is non-contiguous on every
    backend (CuPy's deepcopy alone makes a C-contiguous copy; NumPy's keeps the order)."""

    def astype(self, dtype):
        super().astype(dtype)
        self.params["W"] = B.get_array_module(self.params["W"]).asfortranarray(self.params["W"])
        return self


def test_non_contiguous_parameters_are_refused(rng):
    w = B.xp().asfortranarray(B.asarray(rng.standard_normal((4, 3))))   # astype keeps F order
    with pytest.raises(ValueError, match="not C-contiguous"):
        gradcheck(_FortranMatMul(w), rng.standard_normal((2, 4)))
    if B.get_backend() == "numpy":      # NumPy's deepcopy keeps F order: a plain layer carries it
        with pytest.raises(ValueError, match="not C-contiguous"):
            gradcheck(_MatMul(w), rng.standard_normal((2, 4)))
    assert gradcheck(_MatMul(B.xp().ascontiguousarray(w)), rng.standard_normal((2, 4))).passed


class _View(Layer):
    """y = x.reshape(N, -1): a view of the input, as Flatten returns."""

    def forward(self, x, training=False):
        self.cache = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dy):
        return dy.reshape(self.saved())


def test_layers_returning_views_of_their_input_check_cleanly(rng):
    assert gradcheck(_View(), rng.standard_normal((2, 3, 2))).max_error < 1e-9
