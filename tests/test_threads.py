"""lk.set_threads(n): the fast path's results do not depend on n, bit for bit, and one thread
computes what the single-threaded code computed (bit for bit on the plain windows; to float32
rounding on line positions, whose GEMMs have other sizes).

The reference of each comparison is computed first, at one thread with the pool disabled (its
factory raises), so it comes from the plain, in-order loop of each function. Chunks of three
samples and pieces of any size (monkeypatched CHUNK_BYTES, MIN_PIECE_BYTES and
SHARE_SECONDS) make small arrays
take every branch: dW from per-sample products, from per-chunk sums, and as one GEMM over n·P.
"""
import importlib
import importlib.util
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest

import linkedref as lk
import linkedref.backend as B
import linkedref.conv_fast as fast
from linkedref import conv, pooling
from linkedref.conv import conv2d_reference, conv2d_reference_backward, conv_pads

T = importlib.import_module("linkedref.threads")

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(B.get_backend() != "numpy", reason="threads split NumPy work")


@pytest.fixture(autouse=True)
def _restore_threads():
    before = T._state["threads"]
    yield
    lk.set_threads(before)


@pytest.fixture
def small_pieces(monkeypatch):
    """Pieces of any size, chunks of 2**18 bytes (set_chunk: others) and elementwise slices of
    a sample or two, so that small tensors take every path."""
    monkeypatch.setattr(fast, "CHUNK_BYTES", 2 ** 18)
    monkeypatch.setattr(fast, "MIN_PIECE_BYTES", 1)
    monkeypatch.setattr(fast, "SHARE_SECONDS", 0)
    monkeypatch.setattr(T, "MIN_SHARE_BYTES", 1)
    monkeypatch.setattr(T, "PASS_BYTES", 1000)
    return lambda size: monkeypatch.setattr(fast, "CHUNK_BYTES", size)


def one_thread_without_pool(fn, monkeypatch):
    """fn() at set_threads(1) with the pool's factory broken: one thread never uses the pool."""
    def no_pool():
        raise AssertionError("set_threads(1) must not start the pool")
    with monkeypatch.context() as m:
        m.setattr(T, "_pool", no_pool)
        with lk.using_threads(1):
            return fn()


def assert_bitwise(got, want, what):
    for i, (g, w) in enumerate(zip(got, want)):
        g, w = np.asarray(g), np.asarray(w)
        assert g.shape == w.shape and g.dtype == w.dtype, f"{what}[{i}]: {g.shape} {w.shape}"
        if g.tobytes() != w.tobytes():
            raise AssertionError(f"{what}[{i}] differs from one thread: max |Δ| = "
                                 f"{np.abs(g.astype(np.float64) - w).max():.3g}")


# ------------------------------------------------------------------ convolution
CONV_CASES = [  # N, C, O, H, W, kernel, stride, padding (chunks of 3): the branch each takes
    (12, 4, 3, 8, 8, 3, 1, "same"),        # 4 chunks, P ≥ K: dW from per-sample products
    (12, 3, 4, 12, 12, 7, 2, "same"),      # the depth net's first layer, stride 2; P < K
    (40, 4, 3, 8, 8, 3, 1, "valid"),       # 14 chunks, P ≥ K: dW from per-chunk sums
    (20, 6, 8, 5, 5, 3, 1, "same"),        # 7 chunks, P < K: one GEMM over n·P per chunk
    (1, 6, 8, 5, 5, 3, 1, (1, 1)),         # one sample
    (4, 32, 32, 32, 32, 3, 1, "valid"),    # cifar_net's size: OpenBLAS on 2 threads sums its
]                                          # dW products in another order (hence 1 BLAS thread)


def conv_pass(x, w, stride, padding):
    """Everything Conv2D's fast path computes: xpad, y, dW, dx (both ways)."""
    kh, kw = w.shape[2:]
    pads = conv_pads(x.shape[2], x.shape[3], (kh, kw), (stride, stride), padding)
    work = fast.Workspace()
    xpad = fast.pad(x, pads).copy()
    y = fast.correlate(xpad, w, (stride, stride), work)
    dy = np.cos(y).astype(y.dtype)
    dW = fast.weight_grad(xpad, dy, (kh, kw), (stride, stride), work)
    dx_c = fast.dx_col2im(dy, w, (stride, stride), x.shape, pads, work).copy()
    dx_t = (fast.dx_transposed(dy, w, (1, 1), x.shape, pads, work) if stride == 1 else dx_c)
    return xpad, y, dW, dx_c, np.array(dx_t)


@pytest.mark.parametrize("case", CONV_CASES, ids=[str(c) for c in CONV_CASES])
def test_conv_is_bitwise_the_same_at_any_number_of_threads(case, rng, small_pieces, monkeypatch):
    N, C, O, H, W, k, s, padding = case
    Ho, Wo = lk.Conv2D(C, O, k, s, padding).forward(np.zeros((1, C, H, W), np.float32)).shape[2:]
    small_pieces(3 * C * k * k * Ho * Wo * 4)                        # chunks of three samples
    x = rng.standard_normal((N, C, H, W)).astype(np.float32)
    w = rng.standard_normal((O, C, k, k)).astype(np.float32)
    want = one_thread_without_pool(lambda: conv_pass(x, w, s, padding), monkeypatch)
    for n in (2, 3):
        with lk.using_threads(n):
            assert_bitwise(conv_pass(x, w, s, padding), want, f"conv {case} at {n} threads")


@pytest.mark.parametrize("n", [1, 2])
def test_conv_layer_equals_the_reference_in_float64(n, rng, small_pieces):
    with B.default_dtype("float64"):
        layer = lk.Conv2D(5, 3, 3, padding="same", rng=rng)
    x = rng.standard_normal((11, 5, 6, 6))
    with lk.using_threads(n):
        y = layer.forward(x)
        dy = rng.standard_normal(y.shape)
        dx = layer.backward(dy)
    w, b = layer.params["W"], layer.params["b"]
    want = (conv2d_reference(x, w, b, 1, "same"), *conv2d_reference_backward(x, w, dy, 1, "same"))
    for name, got, ref in zip(("y", "dx", "dW", "db"), (y, dx, *layer.grads.values()), want):
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-10, err_msg=name)


# ------------------------------------------------------------------ pooling
@pytest.mark.parametrize("layer", [lk.MaxPool2D(2), lk.MaxPool2D(3, 1), lk.AvgPool2D(3, 2)],
                         ids=repr)
def test_pooling_is_bitwise_the_same_at_any_number_of_threads(layer, rng, small_pieces,
                                                               monkeypatch):
    x = np.round(rng.standard_normal((13, 3, 9, 9)), 1).astype(np.float32)    # ties
    dy = None

    def run():
        nonlocal dy
        y = layer.forward(x, training=True)
        dy = np.sin(np.arange(y.size, dtype=np.float32)).reshape(y.shape) if dy is None else dy
        return y, layer.backward(dy)

    want = one_thread_without_pool(run, monkeypatch)
    for n in (2, 3):
        with lk.using_threads(n):
            assert_bitwise(run(), want, f"{layer!r} at {n} threads")


# ------------------------------------------------------------------ linked units
def test_lkrelu_is_bitwise_the_same_at_any_number_of_threads(rng, small_pieces, monkeypatch):
    x = np.round(rng.standard_normal((9, 3, 4, 5)), 1).astype(np.float32)      # zeros too
    dy = rng.standard_normal((9, 6, 4, 5)).astype(np.float32)
    layer = lk.LKReLU()

    def run():
        return layer.forward(x, training=True), layer.backward(dy)

    want = one_thread_without_pool(run, monkeypatch)
    np.testing.assert_array_equal(want[0], np.concatenate([np.maximum(x, 0), np.maximum(-x, 0)], 1))
    np.testing.assert_array_equal(want[1], dy[:, :3] * (x > 0) - dy[:, 3:] * (x < 0))
    for n in (2, 3):
        with lk.using_threads(n):
            assert_bitwise(run(), want, f"LKReLU at {n} threads")


# ------------------------------------------------------------------ optimizers
@pytest.mark.parametrize("make", [
    lambda m: lk.SGD(m, lr=0.1, momentum=0.9, nesterov=True), lambda m: lk.SGD(m, lr=0.1),
    lambda m: lk.RMSProp(m, lr=0.01), lambda m: lk.Adam(m, lr=0.01)], ids=["nesterov", "sgd",
                                                                          "rmsprop", "adam"])
def test_optimizer_steps_are_bitwise_the_same_at_any_number_of_threads(make, rng, small_pieces,
                                                                       monkeypatch):
    grads = [rng.standard_normal((30, 20)).astype(np.float32) for _ in range(3)]

    def run():
        model = lk.Dense(30, 20, rng=0)
        opt = make(model)
        for g in grads:
            model.grads["W"][...] = g
            model.grads["b"][...] = g[0]
            opt.step()
        return [model.params["W"].copy(), model.params["b"].copy()]

    want = one_thread_without_pool(run, monkeypatch)
    assert not np.array_equal(want[0], lk.Dense(30, 20, rng=0).params["W"]), "no update"
    parallel, calls = T.parallel, []
    for n in (2, 3):
        with lk.using_threads(n), monkeypatch.context() as m:
            m.setattr(T, "parallel", lambda fn, items, n=n: calls.append(n) or parallel(fn, items))
            assert_bitwise(run(), want, f"{make(lk.Dense(1, 1))!r} at {n} threads")
        assert n in calls, "the update should have been shared by the threads"


# ------------------------------------------------------------------ a training step
def training_steps(steps=2):
    """Outputs, input gradients and parameters of a few Adam steps of a small LK-ReLU depth_net
    (and a MaxPool2D); the model and data are re-created, so each call starts the same."""
    rng = np.random.default_rng(0)
    model = lk.Sequential([*lk.depth_net(depth=4, activation="lkrelu", rng=0).layers[:-2],
                           lk.MaxPool2D(2), lk.Flatten(), lk.Dense(8 * 8 * 8, 10, rng=1)])
    x = rng.standard_normal((24, 3, 32, 32)).astype(np.float32)
    labels = rng.integers(0, 10, 24)
    loss, opt = lk.SoftmaxCrossEntropy(), lk.Adam(model, lr=1e-3)
    seen = []
    for _ in range(steps):
        out = model.forward(x, training=True)
        loss.forward(out, labels)
        seen += [out.copy(), model.backward(loss.backward()).copy()]
        opt.step()
    return seen + [np.array(p) for layer in model.layers for p in layer.params.values()]


def test_a_training_step_is_bitwise_the_same_at_any_number_of_threads(small_pieces, monkeypatch):
    want = one_thread_without_pool(training_steps, monkeypatch)
    for n in (2, 3):
        with lk.using_threads(n):
            assert_bitwise(training_steps(), want, f"depth_net steps at {n} threads")


# ------------------------------------------------------------------ one thread = the old code
def _module_at(commit, path, name):
    """The module ``path`` as it was at ``commit`` (git), imported inside linkedref as ``name``."""
    try:
        source = subprocess.run(["git", "-C", str(ROOT), "show", f"{commit}:{path}"],
                                capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip(f"git or commit {commit} not available")
    spec = importlib.util.spec_from_loader(f"linkedref.{name}", loader=None)
    module = importlib.util.module_from_spec(spec)
    exec(compile(source, f"{commit}:{path}", "exec"), module.__dict__)
    return module


def test_one_thread_computes_what_the_single_threaded_code_computed(monkeypatch):
    """The code before threads (conv_fast at 21f1f95, pooling at aadd0c7, linked at 5bcf2f3),
    run now, against today's code at one thread, real chunk sizes. On the plain windows
    (``row_length`` None) every number is the same bit for bit: outputs, input gradients and the
    parameters after an Adam step. On line positions (today's default for layers with few output
    channels) the GEMMs have other sizes, so OpenBLAS may round a column differently, and dW sums
    the same products in another order: all of it agrees to float32 rounding. Two threads give
    one thread's bits either way."""
    old_fast = _module_at("21f1f95", "linkedref/conv_fast.py", "_conv_fast_before_threads")
    old_pool = _module_at("aadd0c7", "linkedref/pooling.py", "_pooling_before_threads")
    old_linked = _module_at("5bcf2f3", "linkedref/linked.py", "_linked_before_threads")
    with lk.using_threads(1), monkeypatch.context() as m:
        m.setattr(conv, "fast", old_fast)
        for cls, old in ((pooling.MaxPool2D, old_pool.MaxPool2D), (lk.LKReLU, old_linked.LKReLU)):
            m.setattr(cls, "forward", old.forward)
            m.setattr(cls, "backward", old.backward)
        want = training_steps(steps=1)
    with monkeypatch.context() as m:
        m.setattr(fast, "row_length", lambda *args: None)
        plain = one_thread_without_pool(lambda: training_steps(steps=1), monkeypatch)
    assert_bitwise(plain, want, "one thread, plain windows, against the code before threads")
    got = one_thread_without_pool(lambda: training_steps(steps=1), monkeypatch)
    for i, (g, w) in enumerate(zip(got, want)):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6, err_msg=f"line positions: {i}")
    with lk.using_threads(2):
        assert_bitwise(training_steps(steps=1), got, "two threads against one")


# ------------------------------------------------------------------ the pool itself
def test_parallel_runs_every_item_once_on_the_pool_and_restores_blas():
    lk.set_threads(3)
    blas_before = T.blas_info()
    seen, lock = [], threading.Lock()

    def record(item):
        with lock:
            seen.append((item, T.in_worker(), T.blas_info()))

    T.parallel(record, range(50))
    assert sorted(item for item, _, _ in seen) == list(range(50))
    assert all(": 1 threads" in blas for _, _, blas in seen if "openblas" in blas)
    assert T.blas_info() == blas_before
    assert not T.in_worker()


def test_set_threads_keeps_blas_on_one_thread_and_none_gives_it_back():
    lk.set_threads(None)
    original = T.blas_info()
    with lk.using_threads(2):
        assert lk.get_threads() == 2
        assert all(": 1 threads" in part for part in T.blas_info().split("; "))
        with lk.using_threads(None):
            assert lk.get_threads() == T.cpu_count() and T.blas_info() == original
        assert all(": 1 threads" in part for part in T.blas_info().split("; "))
    assert T.blas_info() == original


def test_parallel_raises_a_workers_exception_and_stays_usable():
    lk.set_threads(2)

    def fail_on_7(item):
        if item == 7:
            raise ValueError("item 7")

    with pytest.raises(ValueError, match="item 7"):
        T.parallel(fail_on_7, range(20))
    out = np.zeros(20)
    T.parallel(lambda i: out.__setitem__(i, i), range(20))
    np.testing.assert_array_equal(out, np.arange(20))


def test_pool_threads_have_their_own_workspace_and_the_pool_follows_set_threads():
    lk.set_threads(2)
    found, lock = {}, threading.Lock()

    def note(_):
        with lock:
            found[T.in_worker()] = fast.own_workspace(fast.WORKSPACE)

    T.parallel(note, range(200))
    assert found[False] is fast.WORKSPACE
    if True in found:                                  # the pool thread took at least one item
        assert isinstance(found[True], fast.Workspace) and found[True] is not fast.WORKSPACE
    assert T._state["workers"] == 1
    lk.set_threads(3)
    assert T._state["pool"] is None                   # re-created at its new size when needed
    T.parallel(note, range(4))
    assert T._state["workers"] == 2


def test_batchwise_shares_the_batch_only_when_it_is_worth_it(monkeypatch):
    calls, lock = [], threading.Lock()

    def note(a, out):
        with lock:
            calls.append((len(a), T.in_worker()))
        out[...] = 2 * a

    a, out = np.arange(10.0), np.zeros(10)
    with lk.using_threads(3):
        T.batchwise(note, a, out)                     # 80 bytes: one slice, one call
        assert calls == [(10, False)]
        monkeypatch.setattr(T, "PASS_BYTES", 24)     # slices of 3 samples, on this thread only
        T.batchwise(note, a, out)
        assert calls[1:] == [(3, False), (3, False), (3, False), (1, False)]
        monkeypatch.setattr(T, "MIN_SHARE_BYTES", 1)  # now worth sharing: the same slices
        T.batchwise(note, a, out)
        assert sorted(n for n, _ in calls[5:]) == [1, 3, 3, 3]
    np.testing.assert_array_equal(out, 2 * a)


def test_batch_slices_follow_the_largest_array(monkeypatch):
    monkeypatch.setattr(T, "PASS_BYTES", 100)
    small, large = np.zeros((10, 2), np.float32), np.zeros((10, 5), np.float32)   # 8, 20 B/sample
    assert [(s.start, s.stop) for s in T.batch_slices([small, large])] == [(0, 5), (5, 10)]
    monkeypatch.setattr(T, "PASS_BYTES", 1)                                       # ≥ 1 sample
    assert len(T.batch_slices([small])) == 10


def _whole_or_sliced(layer, x, dy):
    """One forward and backward of ``layer``: y, dx."""
    y = layer.forward(x, training=True)
    return y, layer.backward(dy(y.shape))


@pytest.mark.parametrize("layer", [lk.MaxPool2D(2), lk.MaxPool2D(3, 1), lk.AvgPool2D(3, 2),
                                   lk.AvgPool2D(2), lk.LKReLU()], ids=repr)
def test_cache_sized_slices_compute_what_the_whole_batch_computes(layer, rng, monkeypatch):
    """At one thread the elementwise passes run on slices of the batch (``batchwise``): bit for
    bit the whole batch's result, for slices of one sample and of a few."""
    x = np.round(rng.standard_normal((13, 3, 9, 9)), 1).astype(np.float32)    # ties, zeros
    dy = lambda shape: np.sin(np.arange(np.prod(shape), dtype=np.float32)).reshape(shape)  # noqa
    counts, slices = [], T.batch_slices
    monkeypatch.setattr(T, "batch_slices", lambda arrays: counts.append(len(slices(arrays)))
                        or slices(arrays))
    with lk.using_threads(1):
        monkeypatch.setattr(T, "PASS_BYTES", 10 ** 12)
        whole = _whole_or_sliced(layer, x, dy)
        assert counts and max(counts) == 1
        for size in (1, 2000):
            monkeypatch.setattr(T, "PASS_BYTES", size)
            counts.clear()
            assert_bitwise(_whole_or_sliced(layer, x, dy), whole, f"{layer!r}, slices of {size} B")
            assert len(counts) == 2 and min(counts) > 2, f"forward and backward in slices: {counts}"


def test_a_returned_result_keeps_the_whole_batchs_dtype(rng, monkeypatch):
    """``batchwise(..., like=)``: the result's dtype is the one fn gives (float64 dy on float32
    z: float64, as on the whole batch), however many slices."""
    z = rng.standard_normal((16, 3, 4, 4)).astype(np.float32)
    dy = rng.standard_normal((16, 6, 4, 4))                                  # float64
    layer = lk.LKReLU()
    layer.forward(z, training=True)
    want = layer.backward(dy)
    monkeypatch.setattr(T, "PASS_BYTES", 64)
    got = layer.backward(dy)
    assert want.dtype == got.dtype == np.float64
    assert_bitwise([got], [want], "LK-ReLU dx on slices")


class _OffTheCPU(np.ndarray):
    """An array batchwise must not cut (its type's module is not numpy, as CuPy's is not)."""


def test_batchwise_calls_once_for_arrays_off_the_cpu_or_one_sample(monkeypatch):
    monkeypatch.setattr(T, "PASS_BYTES", 1)
    calls = []

    def note(a):
        calls.append(len(a))
        return a * 2

    a = np.arange(12.0).reshape(6, 2)
    np.testing.assert_array_equal(T.batchwise(note, a.view(_OffTheCPU), like=a), 2 * a)
    T.batchwise(note, a[:1], like=a[:1])
    assert calls == [6, 1]
    np.testing.assert_array_equal(T.batchwise(note, a, like=a), 2 * a)    # sliced: 6 calls
    assert calls[2:] == [1] * 6


def test_an_adam_step_on_slices_is_the_whole_arrays_step(rng, monkeypatch):
    grads = [rng.standard_normal((30, 20)).astype(np.float32) for _ in range(3)]

    def run():
        model = lk.Dense(30, 20, rng=0)
        opt = lk.Adam(model, lr=0.01)
        for g in grads:
            model.grads["W"][...], model.grads["b"][...] = g, g[0]
            opt.step()
        return [model.params["W"].copy(), model.params["b"].copy()]

    with lk.using_threads(1):
        monkeypatch.setattr(T, "PASS_BYTES", 10 ** 12)
        whole = run()
        monkeypatch.setattr(T, "PASS_BYTES", 100)                  # 25 parameters per slice
        assert_bitwise(run(), whole, "Adam on slices of 100 bytes")


def _sum_on_the_pool(_):
    out = np.zeros(8)
    T.parallel(lambda i: out.__setitem__(i, i), range(8))
    return out.sum()


def test_a_forked_child_starts_its_own_pool():
    """A child forked after the pool started (tutorials' --jobs) must not wait for the parent's
    threads, which it does not have."""
    import multiprocessing
    lk.set_threads(2)
    assert _sum_on_the_pool(None) == 28                # the parent's pool exists now
    with multiprocessing.get_context("fork").Pool(1) as children:
        assert children.map_async(_sum_on_the_pool, [0]).get(timeout=20) == [28]


def test_pieces_fit_the_chunks_and_an_unshared_pass_keeps_the_chunks(monkeypatch):
    monkeypatch.setattr(fast, "MIN_PIECE_BYTES", 1)
    size = fast.CHUNK_BYTES // 4                                   # 4 samples a chunk
    assert fast.batch_pieces(np, 10, size) == list(fast.batch_chunks(np, 10, size))
    assert fast.batch_pieces(np, 10, 1, whole=True) == [slice(0, 10)]
    with lk.using_threads(2):
        pieces = fast.batch_pieces(np, 10, size, shared=True)     # 3 chunks → 4 pieces of ≤ 3
        assert [(p.start, p.stop) for p in pieces] == [(0, 3), (3, 6), (6, 9), (9, 10)]
        assert fast.batch_pieces(np, 0, 100, shared=True) == []
        assert fast.batch_pieces(np, 10, size) == list(fast.batch_chunks(np, 10, size))
    monkeypatch.setattr(fast, "MIN_PIECE_BYTES", 10 ** 9)
    with lk.using_threads(2):
        assert fast.batch_pieces(np, 10, 100, shared=True) == [slice(0, 10)]   # too small to cut


def test_a_small_pass_keeps_its_chunks_on_the_calling_thread(monkeypatch):
    """A pass of less than SHARE_SECONDS of work runs as at one thread, even at two: the
    cache-sized chunks, in order, on this thread (the pool is not asked)."""
    seen = []

    def body(piece, work):
        seen.append((piece.start, piece.stop, T.in_worker(), work))

    size = fast.CHUNK_BYTES // 4                                    # 4 samples a chunk
    with lk.using_threads(2), monkeypatch.context() as m:
        m.setattr(fast, "parallel", lambda fn, items: pytest.fail("a small pass was shared"))
        assert not fast.shared_pass(np, 12, size)                   # 9 MiB of copy: ~0.5 ms
        fast.run_batch(body, np, 12, size, work="mine")
    assert seen == [(0, 4, False, "mine"), (4, 8, False, "mine"), (8, 12, False, "mine")]
    with lk.using_threads(2):
        assert fast.shared_pass(np, 12, size, flops_per_sample=2 * 10 ** 7)   # + 240 MFLOP
        assert fast.shared_pass(np, 40, size)                                   # 30 MiB
    with lk.using_threads(1):
        assert not fast.shared_pass(np, 10 ** 6, size, 10 ** 9)
