"""linkedref.fast: DataParallel equals the model it wraps, the pool behind it, the one setting.

DataParallel's plain twin is the wrapped model itself: at one thread it *is* the model (bit for
bit); at n threads each grad is summed piece by piece, so results agree to rounding (float64 to
1e-12, float32 to 1e-5). The conv kernels against the plain loops: tests/test_conv.py.
"""
import multiprocessing
import threading

import numpy as np
import pytest

import linkedref as lk
import linkedref.backend as B
from linkedref.fast import threads as T
from linkedref.fast.parallel import DataParallel

pytestmark = pytest.mark.skipif(B.get_backend() != "numpy", reason="threads split NumPy work")


@pytest.fixture(autouse=True)
def _restore_threads():
    before = T._state["threads"]
    yield
    lk.set_threads(before)


def small_net(dtype="float32", activation="lkrelu"):
    """A small LK-ReLU depth_net with a MaxPool2D and a Dense head (inputs 3 × 16 × 16)."""
    with B.default_dtype(dtype):
        net = lk.depth_net(depth=4, activation=activation, input_size=(16, 16), rng=0)
        return lk.Sequential([*net.layers[:-2], lk.MaxPool2D(2), lk.Flatten(),
                              lk.Dense(8 * 4 * 4, 10, rng=1)])


def steps(model, dtype="float32", n_steps=2, batch=12):
    """Outputs, input gradients and parameters after a few Adam steps on fixed data."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, 3, 16, 16)).astype(dtype)
    labels = rng.integers(0, 10, batch)
    loss, opt = lk.SoftmaxCrossEntropy(), lk.Adam(model, lr=1e-3)
    seen = []
    for _ in range(n_steps):
        out = model.forward(x, training=True)
        loss.forward(out, labels)
        seen += [np.array(out), np.array(model.backward(loss.backward()))]
        opt.step()
    return seen + [np.array(v) for v in model.params.values()]


def test_at_one_thread_data_parallel_is_the_model_bit_for_bit():
    want = steps(small_net())
    with lk.fast.using_threads(1):
        got = steps(DataParallel(small_net()))
    for i, (g, w) in enumerate(zip(got, want)):
        np.testing.assert_array_equal(g, w, err_msg=f"item {i}")


@pytest.mark.parametrize("n", [2, 3, 5])
@pytest.mark.parametrize("dtype, tol", [("float64", 1e-12), ("float32", 1e-5)])
def test_at_n_threads_it_equals_the_model_to_rounding(n, dtype, tol):
    want = steps(small_net(dtype), dtype)
    with lk.fast.using_threads(n):
        model = DataParallel(small_net(dtype), measure=False)
        got = steps(model, dtype)
    assert len(model.replicas) == n - 1                      # the batch really was split
    for i, (g, w) in enumerate(zip(got, want)):
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol, err_msg=f"{n} threads, item {i}")


def test_the_replicas_share_the_parameters_and_own_their_grads():
    with lk.fast.using_threads(2):
        model = DataParallel(small_net(), measure=False)
        steps(model)                                         # the second step is split
    (replica,) = model.replicas
    for key, p in model.params.items():
        assert replica.params[key] is p, key                # one array: updates reach both
        assert replica.grads[key] is not model.grads[key], key


def test_the_replicas_are_made_anew_when_the_parameters_are_replaced():
    with lk.fast.using_threads(2):
        model = DataParallel(small_net(), measure=False)
        steps(model, n_steps=1)
        model.module.astype("float64")                       # new arrays, new dtype
        got = steps(model, "float64", n_steps=1)
    assert all(g.dtype == np.float64 for g in got)
    assert model.replicas[0].params["0.W"] is model.params["0.W"]
    assert model.replicas[0].layers[0].dtype == np.float64


def test_the_first_forward_runs_whole_so_lazy_parameters_exist_once():
    """PReLU creates its slopes on its first forward: that forward is not split."""
    net = small_net(activation="lkprelu")
    with lk.fast.using_threads(2):
        model = DataParallel(net, measure=False)
        got = steps(model)
    assert model.replicas, "later steps were split"
    assert model.replicas[0].params["1.alpha"] is model.params["1.alpha"]
    want = steps(small_net(activation="lkprelu"))
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)


def test_a_model_with_batch_statistics_runs_whole():
    with B.default_dtype("float32"):
        net = lk.Sequential([lk.Conv2D(3, 4, 3, rng=0), lk.BatchNorm(4), lk.ReLU(),
                             lk.Flatten(), lk.Dense(4 * 14 * 14, 10, rng=1)])
    with lk.fast.using_threads(2):
        model = DataParallel(net, measure=False)
        got = steps(model)
    assert not model.replicas
    want_net = lk.Sequential([lk.Conv2D(3, 4, 3, rng=0), lk.BatchNorm(4), lk.ReLU(),
                              lk.Flatten(), lk.Dense(4 * 14 * 14, 10, rng=1)])
    for g, w in zip(got, steps(want_net)):
        np.testing.assert_array_equal(g, w)


def test_each_replica_draws_its_own_dropout_masks():
    net = lk.Sequential([lk.Dropout(0.5, rng=0), lk.Flatten(), lk.Dense(3 * 16 * 16, 10, rng=1)])
    with lk.fast.using_threads(2):
        model = DataParallel(net, measure=False)
        model.forward(np.ones((4, 3, 16, 16), np.float32), training=True)   # first: whole
        out = model.forward(np.ones((4, 3, 16, 16), np.float32), training=True)
    masks = [model.module.layers[0].cache, model.replicas[0].layers[0].cache]
    assert masks[0].shape == masks[1].shape == (2, 3, 16, 16)
    assert not np.array_equal(masks[0], masks[1]), "the pieces drew the same mask"
    assert out.shape == (4, 10)


def test_fit_trains_a_data_parallel_model_and_optimizers_see_the_models_keys(rng):
    X = rng.standard_normal((48, 3, 16, 16)).astype(np.float32)
    y = rng.integers(0, 10, 48)
    net = small_net()
    with lk.fast.using_threads(2):
        model = DataParallel(net, measure=False)
        history = lk.fit(model, lk.SoftmaxCrossEntropy(), lk.Adam(model, lr=1e-2), X, y,
                         epochs=4, batch_size=16, progress=False)
    assert model.params.keys() == net.params.keys()
    assert history["loss"][-1] < history["loss"][0]


def test_data_parallel_refuses_a_model_without_forward_and_backward():
    with pytest.raises(TypeError, match="DataParallel: the model needs a forward"):
        DataParallel(object())


# ------------------------------------------------------------------ the pool and the setting
def test_parallel_runs_every_item_once_each_on_its_own_thread():
    seen, lock, start = [], threading.Lock(), threading.Barrier(3, timeout=10)

    def record(item):
        start.wait()                                        # all three run at once
        with lock:
            seen.append((item, threading.current_thread().name))

    T.parallel(record, range(3))
    assert sorted(item for item, _ in seen) == [0, 1, 2]
    assert len({name for _, name in seen}) == 3
    assert dict(seen)[0] == threading.current_thread().name   # the first on the caller


def test_parallel_raises_a_workers_exception_and_stays_usable():
    def fail_on_2(item):
        if item == 2:
            raise ValueError("item 2")

    with pytest.raises(ValueError, match="item 2"):
        T.parallel(fail_on_2, range(4))
    out = np.zeros(6)
    T.parallel(lambda i: out.__setitem__(i, i), range(6))
    np.testing.assert_array_equal(out, np.arange(6))


def _sum_on_the_pool(_):
    out = np.zeros(4)
    T.parallel(lambda i: out.__setitem__(i, i), range(4))
    return out.sum()


def test_a_forked_child_starts_its_own_pool():
    """A child forked after the pool started (tutorials' --jobs) must not wait for the parent's
    threads, which it does not have."""
    assert _sum_on_the_pool(None) == 6                      # the parent's pool exists now
    with multiprocessing.get_context("fork").Pool(1) as children:
        assert children.map_async(_sum_on_the_pool, [0]).get(timeout=20) == [6]


def test_set_threads_keeps_blas_on_one_thread_and_none_gives_it_back():
    lk.set_threads(None)
    original = T.blas_info()
    with lk.fast.using_threads(2):
        assert lk.get_threads() == 2
        assert all(": 1 threads" in part for part in T.blas_info().split("; "))
        with lk.fast.using_threads(None):
            assert lk.get_threads() == T.cpu_count() and T.blas_info() == original
        assert all(": 1 threads" in part for part in T.blas_info().split("; "))
    assert T.blas_info() == original


def test_each_batch_size_runs_the_way_that_measured_faster():
    """After the first step: TRIALS timed steps whole, TRIALS split, then the faster way."""
    import linkedref.fast.parallel as P
    with lk.fast.using_threads(2):
        model = DataParallel(small_net())
        ways = []
        for _ in range(1 + 2 * P.TRIALS):
            ways.append("whole" if model.split(12) is None else "split")
            steps(model, n_steps=1)
        assert ways == ["whole"] * (1 + P.TRIALS) + ["split"] * P.TRIALS
        times = model.timings[(12, 2)]
        assert len(times["whole"]) == len(times["split"]) == P.TRIALS
        assert all(t > 0 for t in times["whole"] + times["split"])
        times.update(whole=[1.0, 3.0], split=[2.0, 0.9])             # split measured faster
        assert model.split(12) is not None
        times.update(whole=[1.0, 3.0], split=[2.0, 1.1])             # whole measured faster
        assert model.split(12) is None
        assert model.split(10) is None and (10, 2) in model.timings  # a new size: trials again
