"""The gradient checker itself: it passes a right backward, catches a wrong one, skips kinks."""
from pathlib import Path

import numpy as np
import pytest

import linkedref as lk
import linkedref.backend as B
from linkedref.gradcheck import (
    GradientCheckError,
    away_from_kinks,
    distinct_values,
    gradcheck,
    register_case,
)
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
    assert "b " in msg and "analytic" in msg                         # names the tensor and values
    assert "parameter 'b': analytic ≈ 1.5 × numeric: a scale factor of 1.5?" in msg
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


# ---------------------------------------------- a failing linked unit: which member, and a hint
@pytest.fixture
def broken_softplus(monkeypatch):
    """The learner's LK-Softplus of tests/user_units/, its backward with the mirror's factor
    ``mirror`` (−1 is right; +1 drops the minus sign, 0 the term, −3 scales it)."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent / "user_units"))
    from lk_softplus import LKSoftplus, sigmoid

    class Broken(LKSoftplus):
        def __init__(self, mirror):
            super().__init__()
            self.mirror = mirror

        def backward(self, dy, need_dx=True):
            z = self.saved(dy)
            C = z.shape[1]
            return dy[:, :C] * sigmoid(z) + self.mirror * dy[:, C:] * sigmoid(-z)
    return Broken


def _failure(layer, x):
    with pytest.raises(GradientCheckError) as err:
        gradcheck(layer, x)
    return str(err.value)


@pytest.mark.parametrize("mirror, words", [(1, "sign flipped?"), (0, "a term missing?"),
                                           (-3, "a scale factor of 3?")])
def test_a_wrong_mirror_is_named_with_a_hint(broken_softplus, mirror, words, rng):
    x = away_from_kinks((4, 3), rng)
    assert gradcheck(broken_softplus(-1), x).passed
    msg = _failure(broken_softplus(mirror), x)
    assert "analytic, numeric" in msg                              # the numbers, side by side
    assert "member 0: ok" in msg
    assert "member 1, the mirror: dL/dx wrong" in msg and words in msg.splitlines()[-1]


def test_a_wrong_parameter_gradient_is_named(rng):
    class MirrorSlopeFlipped(lk.LKPReLU):
        def backward(self, dy, need_dx=True):
            dx = super().backward(dy, need_dx)
            self.grads["alpha_mirror"] = -self.grads["alpha_mirror"]
            return dx

    msg = _failure(MirrorSlopeFlipped(), away_from_kinks((2, 3, 4, 5), rng))
    assert "member 1, the mirror: parameter 'alpha_mirror' wrong" in msg
    assert "sign flipped?" in msg and "member 0: ok" in msg


def test_a_single_unit_gets_a_hint_without_members(rng):
    msg = _failure(_Square(factor=0.5), rng.standard_normal((2, 3)) + 3)
    assert "dL/dx: analytic ≈ 0.5 × numeric: a scale factor of 0.5?" in msg
    assert "member" not in msg


class _TransposedW(_MatMul):
    def backward(self, dy):
        dx = super().backward(dy)
        self.grads["W"] = self.grads["W"].T
        return dx


def test_a_wrong_gradient_shape_names_the_likely_cause(rng):
    with pytest.raises(GradientCheckError, match=r"shape \(3, 4\), expected \(4, 3\) — transposed"):
        gradcheck(_TransposedW(B.asarray(rng.standard_normal((4, 3)))), rng.standard_normal((2, 4)))


# ------------------------------------- backward sets self.grads[k]: never adds, never writes in
class _AddsIntoGrads(Affine):
    """Affine whose backward adds dL/db into self.grads["b"] (``+=``), or with ``in_place`` writes
    it into the old array (``[...] =``). Right on a fresh layer, whose grads start at 0."""

    def __init__(self, d, rng, in_place=False):
        super().__init__(d, rng)
        self.in_place = in_place

    def backward(self, dy):
        b = self.grads["b"]
        dx = super().backward(dy)
        if self.in_place:
            b[...] = self.grads["b"]
        else:
            b += self.grads["b"]
        self.grads["b"] = b
        return dx


def test_a_backward_that_changes_dy_in_place_is_named_not_taken_for_a_sign(rng):
    class InPlace(lk.LKReLU):                  # right values, but dy's mirror half flipped in dy
        def backward(self, dy, need_dx=True):
            pos, neg = self.saved(dy)
            C = pos.shape[1]
            dy[:, C:] *= -1
            return dy[:, :C] * pos + dy[:, C:] * neg

    x = away_from_kinks((4, 3), rng)
    msg = _failure(InPlace(), x)
    assert msg == ("gradcheck InPlace: backward changed dy in place; the layer protocol (layer.py) "
                   "says it never does, since another path (a residual's shortcut) may still "
                   "read it: compute a new array (-dy[:, C:], not dy[:, C:] *= -1)")
    net = Sequential([lk.Dense(3, 2, rng=0), InPlace()]).astype("float64")
    assert "changed dy in place" in _failure(net, x)            # inside a model, and with a loss
    assert "changed dy in place" in str(pytest.raises(
        GradientCheckError, gradcheck, net, x, loss=lk.SoftmaxCrossEntropy(),
        labels=np.array([0, 1, 2, 3])).value)
    assert gradcheck(lk.LKReLU(), x).passed


def test_a_backward_that_adds_into_grads_is_caught(rng):
    msg = _failure(_AddsIntoGrads(3, rng), rng.standard_normal((2, 3)))
    assert msg.startswith("gradcheck _AddsIntoGrads: parameter 'b': a second backward on the same "
                          "input gave 2.00× the first (at ")
    assert "first +" in msg or "first -" in msg                  # the numbers
    assert msg.endswith("backward adds into self.grads[k] instead of setting it "
                        "(self.grads[k] = ...)")


def test_a_backward_that_writes_into_the_old_grad_is_caught(rng):
    msg = _failure(_AddsIntoGrads(3, rng, in_place=True), rng.standard_normal((2, 3)))
    assert msg == ("gradcheck _AddsIntoGrads: parameter 'b': a second backward on the same input "
                   "wrote into the first one's array: backward writes into self.grads[k] instead "
                   "of setting a new array (self.grads[k] = ...)")


def test_accumulation_in_a_linked_unit_is_named_before_any_member(rng):
    class AddsIntoAlpha(lk.LKPReLU):
        def backward(self, dy, need_dx=True):
            alpha = self.grads["alpha"]
            dx = super().backward(dy, need_dx)
            self.grads["alpha"] = alpha + self.grads["alpha"]
            return dx

    layer, x = AddsIntoAlpha(), away_from_kinks((2, 3, 4, 5), rng)
    layer.forward(B.asarray(x, dtype=layer.dtype))
    layer.backward(B.xp().ones((2, 6, 4, 5), dtype=layer.dtype))    # stale grads in the layer
    msg = _failure(layer, x)
    assert "parameter 'alpha': a second backward on the same input gave" in msg
    assert "adds into self.grads[k]" in msg and "member" not in msg


def test_a_random_layer_between_parameters_is_not_taken_for_accumulation(rng):
    """Dropout draws a new mask per forward: the second pass is compared with a fresh copy's."""
    model = Sequential([Affine(4, rng), lk.Dropout(0.5, rng=1), Affine(4, rng)])
    assert gradcheck(model, away_from_kinks((3, 4), rng)).passed


# ------------------------------------------------ python -m linkedref.gradcheck --module MODULE
USER_MODULE = '''
import numpy as np
import linkedref as lk
from linkedref.gradcheck import away_from_kinks, register_case

class Cube(lk.Layer):
    """y = x**3 with a backward whose sign is flipped."""
    def forward(self, x, training=False):
        self.save_for_backward(x, output_shape=x.shape)
        return x ** 3

    def backward(self, dy, need_dx=True):
        return -3 * self.saved(dy) ** 2 * dy

register_case("user Cube", lambda rng: dict(layer=Cube(), x=away_from_kinks((3, 2), rng)))
register_case("user LKReLU", lambda rng: dict(layer=lk.LKReLU(), x=away_from_kinks((3, 2), rng)))
'''


def test_module_cases_run_from_the_command_line(tmp_path, monkeypatch, capsys):
    from linkedref.gradcheck import cases
    from linkedref.gradcheck.__main__ import main
    monkeypatch.setattr(cases, "REGISTERED", list(cases.REGISTERED))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(tmp_path)       # as `python -m` puts the current directory first
    (tmp_path / "gc_user_cases.py").write_text(USER_MODULE)
    assert main(["--module", "gc_user_cases", "--backend", B.get_backend()]) == 1
    out = capsys.readouterr().out
    assert "2 components" in out and "1 passed, 1 failed" in out     # only the module's cases
    assert "user LKReLU" in out and "sign flipped?" in out
    with pytest.raises(ValueError, match="'user Cube' is already registered"):
        register_case("user Cube", lambda rng: {})


def test_module_that_fails_to_import_is_named(tmp_path, monkeypatch, capsys):
    from linkedref.gradcheck.__main__ import main
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(tmp_path)
    (tmp_path / "gc_broken_cases.py").write_text("import no_such_dependency_xyz\n")
    with pytest.raises(SystemExit):
        main(["--module", "gc_broken_cases"])
    err = capsys.readouterr().err
    assert "cannot import module 'gc_broken_cases'" in err and "no_such_dependency_xyz" in err


def test_a_backward_that_returns_nothing_is_named(rng):
    class NoDx(_Square):
        def backward(self, dy):
            super().backward(dy)
    with pytest.raises(GradientCheckError, match="no gradient array for 'x' \\(got NoneType\\)"):
        gradcheck(NoDx(), rng.standard_normal((2, 3)))


def test_a_module_that_registers_nothing_is_told_so(tmp_path, monkeypatch, capsys):
    from linkedref.gradcheck.__main__ import main
    monkeypatch.syspath_prepend(tmp_path)
    (tmp_path / "gc_empty_cases.py").write_text("import linkedref\n")
    with pytest.raises(SystemExit):
        main(["--module", "gc_empty_cases"])
    assert ("gc_empty_cases registered no case; call register_case(name, make) in it (from "
            "linkedref.gradcheck import register_case)") in \
        capsys.readouterr().err


def test_register_case_refuses_what_is_not_a_case():
    with pytest.raises(TypeError, match="make\\(rng\\) -> dict"):
        register_case("no maker", None)


def test_help_lists_every_backend(capsys):
    from linkedref.gradcheck.__main__ import main
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "{numpy,cupy,strict}" in capsys.readouterr().out
