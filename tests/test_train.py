"""fit / evaluate / predict: learning, reproducibility, the non-finite stop, input checks."""
import numpy as np
import pytest

import linkedref as lk
import linkedref.backend as B
from linkedref.layer import Layer, Sequential
from linkedref.losses import MSE, SoftmaxCrossEntropy
from linkedref.optim import SGD, Adam, StepSchedule
from linkedref.train import History, evaluate, fit, predict


class Affine(Layer):
    """y = x W + b, W (in, out). (Test-only; independent of linkedref.dense.)"""

    def __init__(self, d_in, d_out, seed):
        super().__init__()
        rng = np.random.default_rng(seed)
        W = rng.standard_normal((d_in, d_out)) / np.sqrt(d_in)
        self.params = {"W": B.asarray(W, self.dtype),
                       "b": B.xp().zeros(d_out, dtype=self.dtype)}
        self.grads = {k: v * 0 for k, v in self.params.items()}

    def forward(self, x, training=False):
        self.cache = x
        return x @ self.params["W"] + self.params["b"]

    def backward(self, dy, need_dx=True):
        x = self.saved()
        self.grads["W"] = x.T @ dy
        self.grads["b"] = dy.sum(axis=0)
        return dy @ self.params["W"].T


class Relu(Layer):
    def forward(self, x, training=False):
        self.cache = x > 0
        return x * self.cache

    def backward(self, dy, need_dx=True):
        return dy * self.saved()


class Poison(Layer):
    """Passes x through, but outputs NaN from its (after+1)-th training forward on."""

    def __init__(self, after):
        super().__init__()
        self.after, self.calls = after, 0

    def forward(self, x, training=False):
        self.calls += training
        self.cache = True
        return x * np.nan if training and self.calls > self.after else x

    def backward(self, dy, need_dx=True):
        return dy


def _problem(n=64, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 2))
    return X, (X[:, 0] * X[:, 1] > 0).astype(np.int64)       # XOR-like quadrants


def _net(seed=1):
    return Sequential([Affine(2, 16, seed), Relu(), Affine(16, 2, seed + 1)])


@pytest.mark.slow
def test_fit_learns_and_history_is_a_dict_of_lists():
    X, y = _problem(128)
    model = _net()
    h = fit(model, SoftmaxCrossEntropy(), Adam(model, lr=0.02), X, y, epochs=20, batch_size=16,
            validation=(X, y), progress=False)
    assert isinstance(h, History) and isinstance(h, dict)
    assert list(h) == ["loss", "accuracy", "val_loss", "val_accuracy", "seconds"]
    assert all(len(v) == 20 for v in h.values()) and h.epochs == 20
    assert h["loss"][-1] < 0.6 * h["loss"][0] and h["accuracy"][-1] > 0.85
    assert "val_accuracy" in str(h) and len(str(h).splitlines()) == 21
    loss, acc = evaluate(model, SoftmaxCrossEntropy(), X, y)
    assert loss == pytest.approx(h["val_loss"][-1]) and acc == pytest.approx(h["val_accuracy"][-1])


@pytest.mark.slow
def test_same_seed_same_history_different_seed_different():
    X, y = _problem()

    def run(seed):
        model = _net()
        h = fit(model, SoftmaxCrossEntropy(), SGD(model, lr=0.1, momentum=0.9), X, y, epochs=3,
                batch_size=8, seed=seed, progress=False)
        return {k: v for k, v in h.items() if k != "seconds"}

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_regression_history_has_no_accuracy():
    X, _ = _problem()
    t = X @ np.array([[1.0], [-2.0]])
    model = Affine(2, 1, 0)
    h = fit(model, MSE(), SGD(model, lr=0.1), X, t, epochs=3, progress=False)
    assert list(h) == ["loss", "seconds"] and h["loss"][-1] < h["loss"][0]
    loss, acc = evaluate(model, MSE(), X, t)
    assert acc is None and loss < h["loss"][0]


def test_evaluate_and_predict_match_one_full_forward():
    X, y = _problem(50)
    model = _net()
    out = B.to_numpy(model.forward(B.asarray(X, dtype="float32")))
    pred = predict(model, X, batch_size=16)
    assert isinstance(pred, np.ndarray) and pred.shape == (50, 2)
    np.testing.assert_allclose(pred, out, rtol=1e-6)
    loss, acc = evaluate(model, SoftmaxCrossEntropy(), X, y, batch_size=16)
    z = out - out.max(axis=1, keepdims=True)
    ref = (np.log(np.exp(z).sum(axis=1)) - z[np.arange(50), y]).mean()
    assert loss == pytest.approx(ref, rel=1e-5)
    assert acc == pytest.approx((out.argmax(axis=1) == y).mean())


def test_optimizer_sees_every_epoch_and_the_schedule_applies():
    X, y = _problem(16)
    model = _net()
    opt = SGD(model, lr=0.1, schedule=StepSchedule({2: 0.5}))
    seen = []
    step = opt.step
    opt.step = lambda: (seen.append((opt.epoch, opt.current_lr)), step())[1]
    fit(model, SoftmaxCrossEntropy(), opt, X, y, epochs=3, batch_size=8, progress=False)
    assert seen == [(0, 0.1), (0, 0.1), (1, 0.1), (1, 0.1), (2, 0.05), (2, 0.05)]


def test_non_finite_loss_names_epoch_step_and_layer():
    X, y = _problem(40)                                 # 5 steps of 8 per epoch
    model = Sequential([Affine(2, 4, 0), Relu(), Poison(after=7), Affine(4, 2, 1)])
    before = B.to_numpy(model.params["3.W"]).copy()
    with pytest.raises(FloatingPointError) as err:
        fit(model, SoftmaxCrossEntropy(), SGD(model), X, y, epochs=3, batch_size=8, progress=False,
            sync_every=1)                               # exact on any backend
    msg = str(err.value)
    assert "epoch 2 of 3, step 3 of 5" in msg
    assert "layer 2 (Poison())" in msg and "parameters are finite" in msg
    assert np.isfinite(B.to_numpy(model.params["3.W"])).all()   # the bad step was not applied
    assert not np.array_equal(B.to_numpy(model.params["3.W"]), before)


def test_non_finite_layer_inside_a_nested_sequential():
    X, y = _problem(16)
    model = Sequential([Affine(2, 4, 0), Sequential([Relu(), Poison(after=0)]), Affine(4, 2, 1)])
    with pytest.raises(FloatingPointError, match=r"epoch 1 of 1, step 1 of 2.*layer 1\.1 \(Poison"):
        fit(model, SoftmaxCrossEntropy(), SGD(model), X, y, epochs=1, batch_size=8, progress=False,
            sync_every=1)


def test_numpy_stops_at_the_bad_step_whatever_sync_every_says():
    if B.get_backend() != "numpy":
        pytest.skip("NumPy's behaviour (a GPU reads every sync_every steps)")
    X, y = _problem(40)
    model = Sequential([Affine(2, 4, 0), Poison(after=1), Affine(4, 2, 1)])
    with pytest.raises(FloatingPointError) as err:
        fit(model, SoftmaxCrossEntropy(), SGD(model), X, y, epochs=1, batch_size=8,
            progress=False, sync_every=4)
    assert "step 2 of 5" in str(err.value) and "read at" not in str(err.value)
    assert np.isfinite(B.to_numpy(model.params["2.W"])).all()   # the bad step was not applied


def test_delayed_read_says_so(monkeypatch):
    monkeypatch.setattr(B, "on_device", lambda: True)          # as on a GPU
    X, y = _problem(40)
    model = Sequential([Affine(2, 4, 0), Poison(after=1), Affine(4, 2, 1)])
    with pytest.raises(FloatingPointError, match=r"step 2 of 5 \(read at step 4;.*sync_every=1"):
        fit(model, SoftmaxCrossEntropy(), SGD(model), X, y, epochs=1, batch_size=8,
            progress=False, sync_every=4)


def test_progress_bar_and_epoch_lines(capsys):
    X, y = _problem(16)
    model = _net()
    fit(model, SoftmaxCrossEntropy(), SGD(model), X, y, epochs=2, batch_size=8, progress=False)
    assert capsys.readouterr() == ("", "")
    fit(model, SoftmaxCrossEntropy(), SGD(model), X, y, epochs=2, batch_size=8, progress=True)
    out = capsys.readouterr().out
    assert "epoch 1/2  loss" in out and "epoch 2/2" in out and "accuracy" in out


@pytest.mark.parametrize("change, error, match", [
    (lambda X, y: (np.where(np.arange(len(X))[:, None] == 5, np.nan, X), y), ValueError,
     "fit: X contains NaN or inf \\(first at sample 5\\)"),
    (lambda X, y: (X, y[:-1]), ValueError, "fit: X has 16 samples but y has 15"),
    (lambda X, y: (X, y + 1), ValueError, r"fit: labels must lie in \[0, 2\).*label 2"),
    (lambda X, y: (X, y - 1), ValueError, "fit: labels must be ≥ 0"),
    (lambda X, y: (X, y.astype(float)), TypeError, "fit: expected integer class labels"),
    (lambda X, y: (X[:, 0], y), ValueError, "fit: expected X of shape"),
    (lambda X, y: (X[:, :1], y), ValueError, "Affine|shape|matmul"),
])
def test_bad_inputs_are_caught_up_front(change, error, match):
    X, y = _problem(16)
    model = _net()
    before = B.to_numpy(model.params["0.W"]).copy()
    X2, y2 = change(X, y)
    with pytest.raises(error, match=match):
        fit(model, SoftmaxCrossEntropy(), SGD(model), X2, y2, epochs=1, progress=False)
    np.testing.assert_array_equal(B.to_numpy(model.params["0.W"]), before)   # nothing trained


@pytest.mark.parametrize("kwargs, match", [
    (dict(epochs=0), "epochs must be"),
    (dict(epochs=1, batch_size=0), "batch_size must be"),
    (dict(epochs=1, sync_every=0), "sync_every must be"),
    (dict(epochs=1, validation=(np.zeros((3, 2)),)), "validation must be a pair"),
])
def test_bad_arguments(kwargs, match):
    X, y = _problem(16)
    model = _net()
    with pytest.raises((ValueError, TypeError), match=match):
        fit(model, SoftmaxCrossEntropy(), SGD(model), X, y, progress=False, **kwargs)


@pytest.mark.slow
def test_with_the_library_layers():
    X, y = _problem(128)
    model = Sequential([lk.Dense(2, 16, rng=0), lk.LKReLU(), lk.Dense(32, 2, rng=1)])
    h = fit(model, SoftmaxCrossEntropy(), Adam(model, lr=0.02), X, y, epochs=15, batch_size=16,
            progress=False)
    assert h["accuracy"][-1] > 0.85


def test_batches_follow_the_model_dtype():
    X, y = _problem(16)
    model = _net().astype("float64")                   # default dtype stays float32
    fit(model, SoftmaxCrossEntropy(), SGD(model), X, y, epochs=1, progress=False)
    assert model.params["0.W"].dtype == np.float64 and predict(model, X).dtype == np.float64


# ------------------------------------------------------------------- mistakes refused up front
def test_an_optimizer_of_another_model_is_refused():
    X, y = _problem(16)
    model, other = _net(1), _net(2)
    before = B.to_numpy(model.params["0.W"]).copy()
    with pytest.raises(ValueError, match="built on another model"):
        fit(model, SoftmaxCrossEntropy(), Adam(other), X, y, epochs=1, progress=False)
    np.testing.assert_array_equal(B.to_numpy(model.params["0.W"]), before)


@pytest.mark.parametrize("what", ["loss", "optimizer"])
def test_a_class_instead_of_an_instance_is_refused(what):
    X, y = _problem(16)
    model = _net()
    args = {"loss": SoftmaxCrossEntropy(), "optimizer": SGD(model)}
    args[what] = {"loss": SoftmaxCrossEntropy, "optimizer": Adam}[what]
    with pytest.raises(TypeError, match=f"fit: {what} is the class .*not an instance"):
        fit(model, args["loss"], args["optimizer"], X, y, epochs=1, progress=False)


def test_wrong_number_of_features_names_the_users_shape():
    X, y = _problem(16)
    model = Sequential([lk.Dense(3, 2, rng=0)])
    with pytest.raises(ValueError, match=r"samples of shape \(2,\) \(X has shape \(16, 2\)\)"):
        fit(model, SoftmaxCrossEntropy(), SGD(model), X, y, epochs=1, progress=False)


def test_a_diverging_loss_warns():
    X, y = _problem(64)
    model = _net()
    with pytest.warns(RuntimeWarning, match="diverging"):
        fit(model, SoftmaxCrossEntropy(), Adam(model, lr=1e3), X, y, epochs=6, batch_size=8,
            progress=False)


def test_a_calm_run_gives_no_warning(recwarn):
    X, y = _problem(64)
    model = _net()
    fit(model, SoftmaxCrossEntropy(), Adam(model, lr=1e-2), X, y, epochs=3, progress=False)
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_a_trained_net_whose_first_batch_is_easy_gives_no_false_alarm(recwarn):
    """An epoch started on an almost-zero loss (1e-4, a well-trained net) with a harder batch
    later is not divergence: the scale of a classification loss is at least ln K."""
    class Easy(SoftmaxCrossEntropy):
        calls = 0

        def forward(self, logits, labels):
            Easy.calls += 1
            value = super().forward(logits, labels)
            if Easy.calls == 1:                  # fit's probe: an all-zero output, ln K
                return value
            return value * 0 + (1e-4 if Easy.calls == 2 else 0.5)

    X, y = _problem(64)
    model = _net()
    fit(model, Easy(), SGD(model, lr=1e-3), X, y, epochs=1, batch_size=8, progress=False)
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_progress_is_one_bar_on_a_terminal(monkeypatch, capsys):
    import io

    import linkedref.progress as P

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    fake = Terminal()
    monkeypatch.setattr(P.sys, "stderr", fake)
    X, y = _problem(16)
    model = _net()
    fit(model, SoftmaxCrossEntropy(), SGD(model), X, y, epochs=3, batch_size=8, progress=True)
    assert capsys.readouterr().out == ""                  # no epoch lines beside the bar
    assert "6/6" in fake.getvalue()                       # one bar over 3 epochs × 2 steps


def test_the_weight_check_sees_one_nan_and_forgives_a_sum_that_only_overflows():
    from linkedref.train import stop_if_weights_non_finite
    model = Sequential([lk.Dense(4, 3, rng=0)])
    opt = Adam(model)
    model.forward(B.xp().ones((2, 4), dtype=np.float32), training=True)
    model.backward(B.xp().ones((2, 3), dtype=np.float32), need_dx=False)
    opt.step()
    model.params["0.W"][...] = 3e38                    # finite, but its sum overflows float32
    with np.errstate(over="ignore"):
        stop_if_weights_non_finite(model, opt, (0, 1), (0, 1), 20)
    opt.state["0.b"]["v"][1] = np.inf
    with pytest.raises(FloatingPointError, match=r"parameter '0.b' became non-finite \(Adam's "
                                                 r"state 'v'\) by epoch 1 of 1, step 1 of 1 \("), \
            np.errstate(over="ignore"):
        stop_if_weights_non_finite(model, opt, (0, 1), (0, 1), 20)
