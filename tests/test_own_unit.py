"""A learner's own linked unit, end to end, with public names only: tests/user_units/lk_softplus.py
(LK-Softplus on lk.Activation) is gradchecked on NumPy and strict, checked for the linking
condition, registered, built into the paper's nets by name and by class, trained a step, and
read for dead and saturated units."""
from pathlib import Path

import numpy as np
import pytest

import linkedref as lk
from linkedref import registry

USER_UNITS = Path(__file__).resolve().parent / "user_units"


@pytest.fixture
def LKSoftplus(monkeypatch):
    """The class, imported from the user's folder as from PYTHONPATH (the registry restored
    afterwards, so the name does not leak into other tests)."""
    monkeypatch.syspath_prepend(str(USER_UNITS))
    monkeypatch.setattr(registry, "_UNITS", dict(registry._UNITS))
    from lk_softplus import LKSoftplus
    return LKSoftplus


@pytest.mark.parametrize("backend", ["numpy", "strict"])
@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 4, 5)])
def test_gradcheck_passes_on_numpy_and_strict(LKSoftplus, backend, shape, rng):
    with lk.backend.using_backend(backend):
        report = lk.gradcheck(LKSoftplus(), rng.standard_normal(shape) * 3)
    assert report.passed and report.max_error <= 1e-6


def test_a_flipped_mirror_sign_fails_the_check(LKSoftplus, rng):
    from lk_softplus import sigmoid

    class FlippedSign(LKSoftplus):
        def backward(self, dy, need_dx=True):
            z = self.saved(dy)
            C = z.shape[1]
            return dy[:, :C] * sigmoid(z) + dy[:, C:] * sigmoid(-z)      # the slip: + for −

    with pytest.raises(lk.GradientCheckError):             # the name README.md uses
        lk.gradcheck(FlippedSign(), rng.standard_normal((4, 3)))


def test_the_linking_condition_holds(LKSoftplus):
    assert lk.check_linkage(LKSoftplus())           # σ(z) > 0 everywhere: the unit never dies


def test_registered_it_builds_and_trains_like_a_builtin(LKSoftplus, rng):
    lk.register_activation("lksoftplus", LKSoftplus)
    assert "lksoftplus" in lk.activation_names()
    X = rng.standard_normal((16, 3, 8, 8)).astype(np.float32)
    labels = rng.integers(0, 10, 16)
    for act in ("lksoftplus", LKSoftplus, lambda: LKSoftplus()):
        model = lk.depth_net(depth=3, width=2, activation=act, input_size=8, rng=0)
        assert model.layers[2].in_channels == 4                 # fan-in follows expansion 2
        history = lk.fit(model, lk.SoftmaxCrossEntropy(), lk.SGD(model, lr=0.01), X, labels,
                         epochs=1, batch_size=8, seed=0)
        assert np.isfinite(history["loss"][-1])


def test_dead_and_saturated_units_are_read_by_the_diagnostics(LKSoftplus, rng):
    model = lk.depth_net(depth=2, width=2, activation=LKSoftplus, input_size=8, rng=0)
    X = rng.standard_normal((8, 3, 8, 8)).astype(np.float32)
    counts = lk.diagnostics.dead_units(model, X)
    assert [c.dead for c in counts] == [0, 0] and [c.total for c in counts] == [2, 2]
    line = lk.diagnostics.dead_definition(LKSoftplus())
    assert "LKSoftplus outputs exactly 0 in every member for no z: it cannot be dead" in line
    assert "LKSoftplus units count when" in lk.diagnostics.dead_definition(LKSoftplus(), atol=1)
