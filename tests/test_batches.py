"""The minibatch iterator: every sample once, Generator shuffling, per-batch transfer, dtypes."""
import numpy as np
import pytest

import linkedref.backend as B
from linkedref.data.batches import batches


def _data(n=10):
    X = np.arange(n * 3, dtype=np.float64).reshape(n, 3)
    return X, np.arange(n)


def test_every_sample_once_with_a_partial_last_batch():
    X, y = _data(10)
    got = list(batches(X, y, 4, rng=0))
    assert [len(xb) for xb, _ in got] == [4, 4, 2]
    ys = np.concatenate([B.to_numpy(yb) for _, yb in got])
    assert sorted(ys) == list(range(10)) and not np.array_equal(ys, np.arange(10))
    for xb, yb in got:                                   # rows stay with their labels
        np.testing.assert_array_equal(B.to_numpy(xb), X[B.to_numpy(yb)])


def test_batches_live_on_the_backend_in_the_default_dtype():
    X, y = _data()
    xb, yb = next(iter(batches(X, y, 3, rng=0)))
    assert type(xb) is type(B.xp().zeros(1)) and xb.dtype == np.float32
    assert yb.dtype.kind == "i" and type(yb) is type(xb)
    assert isinstance(X, np.ndarray) and X.dtype == np.float64      # X stays on the host as is
    xb, _ = next(iter(batches(X, y, 3, rng=0, dtype="float64")))
    assert xb.dtype == np.float64
    with B.default_dtype("float64"):
        assert next(iter(batches(X, y, 3, rng=0)))[0].dtype == np.float64


def test_same_seed_same_order_and_generators_advance():
    X, y = _data(20)
    order = lambda it: np.concatenate([B.to_numpy(yb) for _, yb in it])   # noqa: E731
    np.testing.assert_array_equal(order(batches(X, y, 6, rng=7)), order(batches(X, y, 6, rng=7)))
    g = np.random.default_rng(7)
    first, second = order(batches(X, y, 6, rng=g)), order(batches(X, y, 6, rng=g))
    assert not np.array_equal(first, second)             # a Generator moves on: new epoch order


def test_no_shuffle_keeps_order_and_needs_no_rng():
    X, y = _data(7)
    ys = np.concatenate([B.to_numpy(yb) for _, yb in batches(X, y, 3, shuffle=False)])
    np.testing.assert_array_equal(ys, np.arange(7))


def test_float_targets_take_the_dtype_and_y_may_be_none():
    X, _ = _data(5)
    t = np.linspace(0, 1, 10).reshape(5, 2)
    _, tb = next(iter(batches(X, t, 2, shuffle=False)))
    assert tb.dtype == np.float32 and tb.shape == (2, 2)
    xb, nothing = next(iter(batches(X, None, 2, shuffle=False)))
    assert nothing is None and xb.shape == (2, 3)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(y=np.arange(9), batch_size=2, rng=0), ValueError, "10 samples but y has 9"),
    (dict(y=np.arange(10), batch_size=0, rng=0), ValueError, "batch_size must be"),
    (dict(y=np.arange(10), batch_size=2.5, rng=0), ValueError, "batch_size must be"),
    (dict(y=np.arange(10), batch_size=2), ValueError, "shuffle=True needs rng"),
    (dict(y=np.arange(10), batch_size=2, rng="seed"), TypeError, "Generator"),
    (dict(y=np.array(["a"] * 10), batch_size=2, rng=0), TypeError, "numeric y"),
])
def test_bad_arguments_fail_at_the_call(kwargs, error, match):
    X, _ = _data(10)
    with pytest.raises(error, match=match):
        batches(X, **kwargs)                              # eagerly, not at the first next()
