"""Optimizers: one or two steps of each equal the Keras 2 update computed by hand."""
import math

import numpy as np
import pytest

import linkedref.backend as B
from linkedref.optim import SGD, Adam, RMSProp, StepSchedule


class Model:
    """params/grads dicts, nothing else — all an optimizer needs. (Test-only.)"""

    def __init__(self, rng, dtype="float32"):
        self.params = {"w": B.asarray(rng.standard_normal((3, 2)), dtype=dtype),
                       "b": B.asarray(rng.standard_normal(2), dtype=dtype)}
        self.grads = {k: B.asarray(rng.standard_normal(v.shape), dtype=dtype)
                      for k, v in self.params.items()}

    def host(self, store):
        return {k: B.to_numpy(v).astype(np.float64) for k, v in store.items()}


def _run(opt_factory, rng, steps=2, dtype="float64"):
    """Take ``steps`` steps with fresh gradients; return the params and grads seen at each."""
    model = Model(rng, dtype)
    opt = opt_factory(model)
    ids = {k: id(v) for k, v in model.params.items()}
    seen = [model.host(model.params)]
    grads = []
    for _ in range(steps):
        model.grads = {k: B.asarray(rng.standard_normal(v.shape), dtype=dtype)
                       for k, v in model.params.items()}      # new grad arrays each step
        grads.append(model.host(model.grads))
        opt.step()
        seen.append(model.host(model.params))
    assert {k: id(v) for k, v in model.params.items()} == ids      # updated in place
    assert all(v.dtype == np.dtype(dtype) for v in model.params.values())
    return seen, grads


def _check(opt_factory, by_hand, rng, steps=2, rtol=1e-12):
    seen, grads = _run(opt_factory, rng, steps)
    for key in seen[0]:
        expected = by_hand(seen[0][key], [g[key] for g in grads])
        for t in range(steps):
            np.testing.assert_allclose(seen[t + 1][key], expected[t], rtol=rtol, atol=1e-14,
                                       err_msg=f"{key} after step {t + 1}")


def test_sgd_plain(rng):
    def by_hand(p, gs):
        out = []
        for g in gs:
            p = p - 0.1 * g
            out.append(p)
        return out
    _check(lambda m: SGD(m, lr=0.1), by_hand, rng)


def test_sgd_momentum(rng):
    def by_hand(p, gs):
        v, out = 0 * p, []
        for g in gs:
            v = 0.9 * v - 0.1 * g
            p = p + v
            out.append(p)
        return out
    _check(lambda m: SGD(m, lr=0.1, momentum=0.9), by_hand, rng, steps=3)


def test_sgd_nesterov_keras_form(rng):
    def by_hand(p, gs):
        v, out = 0 * p, []
        for g in gs:
            v = 0.9 * v - 0.1 * g
            p = p + 0.9 * v - 0.1 * g
            out.append(p)
        return out
    _check(lambda m: SGD(m, lr=0.1, momentum=0.9, nesterov=True), by_hand, rng, steps=3)


def test_sgd_time_decay(rng):
    def by_hand(p, gs):
        out = []
        for t, g in enumerate(gs):                 # t = steps taken before this one
            p = p - 0.1 / (1 + 0.5 * t) * g
            out.append(p)
        return out
    _check(lambda m: SGD(m, lr=0.1, decay=0.5), by_hand, rng, steps=3)


def test_rmsprop(rng):
    def by_hand(p, gs):
        a, out = 0 * p, []
        for t, g in enumerate(gs):
            lr = 0.01 / (1 + 0.1 * t)
            a = 0.9 * a + 0.1 * g ** 2
            p = p - lr * g / (np.sqrt(a) + 1e-8)
            out.append(p)
        return out
    _check(lambda m: RMSProp(m, lr=0.01, decay=0.1), by_hand, rng, steps=3)


def test_adam_keras_bias_correction(rng):
    def by_hand(p, gs):
        m, v, out = 0 * p, 0 * p, []
        for i, g in enumerate(gs):
            t = i + 1
            lr = 0.01 / (1 + 0.1 * i)
            lr_t = lr * math.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)
            m = 0.9 * m + 0.1 * g
            v = 0.999 * v + 0.001 * g ** 2
            p = p - lr_t * m / (np.sqrt(v) + 1e-8)
            out.append(p)
        return out
    _check(lambda m: Adam(m, lr=0.01, decay=0.1), by_hand, rng, steps=3)


def test_adam_first_step_is_lr_times_sign(rng):
    """Keras Adam's first step is lr·g/(|g| + ε·...) ≈ lr·sign(g) — a classic sanity check."""
    model = Model(rng)
    before = model.host(model.params)
    Adam(model, lr=1e-3).step()
    for k, p in model.host(model.params).items():
        np.testing.assert_allclose(p - before[k], -1e-3 * np.sign(model.host(model.grads)[k]),
                                   rtol=1e-3)


def test_float32_stays_float32_and_same_objects(rng):
    for factory in (lambda m: SGD(m, momentum=0.5, nesterov=True), RMSProp, Adam):
        model = Model(rng, "float32")
        arrays = dict(model.params)
        factory(model).step()
        for k, v in model.params.items():
            assert v is arrays[k] and v.dtype == np.float32


def test_step_schedule_factors():
    s = StepSchedule({4: 0.01, 2: 0.1})
    assert [s(e) for e in range(6)] == [1.0, 1.0, 0.1, 0.1, 0.01, 0.01]


def test_schedule_and_decay_combine(rng):
    model = Model(rng)
    opt = SGD(model, lr=0.1, decay=0.5, schedule=StepSchedule({1: 0.1}))
    assert opt.current_lr == pytest.approx(0.1)
    opt.step()
    assert opt.current_lr == pytest.approx(0.1 / 1.5)
    opt.set_epoch(1)
    assert opt.current_lr == pytest.approx(0.1 * 0.1 / 1.5)
    before = model.host(model.params)["w"]
    opt.step()
    after = model.host(model.params)["w"]
    np.testing.assert_allclose(after, before - 0.01 / 1.5 * model.host(model.grads)["w"], rtol=1e-6)


def test_parameters_created_after_the_first_step_get_state(rng):
    model = Model(rng)
    opt = Adam(model)
    opt.step()
    model.params["alpha"] = B.asarray(np.ones(4), dtype="float32")    # a lazily sized parameter
    model.grads["alpha"] = B.asarray(np.ones(4), dtype="float32")
    opt.step()
    assert set(opt.state) == {"w", "b", "alpha"}
    assert B.to_numpy(model.params["alpha"]).max() < 1


@pytest.mark.parametrize("make, match", [
    (lambda m: SGD(m, lr=0), "SGD: lr must be"),
    (lambda m: SGD(m, lr=float("nan")), "SGD: lr must be"),
    (lambda m: SGD(m, lr="0.1"), "SGD: lr must be"),
    (lambda m: SGD(m, momentum=1.0), "SGD: momentum must be"),
    (lambda m: SGD(m, nesterov=True), "SGD: nesterov=True needs momentum"),
    (lambda m: SGD(m, decay=-1), "SGD: decay must be"),
    (lambda m: RMSProp(m, rho=1.5), "RMSProp: rho must be"),
    (lambda m: RMSProp(m, eps=0), "RMSProp: eps must be"),
    (lambda m: Adam(m, beta1=-0.1), "Adam: beta1 must be"),
    (lambda m: Adam(m, beta2=1), "Adam: beta2 must be"),
    (lambda m: Adam(m, lr=-1e-3), "Adam: lr must be"),
])
def test_bad_hyperparameters(make, match, rng):
    with pytest.raises(ValueError, match=match):
        make(Model(rng))


def test_bad_models_and_schedules(rng):
    with pytest.raises(TypeError, match=r"Adam: pass the model itself \(its \.params and \.grads"):
        Adam(object())
    model = Model(rng)
    with pytest.raises(TypeError, match=r"Adam: pass the model itself .*got a dict"):
        Adam(model.params)                        # the Keras/PyTorch habit: the parameters
    with pytest.raises(TypeError, match="schedule must be callable"):
        SGD(Model(rng), schedule={10: 0.1})
    with pytest.raises(ValueError, match="StepSchedule: factors"):
        StepSchedule({10: 0})
    with pytest.raises(ValueError, match="StepSchedule: epochs"):
        StepSchedule({-1: 0.1})
    model = Model(rng)
    opt = SGD(model)
    del model.grads["b"]
    with pytest.raises(ValueError, match=r"different keys: \['b'\]"):
        opt.step()
    model.grads["b"] = B.asarray(np.ones(3), dtype="float32")
    with pytest.raises(ValueError, match=r"gradient of 'b' has shape \(3,\)"):
        opt.step()


def test_prelu_slopes_created_after_the_optimizer_are_trained(rng):
    from linkedref.activations import PReLU
    from linkedref.dense import Dense
    from linkedref.layer import Sequential
    from linkedref.losses import SoftmaxCrossEntropy
    model = Sequential([Dense(3, 4, rng=0), PReLU(), Dense(4, 2, rng=1)])
    opt = Adam(model, lr=0.01)                      # built before PReLU sizes its slopes
    assert "1.alpha" not in model.params
    x = B.asarray(rng.standard_normal((16, 3)), dtype="float32")
    loss = SoftmaxCrossEntropy()
    loss.forward(model.forward(x, training=True), rng.integers(0, 2, 16))
    model.backward(loss.backward())
    opt.step()
    assert "1.alpha" in opt.state
    assert np.abs(B.to_numpy(model.params["1.alpha"]) - 0.25).max() > 1e-3   # the slopes moved


@pytest.mark.parametrize("make", [lambda m: Adam(m, lr=1e-3), lambda m: RMSProp(m, lr=1e-3)])
def test_default_eps_is_keras_2_0s_1e_8_where_it_matters(rng, make):
    """With gradients of 1e-9 (a 50-layer net at init) ε decides the step: 1e-8, not 1e-7."""
    model = Model(rng, dtype="float64")
    opt = make(model)
    assert opt.eps == 1e-8
    for g in model.grads.values():
        g[...] = 1e-9
    before = model.host(model.params)
    opt.step()
    # the first step by hand: Adam  lr·√(1−β2)/(1−β1)·(0.1 g)/(√(0.001) g + ε);
    #                         RMSProp  lr·g/(√(0.1) g + ε)
    g = 1e-9
    if isinstance(opt, Adam):
        want = 1e-3 * math.sqrt(1 - 0.999) / (1 - 0.9) * (0.1 * g) / (math.sqrt(0.001) * g + 1e-8)
    else:
        want = 1e-3 * g / (math.sqrt(0.1) * g + 1e-8)
    for k, p in model.host(model.params).items():
        np.testing.assert_allclose(before[k] - p, want, rtol=1e-4, err_msg=k)


def test_a_subclass_rule_sees_whole_parameters():
    """An update rule of one's own gets each parameter whole (it may need the whole tensor:
    here a norm)."""
    from linkedref.dense import Dense
    seen = []

    class NormalisedSGD(SGD):
        def _update(self, p, g, state, lr):
            seen.append(p.shape)
            p -= lr * g / B.get_array_module(g).sqrt((g * g).sum())

    model = Dense(300, 200, rng=0)
    before = B.to_numpy(model.params["W"]).copy()
    model.grads["W"][...] = model.grads["b"][...] = 1.0
    NormalisedSGD(model, lr=0.1).step()
    np.testing.assert_allclose(B.to_numpy(model.params["W"]), before - 0.1 / np.sqrt(300 * 200),
                               rtol=0, atol=1e-6)
    assert set(seen) == {(300, 200), (200,)}
