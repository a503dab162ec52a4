"""Losses: gradients (float64 gradcheck), values against plain NumPy, stability, bad input."""
import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import linkedref.backend as B
from linkedref.gradcheck import gradcheck
from linkedref.gradcheck.cases_losses import CASES
from linkedref.losses import MSE, SoftmaxCrossEntropy


def _reference_cross_entropy(z, labels):
    """Plain float64 NumPy: mean_n −log softmax(z_n)[y_n], and its gradient."""
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    n = len(z)
    loss = -np.log(p[np.arange(n), labels]).mean()
    onehot = np.eye(z.shape[1])[labels]
    return loss, (p - onehot) / n


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_registered_cases_pass_gradcheck(case, rng):
    report = gradcheck(**case.make(rng))
    assert report.max_error <= 1e-6


@given(n=st.integers(1, 7), k=st.integers(2, 6), seed=st.integers(0, 2**16))
def test_cross_entropy_gradcheck_hypothesis(n, k, seed):
    rng = np.random.default_rng(seed)
    report = gradcheck(None, 2.0 * rng.standard_normal((n, k)), loss=SoftmaxCrossEntropy(),
                       labels=rng.integers(0, k, n))
    assert report.max_error <= 1e-6


@given(shape=st.sampled_from([(1, 1), (4, 3), (2, 3, 2, 2), (7,)]), seed=st.integers(0, 2**16))
@example(shape=(1, 1), seed=104)      # prediction near the target: the checker saw a kink there
def test_mse_gradcheck_hypothesis(shape, seed):
    rng = np.random.default_rng(seed)
    report = gradcheck(None, rng.standard_normal(shape), loss=MSE(),
                       labels=rng.standard_normal(shape))
    assert report.max_error <= 1e-6


def test_cross_entropy_matches_numpy_reference(rng):
    z = rng.standard_normal((8, 5)) * 3
    labels = rng.integers(0, 5, 8)
    crit = SoftmaxCrossEntropy()
    with B.default_dtype("float64"):
        loss = crit.forward(B.asarray(z), labels)
    ref_loss, ref_grad = _reference_cross_entropy(z, labels)
    assert loss.shape == () and B.is_array(loss)
    np.testing.assert_allclose(B.to_float(loss), ref_loss, rtol=1e-12)
    np.testing.assert_allclose(B.to_numpy(crit.backward()), ref_grad, rtol=1e-12, atol=1e-15)


def test_cross_entropy_keeps_dtype_and_accepts_backend_labels(rng):
    z = B.asarray(rng.standard_normal((4, 3)), dtype="float32")
    crit = SoftmaxCrossEntropy()
    loss = crit.forward(z, B.asarray(np.array([0, 2, 1, 2])))
    assert loss.dtype == np.float32 and crit.backward().dtype == np.float32
    ref, _ = _reference_cross_entropy(B.to_numpy(z), [0, 2, 1, 2])
    np.testing.assert_allclose(B.to_float(loss), ref, rtol=1e-6)


def test_cross_entropy_is_finite_for_huge_logits():
    z = B.asarray(np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]]), dtype="float32")
    crit = SoftmaxCrossEntropy()
    right = crit.forward(z, np.array([0, 1]))       # confident and right: ~log 2 / 2
    np.testing.assert_allclose(B.to_float(right), np.log(2) / 2, rtol=1e-5)
    wrong = crit.forward(z, np.array([1, 0]))       # confident and wrong: (2e4 + 2e4 + log 2) / 2
    np.testing.assert_allclose(B.to_float(wrong), 2e4 + np.log(2) / 2, rtol=1e-6)
    dz = B.to_numpy(crit.backward())
    assert np.isfinite(dz).all()
    np.testing.assert_allclose(dz.sum(axis=1), 0, atol=1e-6)   # softmax − onehot sums to 0


def test_confident_predictions_keep_a_tiny_loss_in_float32():
    z = B.asarray(np.array([[20.0, 0.0, -3.0], [0.0, 30.0, 0.0]]), dtype="float32")
    loss = SoftmaxCrossEntropy().forward(z, np.array([0, 1]))
    ref = (np.log1p(np.exp(-20.0) + np.exp(-23.0)) + np.log1p(2 * np.exp(-30.0))) / 2
    np.testing.assert_allclose(B.to_float(loss), ref, rtol=1e-5)      # not rounded to 0


def test_ties_for_the_maximum(rng):
    z = np.array([[1.0, 1.0, 0.0], [2.0, 2.0, 2.0]])
    crit = SoftmaxCrossEntropy()
    with B.default_dtype("float64"):
        loss = crit.forward(B.asarray(z), np.array([1, 2]))
    ref_loss, ref_grad = _reference_cross_entropy(z, [1, 2])
    np.testing.assert_allclose(B.to_float(loss), ref_loss, rtol=1e-12)
    np.testing.assert_allclose(B.to_numpy(crit.backward()), ref_grad, rtol=1e-12)


def test_mse_matches_numpy_reference(rng):
    y, t = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    crit = MSE()
    with B.default_dtype("float64"):
        loss = crit.forward(B.asarray(y), t)
    np.testing.assert_allclose(B.to_float(loss), ((y - t) ** 2).mean(), rtol=1e-12)
    np.testing.assert_allclose(B.to_numpy(crit.backward()), 2 * (y - t) / y.size, rtol=1e-12)
    assert loss.shape == ()


def test_backward_leaves_the_output_untouched_between_calls(rng):
    crit = SoftmaxCrossEntropy()
    crit.forward(B.asarray(rng.standard_normal((3, 4)), dtype="float32"), [1, 0, 3])
    first = B.to_numpy(crit.backward()).copy()
    np.testing.assert_array_equal(B.to_numpy(crit.backward()), first)   # cache not modified


@pytest.mark.parametrize("labels, error, match", [
    ([0, 1, 4], ValueError, r"\[0, 4\).*\[0, 4\]"),     # out of range
    ([0, -1, 2], ValueError, r"\[0, 4\)"),
    ([0.0, 1.0, 2.0], TypeError, "integer"),
    ([0, 1], ValueError, r"\(3,\)"),                     # N differs
    ([[0], [1], [2]], ValueError, r"\(3,\)"),
])
def test_cross_entropy_rejects_bad_labels(labels, error, match, rng):
    z = B.asarray(rng.standard_normal((3, 4)), dtype="float32")
    with pytest.raises(error, match=match) as err:
        SoftmaxCrossEntropy().forward(z, np.array(labels))
    assert "SoftmaxCrossEntropy" in str(err.value)


def test_cross_entropy_rejects_bad_logits(rng):
    crit = SoftmaxCrossEntropy()
    with pytest.raises(ValueError, match="SoftmaxCrossEntropy.*shape"):
        crit.forward(B.asarray(rng.standard_normal(4), dtype="float32"), [0, 1, 0, 1])
    with pytest.raises(TypeError, match="SoftmaxCrossEntropy.*floating"):
        crit.forward(B.asarray(np.ones((2, 2), dtype=np.int64)), [0, 1])
    with pytest.raises(TypeError, match="SoftmaxCrossEntropy.*array"):
        crit.forward([[0.0, 1.0]], [0])


@pytest.mark.parametrize("crit", [SoftmaxCrossEntropy(), MSE()], ids=lambda c: c.name)
def test_backward_before_forward(crit):
    with pytest.raises(ValueError, match=f"{crit.name}: backward.*before forward"):
        crit.backward()


def test_mse_rejects_shape_mismatch(rng):
    with pytest.raises(ValueError, match=r"MSE: target shape \(3, 2\).*\(3, 4\)"):
        MSE().forward(B.asarray(rng.standard_normal((3, 4)), dtype="float32"), np.zeros((3, 2)))


class _DeviceLabels:
    """Looks like a CuPy array to the backend (module name), without needing CuPy."""
    dtype, shape, ndim = np.dtype(np.int64), (3,), 1


_DeviceLabels.__module__ = "cupy._stand_in"


@pytest.mark.parametrize("crit, what, shape", [(SoftmaxCrossEntropy(), "labels", (3, 4)),
                                               (MSE(), "targets", (3, 1))], ids=["ce", "mse"])
def test_device_labels_with_host_outputs_are_a_clear_error(crit, what, shape, rng):
    labels = _DeviceLabels()
    labels.shape, labels.ndim = ((3,), 1) if what == "labels" else ((3, 1), 2)
    with pytest.raises(TypeError, match=f"{crit.name}: the {what} are a CuPy .* NumPy"):
        crit.forward(rng.standard_normal(shape).astype(np.float32), labels)   # host outputs


def test_one_hot_labels_get_the_argmax_hint():
    loss = SoftmaxCrossEntropy()
    logits = np.zeros((4, 3), dtype=np.float32)
    one_hot = np.eye(3, dtype=np.float32)[[0, 1, 2, 0]]
    with pytest.raises(TypeError, match=r"integer class labels, got dtype float32; one-hot "
                                        r"labels\? pass y\.argmax\(1\)"):
        loss.forward(logits, one_hot)
    with pytest.raises(ValueError, match=r"shape \(4, 3\); one-hot labels\? pass y\.argmax\(1\)"):
        loss.forward(logits, one_hot.astype(np.int64))
