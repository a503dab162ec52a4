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

# set_threads(n > 1) says once that only DataParallel uses the threads; these tests use it.
pytestmark = [pytest.mark.skipif(B.get_backend() != "numpy", reason="threads split NumPy work"),
              pytest.mark.filterwarnings("ignore:set_threads")]


@pytest.fixture(autouse=True)
def _restore_threads():
    before = T._state["threads"]
    yield
    lk.set_threads(before)


def small_net(dtype="float32", activation="lkrelu"):
    """A small depth_net (LK-ReLU by default) with a MaxPool2D and a Dense head (inputs
    3 × 16 × 16)."""
    with B.default_dtype(dtype):
        net = lk.depth_net(depth=4, activation=activation, input_size=(16, 16), rng=0)
        channels = 8 if activation.startswith("lk") else 4      # a linked unit doubles them
        return lk.Sequential([*net.layers[:-2], lk.MaxPool2D(2), lk.Flatten(),
                              lk.Dense(channels * 4 * 4, 10, rng=1)])


def steps(model, dtype="float32", n_steps=2, batch=12, shape=(3, 16, 16), need_dx=True):
    """Outputs, input gradients (with ``need_dx``) and parameters after a few Adam steps on
    fixed data."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, *shape)).astype(dtype)
    labels = rng.integers(0, 10, batch)
    loss, opt = lk.SoftmaxCrossEntropy(), lk.Adam(model, lr=1e-3)
    seen = []
    for _ in range(n_steps):
        out = model.forward(x, training=True)
        loss.forward(out, labels)
        dx = model.backward(loss.backward(), need_dx=need_dx)
        seen += [np.array(out)] + ([np.array(dx)] if need_dx else [])
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


def branchy_net():
    """A Residual block with PReLU inside and a mirror-linked PReLU (lazy slopes), then Dense."""
    with B.default_dtype("float64"):
        block = lk.Sequential([lk.Conv2D(3, 3, 3, padding=1, rng=0), lk.PReLU()])
        return lk.Sequential([lk.Residual(block), lk.Linked.mirror(lk.PReLU()),
                              lk.MaxPool2D(3, 2), lk.Flatten(), lk.Dense(6 * 3 * 3, 10, rng=1)])


@pytest.mark.parametrize("n, batch", [(2, 7), (3, 5), (5, 2), (4, 1)])
@pytest.mark.parametrize("need_dx", [True, False])
def test_containers_lazy_params_and_small_batches_equal_the_model(n, batch, need_dx):
    """Residual, Linked and lazily built PReLU slopes, batches smaller than the thread count,
    and fit's need_dx=False: the same as the plain model, to float64 rounding."""
    want = steps(branchy_net(), "float64", 3, batch, (3, 8, 8), need_dx)
    with lk.fast.using_threads(n):
        model = DataParallel(branchy_net(), measure=False)
        got = steps(model, "float64", 3, batch, (3, 8, 8), need_dx)
    assert len(model.replicas) == min(n, batch) - 1
    for i, (g, w) in enumerate(zip(got, want)):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12, err_msg=f"item {i}")


def test_an_error_in_a_replica_is_raised_and_the_model_stays_usable():
    with lk.fast.using_threads(2):
        model = DataParallel(small_net(), measure=False)
        steps(model)                                         # replicas exist
        x = np.zeros((6, 3, 16, 16), np.float32)
        with pytest.raises(ValueError, match="Conv2D"):
            model.forward(x[:, :2], training=True)           # 2 channels: every piece refuses
        bad = x.copy()
        model.replicas[0].layers[0].params = {}              # only the replica's piece breaks
        with pytest.raises(KeyError, match="W"):
            model.forward(bad, training=True)
        model.refresh()
        assert model.forward(x, training=True).shape == (6, 10)


def test_weights_saved_through_the_wrapper_load_into_the_model_and_back(tmp_path):
    with lk.fast.using_threads(2):
        wrapped = DataParallel(small_net(), measure=False)
        steps(wrapped)
        lk.save_weights(wrapped, tmp_path / "w.npz")
        plain = small_net()
        lk.load_weights(plain, tmp_path / "w.npz")
        lk.save_weights(plain, tmp_path / "p.npz")
        again = DataParallel(small_net(activation="lkrelu"))
        lk.load_weights(again, tmp_path / "p.npz")
    for key, p in wrapped.params.items():
        np.testing.assert_array_equal(plain.params[key], p)
        np.testing.assert_array_equal(again.params[key], p)


def test_evaluation_and_the_diagnostics_see_the_whole_batch(rng):
    """A forward with training=False is not split: dead_units through the wrapper counts what
    it counts on the model, even once the replicas exist."""
    from linkedref.diagnostics import dead_units
    X = rng.standard_normal((20, 3, 16, 16)).astype(np.float32)
    with lk.fast.using_threads(2):
        model = DataParallel(small_net(activation="relu"), measure=False)
        steps(model)
        assert model.replicas
        assert dead_units(model, X) == dead_units(model.module, X)
        assert model.split(20) is not None                   # a training step would split
        model.forward(X, training=False)
        assert model.pieces is None


def test_replicas_follow_a_replaced_layer_and_refresh_follows_a_changed_setting():
    net = lk.Sequential([lk.Flatten(), lk.Dropout(0.5, rng=0), lk.Dense(3 * 16 * 16, 10, rng=1)])
    x = np.ones((4, 3, 16, 16), np.float32)
    with lk.fast.using_threads(2):
        model = DataParallel(net, measure=False)
        model.forward(x, training=True)
        model.forward(x, training=True)                      # split: a replica exists
        net.layers[1].p = 0.0                                # a setting changed in place
        model.refresh()
        out = model.forward(x, training=True)
        np.testing.assert_allclose(out, net.layers[2].forward(x.reshape(4, -1)), rtol=1e-5,
                                   atol=1e-5)
        old = model.replicas[0]
        net.layers[1] = lk.Dropout(0.0, rng=2)               # a layer replaced
        model.forward(x, training=True)
        assert model.replicas[0] is not old


def test_nested_and_concurrent_parallel_calls_run_every_item():
    out, lock = [], threading.Lock()

    def inner(i):
        def record(j):
            with lock:
                out.append((i, j))
        T.parallel(record, range(3))

    T.parallel(inner, range(3))                              # from inside a pool job
    assert sorted(out) == [(i, j) for i in range(3) for j in range(3)]
    counts = []

    def caller():
        seen = []
        for _ in range(30):
            T.parallel(seen.append, range(3))
        counts.append(len(seen))

    callers = [threading.Thread(target=caller) for _ in range(2)]
    for c in callers:
        c.start()
    for c in callers:
        c.join(timeout=30)
    assert counts == [90, 90]


def test_the_replicas_share_the_parameters_and_own_their_grads():
    with lk.fast.using_threads(2):
        model = DataParallel(small_net(), measure=False)
        steps(model)                                         # the second step is split
    (replica,) = model.replicas
    for key, p in model.params.items():
        assert replica.params[key] is p, key                # one array: updates reach both
        assert replica.grads[key] is not model.grads[key], key


def test_the_summed_grads_are_set_as_new_arrays_each_split_step():
    """The layer protocol's rule, kept by DataParallel: a split backward sets each grad to a new
    array holding this batch's gradient; the last step's arrays are left as they were."""
    rng = np.random.default_rng(0)
    x, labels = rng.standard_normal((8, 3, 16, 16)).astype("float32"), rng.integers(0, 10, 8)
    loss = lk.SoftmaxCrossEntropy()
    with lk.fast.using_threads(2):
        model = DataParallel(small_net(), measure=False)
        seen = []
        for _ in range(3):                                   # the first step runs whole
            loss.forward(model.forward(x, training=True), labels)
            model.backward(loss.backward())
            seen.append({k: (g, np.array(g)) for k, g in model.grads.items()})
    whole = small_net()
    loss.forward(whole.forward(x, training=True), labels)
    whole.backward(loss.backward())
    for key, (g, values) in seen[1].items():
        assert seen[2][key][0] is not g, key                 # set anew, not written into
        np.testing.assert_array_equal(np.array(g), values, err_msg=key)   # the old one intact
        np.testing.assert_allclose(seen[2][key][1], np.array(whole.grads[key]), rtol=1e-5,
                                   atol=1e-6, err_msg=key)   # this batch's, not accumulated


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
        pad = [5.0] * (P.TRIALS - 2)                                  # the other trials: slow
        times.update(whole=[1.0, 3.0] + pad, split=[2.0, 0.9] + pad)  # split measured faster
        assert model.split(12) is not None
        times.update(whole=[1.0, 3.0] + pad, split=[2.0, 1.1] + pad)  # whole measured faster
        assert model.split(12) is None
        assert model.split(10) is None and (10, 2) in model.timings  # a new size: trials again
