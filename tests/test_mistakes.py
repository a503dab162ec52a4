"""The mistakes a newcomer makes, made the way a user makes them: each gets a message that names
the cause and the fix, and the silent ones stop training. A test per message, asserting on its
point: the layer, the unit that multiplies the width, the parameter, the hint."""
import copy
import math
import warnings

import numpy as np
import pytest

import linkedref as lk
import linkedref.backend as B


def mlp(hidden_in=32, rng=0):
    """The classic mistake: Dense(30, 32), LKReLU, Dense(32, 2), forgetting that LK-ReLU doubles."""
    return lk.Sequential([lk.Dense(30, 32, rng=rng), lk.LKReLU(), lk.Dense(hidden_in, 2, rng=rng)])


def csv_like(n=343, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 30)).astype(np.float32)
    return X, (X[:, :3].sum(axis=1) > 0.5).astype(np.int64)


WIDTH = r"layer 2 Dense\(32 → 2\) gets 64 features: LKReLU at layer 1 doubles its 32 inputs; " \
        r"build it as Dense\(64, 2\)"


# ------------------------------------------------------------------ 1. the width a unit doubles
def test_forward_names_the_layer_and_the_unit_that_doubled_its_width():
    with pytest.raises(ValueError, match=WIDTH):
        mlp().forward(B.asarray(csv_like(4)[0]))


@pytest.mark.parametrize("call", ["fit", "evaluate", "predict"])
def test_fit_evaluate_predict_blame_the_model_not_the_data(call):
    X, y = csv_like(16)
    model = mlp()
    run = {"fit": lambda: lk.fit(model, lk.SoftmaxCrossEntropy(), lk.Adam(model), X, y,
                                 epochs=1, progress=False),
           "evaluate": lambda: lk.evaluate(model, lk.SoftmaxCrossEntropy(), X, y),
           "predict": lambda: lk.predict(model, X)}[call]
    with pytest.raises(ValueError) as err:
        run()
    assert str(err.value).startswith(f"{call}: the model's layers do not fit together: ")
    assert "samples of shape" not in str(err.value)
    assert "LKReLU at layer 1 doubles its 32 inputs; build it as Dense(64, 2)" in str(err.value)


def test_the_data_are_blamed_when_the_first_layer_does_not_fit():
    X, y = csv_like(16)
    model = mlp()
    with pytest.raises(ValueError, match=r"fit: the model does not take samples of shape \(29,\)"
                                         r".*layer 0 Dense\(30 → 32\) gets 29 features"):
        lk.fit(model, lk.SoftmaxCrossEntropy(), lk.Adam(model), X[:, 1:], y, epochs=1,
               progress=False)


def test_summary_names_the_unit_too():
    with pytest.raises(ValueError, match=r"summary \(input_shape \(30,\)\): " + WIDTH):
        lk.summary(mlp(), (30,), print_fn=None)


def test_a_nested_container_names_the_path():
    block = lk.Sequential([lk.LKReLU(), lk.Dense(8, 8, rng=0)])
    model = lk.Sequential([lk.Dense(30, 8, rng=0), lk.Residual(block), lk.Dense(8, 2, rng=0)])
    with pytest.raises(ValueError, match=r"in layer 1 \(Residual\): layer 1 Dense\(8 → 8\) gets 16 "
                                         r"features: LKReLU at layer 0 doubles its 8 inputs"):
        lk.predict(model, csv_like(4)[0])


def test_a_conv_after_a_linked_unit_and_a_plain_misfit():
    model = lk.Sequential([lk.Conv2D(3, 4, 3, rng=0), lk.LKReLU(), lk.Conv2D(4, 4, 3, rng=0)])
    with pytest.raises(ValueError, match=r"layer 2 Conv2D\(4 → 4\) gets 8 channels: LKReLU at "
                                         r"layer 1 doubles .*build it as Conv2D\(8, 4, \.\.\.\)"):
        model.forward(B.xp().zeros((1, 3, 8, 8), dtype=np.float32))
    plain = lk.Sequential([lk.Dense(30, 32, rng=0), lk.ReLU(), lk.Dense(31, 2, rng=0)])
    with pytest.raises(ValueError, match=r"layer 2 Dense\(31 → 2\) gets 32 features; build it as "
                                         r"Dense\(32, 2\)$"):
        lk.predict(plain, csv_like(4)[0])


def test_a_float64_dy_into_a_float32_model_is_refused_as_a_float64_x_is():
    model = mlp(hidden_in=64)
    out = model.forward(B.asarray(csv_like(4)[0]), training=True)
    with pytest.raises(TypeError, match=r"Dense: dy has dtype float64, the parameters float32: "
                                        r"their gradients would come out in float64; cast dy "
                                        r"with .astype\('float32'\)"):
        model.backward(B.xp().ones(out.shape, dtype=np.float64))


def test_a_flatten_between_the_unit_and_the_misfit_counts_the_units_channels():
    model = lk.Sequential([lk.Conv2D(1, 4, 3, rng=0), lk.LKReLU(), lk.Flatten(),
                           lk.Dense(144, 10, rng=0)])
    with pytest.raises(ValueError, match=r"layer 3 Dense\(144 → 10\) gets 288 features: LKReLU "
                                         r"at layer 1 doubles its 4 inputs; build it as "
                                         r"Dense\(288, 10\)"):
        model.forward(B.xp().zeros((2, 1, 8, 8), dtype=np.float32))


def test_a_dense_given_images_is_told_to_flatten_and_sequential_takes_one_list():
    model = lk.Sequential([lk.Dense(64, 10, rng=0)])
    with pytest.raises(ValueError, match=r"layer 0 Dense\(64 → 10\) gets 1 channels \(the input "
                                         r"has shape \(4, 1, 8, 8\)\) \(a Dense takes \(N, "
                                         r"features\): put lk.Flatten\(\) before it\)"):
        model.forward(B.xp().zeros((4, 1, 8, 8), dtype=np.float32))
    with pytest.raises(TypeError, match=r"Sequential: pass the layers as one list, "
                                        r"Sequential\(\[layer, layer, \.\.\.\]\); got 2"):
        lk.Sequential(lk.Dense(4, 2, rng=0), lk.ReLU())


def test_a_backward_of_the_wrong_shape_is_named_by_the_layer_that_returned_it():
    class Doubled(lk.Activation):                  # backward forgets to fold the two halves
        expansion = 2

        def forward(self, x, training=False):
            y = B.get_array_module(x).concatenate([x, -x], axis=1)
            self.save_for_backward(x, output_shape=y.shape)
            return y

        def backward(self, dy, need_dx=True):
            self.saved(dy)
            return dy

    model = lk.Sequential([lk.Dense(30, 4, rng=0), Doubled(), lk.Dense(8, 2, rng=0)])
    with pytest.raises(ValueError, match=r"layer 1 \(Doubled\).backward returned dL/dx of shape "
                                         r"\(\d+, 8\), but its input had shape \(\d+, 4\)"):
        lk.fit(model, lk.SoftmaxCrossEntropy(), lk.Adam(model), *csv_like(64), epochs=1,
               progress=False)


# ------------------------------------------------------------------- 2. no silent divergence
def test_inputs_scaled_by_1e30_stop_fit_naming_adams_state():
    """The issue's case: Adam's v overflows (g² > float32's max) while every parameter stays
    finite, so the updates are 0 and accuracy freezes. Now fit stops, naming the parameter."""
    X, y = csv_like()
    model = mlp(64)
    with np.errstate(over="ignore"), pytest.raises(FloatingPointError) as err:
        lk.fit(model, lk.SoftmaxCrossEntropy(), lk.Adam(model), X * 1e30, y, epochs=3,
               progress=False)
    msg = str(err.value)
    assert "parameter '0.W' became non-finite (Adam's state 'v') by epoch 1 of 3, step 11 of 11" \
        in msg and "optimizer's state overflowed" in msg and "Standardise X" in msg


def test_sync_every_one_finds_the_exact_step():
    X, y = csv_like()
    model = mlp(64)
    with np.errstate(over="ignore"), pytest.raises(FloatingPointError, match="step 1 of 11: "):
        lk.fit(model, lk.SoftmaxCrossEntropy(), lk.Adam(model), X * 1e30, y, epochs=1,
               progress=False, sync_every=1)


class BadGrad(lk.Layer):
    """A user's layer whose backward leaves a NaN gradient (its loss stays finite)."""

    def __init__(self):
        super().__init__()
        self.params = {"s": B.xp().ones(1, dtype=self.dtype)}
        self.grads = {"s": B.xp().zeros(1, dtype=self.dtype)}

    def forward(self, x, training=False):
        self.save_for_backward(None, output_shape=x.shape)
        return x

    def backward(self, dy, need_dx=True):
        self.saved(dy)
        self.grads["s"] = B.xp().full(1, np.nan, dtype=self.dtype)
        return dy


def test_a_non_finite_gradient_is_named():
    X, y = csv_like(64)
    model = lk.Sequential([lk.Dense(30, 2, rng=0), BadGrad()])
    with pytest.raises(FloatingPointError, match=r"parameter '1.s' became non-finite \(its "
                                                 r"value, its gradient, SGD's state 'v'\) by epoch "
                                                 r"1 of 1, step 2 of 2.*check the backward of"):
        lk.fit(model, lk.SoftmaxCrossEntropy(), lk.SGD(model, momentum=0.9), X, y, epochs=1,
               progress=False)


def test_a_loss_huge_from_the_start_warns_and_says_so():
    X, y = csv_like()
    model = mlp(64)
    with pytest.warns(RuntimeWarning, match="huge from the start.*Standardise X"):
        lk.fit(model, lk.SoftmaxCrossEntropy(), lk.Adam(model), X * 1e8, y, epochs=1,
               progress=False)


# ----------------------------------------------------------------- 3. fit that continues
def test_fit_one_epoch_at_a_time_trains_as_one_call():
    X, y = csv_like(64)

    def train(calls):
        model = mlp(64)
        opt = lk.SGD(model, lr=0.1, momentum=0.9, schedule=lk.StepSchedule({2: 0.1}))
        losses = [lk.fit(model, lk.SoftmaxCrossEntropy(), opt, X, y, epochs=4 // calls,
                         batch_size=16, progress=False)["loss"] for _ in range(calls)]
        return sum(losses, []), B.to_numpy(model.params["2.W"]), opt

    together, w_together, _ = train(1)
    apart, w_apart, opt = train(4)
    assert opt.epoch == 4 and opt.current_lr == pytest.approx(0.01)   # the schedule moved on
    np.testing.assert_array_equal(w_apart, w_together)                # and the shuffling too
    assert apart == together


def test_early_stopping_recipe_of_fits_docstring():
    X, y = csv_like(200)
    Xv, yv = csv_like(100, seed=1)
    model = mlp(64)
    loss, opt = lk.SoftmaxCrossEntropy(), lk.Adam(model, lr=0.05)
    best, wait, seen = math.inf, 0, []
    while wait < 5:
        h = lk.fit(model, loss, opt, X, y, epochs=1, validation=(Xv, yv), progress=False)
        wait += 1
        if h["val_loss"][0] < best:
            best, wait, kept = h["val_loss"][0], 0, copy.deepcopy(model)
        seen.append(h["val_loss"][0])
    model = kept
    assert len(seen) < 60 and min(seen[-5:]) >= best                    # it stopped on patience
    assert lk.evaluate(model, loss, Xv, yv)[0] == pytest.approx(best, rel=1e-5)
    assert "copy.deepcopy(model)" in lk.fit.__doc__ and "while wait < 5" in lk.fit.__doc__


# -------------------------------------------------------------------------- 4. threads
def test_set_threads_above_one_warns_once_that_only_data_parallel_uses_them(monkeypatch):
    threads = lk.fast.threads
    monkeypatch.setitem(threads._state, "warned", False)
    before = threads._state["threads"]
    try:
        with pytest.warns(UserWarning, match=r"lk\.fast\.DataParallel\(model\) trains on 2 "
                                             r"threads; a model not wrapped in it trains on one"):
            lk.set_threads(2)
        with warnings.catch_warnings(record=True) as log:
            warnings.simplefilter("always")
            lk.set_threads(2)
        assert not log                                                   # once
    finally:
        lk.set_threads(before)
    assert "DataParallel" in lk.set_threads.__doc__


# ------------------------------------------------------------------------------ 5. labels
@pytest.mark.parametrize("dtype", [np.float32, np.int64])
def test_one_hot_labels_get_the_argmax_hint(dtype):
    X, y = csv_like(16)
    model = mlp(64)
    with pytest.raises(ValueError, match=r"one-hot labels\? .*pass y\.argmax\(1\)"):
        lk.fit(model, lk.SoftmaxCrossEntropy(), lk.Adam(model), X, np.eye(2, dtype=dtype)[y],
               epochs=1, progress=False)


def test_one_output_for_classes_names_softmax_cross_entropy():
    X, y = csv_like(16)
    model = lk.Sequential([lk.Dense(30, 8, rng=0), lk.LKReLU(), lk.Dense(16, 1, rng=0)])
    with pytest.raises(ValueError, match="fit: the model has 1 output, but SoftmaxCrossEntropy "
                                         "needs one output per class"):
        lk.fit(model, lk.SoftmaxCrossEntropy(), lk.Adam(model), X, y, epochs=1, progress=False)


# --------------------------------------------------------------------------- 6. one seed
@pytest.fixture
def seeded():
    yield lk.seed
    lk.seed(None)


def test_one_seed_repeats_weights_dropout_and_shuffling(seeded):
    X, y = csv_like(64)

    def run(n):
        seeded(n)
        model = lk.Sequential([lk.Dense(30, 16), lk.LKReLU(), lk.Dropout(0.3), lk.Dense(32, 2)])
        h = lk.fit(model, lk.SoftmaxCrossEntropy(), lk.Adam(model), X, y, epochs=2,
                   progress=False)
        return h["loss"], B.to_numpy(model.params["3.W"])

    (loss_a, w_a), (loss_b, w_b), (loss_c, _) = run(7), run(7), run(8)
    assert loss_a == loss_b and np.array_equal(w_a, w_b) and loss_a != loss_c
    seeded(None)
    assert not np.array_equal(B.to_numpy(lk.Dense(4, 4).params["W"]),
                              B.to_numpy(lk.Dense(4, 4).params["W"]))


def test_seed_refuses_a_non_integer(seeded):
    with pytest.raises(TypeError, match="seed: expected an int or None"):
        seeded(1.5)
