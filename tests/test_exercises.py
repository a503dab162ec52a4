"""The exercises and their checker (exercises/check.py): every exercise passes when filled with
the library's own implementation, fails with the right words when filled with a typical wrong
answer, and says "not attempted yet" when blank. No copy of the answers is kept here: the fills
are the library's methods (or delegate to its layers), and the wrong answers are built from them.
"""
import ast
import importlib.util
import pathlib
import types

import pytest

import linkedref as lk
import linkedref.backend as B

ROOT = pathlib.Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("exercise_checker", ROOT / "exercises" / "check.py")
check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check)

# exercise → (class name in the exercise file, the library class whose methods answer it)
LIBRARY = {1: ("LKReLU", lk.LKReLU), 2: ("LKLeakyReLU", lk.LKLeakyReLU),
           3: ("LKPReLU", lk.LKPReLU), 6: ("Dense", lk.Dense), 7: ("MaxPool2D", lk.MaxPool2D),
           8: ("Conv2D", lk.Conv2D), 9: ("BatchNorm", lk.BatchNorm),
           10: ("SoftmaxCrossEntropy", lk.SoftmaxCrossEntropy)}


def _min_max_tanh():
    return lk.Linked(lk.ReLU(), (lk.ReLU(), -1, -1), lk.Tanh())


def _adam_update(p, g, m, v, t, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8):
    """One step of lk.Adam from state (m, v) at step t."""
    model = types.SimpleNamespace(params={"p": p.copy()}, grads={"p": g})
    adam = lk.Adam(model, lr=lr, beta1=beta1, beta2=beta2, eps=eps)
    adam.iterations, adam.state["p"] = t - 1, {"m": m.copy(), "v": v.copy()}
    adam.step()
    return model.params["p"], adam.state["p"]["m"], adam.state["p"]["v"]


def fill(n, monkeypatch):
    """Exercise n answered by the library."""
    module = check.load(n)
    if n in LIBRARY:
        name, cls = LIBRARY[n]
        monkeypatch.setattr(getattr(module, name), "forward", cls.forward)
        monkeypatch.setattr(getattr(module, name), "backward", cls.backward)
    elif n == 4:
        def is_linkage(members, z, tol=1e-6, eps=1e-5):
            return bool(lk.check_linkage(members, z, tol=tol, eps=eps))
        monkeypatch.setattr(module, "is_linkage", is_linkage)
        monkeypatch.setattr(module, "IS_LINKAGE", {name: bool(lk.check_linkage(g))
                                                   for name, g in module.CANDIDATES.items()})
    elif n == 5:
        def forward(self, x, training=False):
            self.linked = _min_max_tanh()
            return self.linked.forward(x, training)
        monkeypatch.setattr(module.MinMaxTanh, "forward", forward)
        monkeypatch.setattr(module.MinMaxTanh, "backward",
                            lambda self, dy, need_dx=True: self.linked.backward(dy))
    elif n == 11:
        monkeypatch.setattr(module, "adam_update", _adam_update)
    return module


@pytest.mark.parametrize("n", list(check.EXERCISES))
def test_blank_exercise_is_not_attempted_yet(n):
    assert check.run(n) == ("not attempted yet", [])
    assert check.report(n, "not attempted yet", []) .endswith("): not attempted yet")


@pytest.mark.parametrize("n", list(check.EXERCISES))
def test_the_library_answer_passes(n, monkeypatch):
    fill(n, monkeypatch)
    assert check.run(n) == ("passed", [])


def _wrong(n, monkeypatch, name, backward):
    module = fill(n, monkeypatch)
    monkeypatch.setattr(getattr(module, name), "backward", backward)
    status, problems = check.run(n)
    assert status == "wrong"
    return "\n".join(problems)


def _halves(dy, d=2):
    C = dy.shape[1] // d
    return [dy[:, i * C:(i + 1) * C] for i in range(d)]


def test_mirror_sign_dropped_is_a_sign_error_in_the_mirror(monkeypatch):
    def backward(self, dy, need_dx=True):               # dz = dy_a·g'(z) + dy_b·g'(−z)
        dy_a, dy_b = _halves(dy)
        return lk.LKReLU.backward(self, B.get_array_module(dy).concatenate([dy_a, -dy_b], 1))
    msg = _wrong(1, monkeypatch, "LKReLU", backward)
    assert msg.startswith("dL/dx is wrong in member 1 (the mirror): analytic ≈ −numeric: "
                          "sign flipped?")


def test_min_member_sign_in_a_three_member_link(monkeypatch):
    def backward(self, dy, need_dx=True):
        d0, d1, d2 = _halves(dy, 3)
        return self.linked.backward(B.get_array_module(dy).concatenate([d0, -d1, d2], 1))
    msg = _wrong(5, monkeypatch, "MinMaxTanh", backward)
    assert msg.startswith("dL/dx is wrong in member 1: analytic ≈ −numeric: sign flipped?")


def test_slope_gradient_not_summed_over_positions(monkeypatch):
    def backward(self, dy, need_dx=True):
        dz = lk.LKPReLU.backward(self, dy)
        xp, z = B.get_array_module(dy), self.saved(dy)
        self.grads["alpha"] = (_halves(dy)[0] * xp.minimum(z, 0)).sum(axis=0)   # C, H, W
        return dz
    msg = _wrong(3, monkeypatch, "LKPReLU", backward)
    assert "'alpha' has shape (3, 4, 5), expected (3,) — a sum over the wrong axes?" in msg


def test_slope_gradient_added_into_grads(monkeypatch):
    """Right on a fresh layer, but a second backward doubles it: gradcheck's second pass says so."""
    def backward(self, dy, need_dx=True):
        alpha = self.grads["alpha"]                      # the previous backward's array
        dz = lk.LKPReLU.backward(self, dy)               # the right dz and alpha_mirror
        xp, z = B.get_array_module(dy), self.saved(dy)
        self.grads["alpha"] = alpha
        self.grads["alpha"] += (_halves(dy)[0] * xp.minimum(z, 0)).sum(axis=(0, 2, 3))
        return dz
    msg = _wrong(3, monkeypatch, "LKPReLU", backward)
    assert msg.startswith("parameter 'alpha': a second backward on the same input gave 2.00× the "
                          "first")
    assert msg.endswith("backward adds into self.grads[k] instead of setting it "
                        "(self.grads[k] = ...)")
    assert "member" not in msg


def test_a_diagnosis_shows_the_hint_that_matches_it(monkeypatch):
    def backward(self, dy, need_dx=True):               # dz = dy_a·g'(z) + dy_b·g'(−z)
        dy_a, dy_b = _halves(dy)
        return lk.LKReLU.backward(self, B.get_array_module(dy).concatenate([dy_a, -dy_b], 1))
    _wrong(1, monkeypatch, "LKReLU", backward)
    text = check.report(1, *check.run(1))
    assert "sign flipped?" in text and "  Hint 2: By the chain rule" in text
    assert "Hint 1" not in text and "--hints shows all 3 hints" in text


def test_dense_weight_gradient_transposed(monkeypatch):
    def backward(self, dy, need_dx=True):
        dx = lk.Dense.backward(self, dy)
        self.grads["W"] = self.grads["W"].T.copy()
        return dx
    msg = _wrong(6, monkeypatch, "Dense", backward)
    assert "'W' has shape (3, 5), expected (5, 3) — transposed axes?" in msg


def _max_pool_loops(self, dy, every_tied=False, assign=False):
    """MaxPool2D's dx with a typical mistake: dy to every tied maximum, or = in place of +=."""
    x, arg = self.saved(dy)
    xp = B.get_array_module(dy)
    (kh, kw), (sh, sw) = self.kernel_size, self.stride
    offsets = xp.arange(kh * kw).reshape(kh, kw)                        # p·kw + q
    dx = x * 0
    for i in range(dy.shape[2]):
        for j in range(dy.shape[3]):
            at = (slice(None), slice(None), slice(i * sh, i * sh + kh), slice(j * sw, j * sw + kw))
            top = x[at].max(axis=(2, 3), keepdims=True)
            mask = (x[at] == top) if every_tied else (offsets == arg[:, :, i, j, None, None])
            if assign:
                dx[at] = mask * dy[:, :, i:i + 1, j:j + 1]
            else:
                dx[at] += mask * dy[:, :, i:i + 1, j:j + 1]
    return dx


def test_max_pool_sending_the_gradient_to_every_tied_max(monkeypatch):
    module = check.load(7)
    monkeypatch.setattr(module.MaxPool2D, "backward",
                        lambda self, dy, need_dx=True: _max_pool_loops(self, dy, every_tied=True))
    status, problems = check.run(7)
    assert status == "wrong" and len(problems) == 1      # right on distinct values, not on ties
    assert "tied maxima, a window's gradient went to more than one pixel" in problems[0]


def test_max_pool_assigning_where_windows_overlap(monkeypatch):
    module = check.load(7)
    monkeypatch.setattr(module.MaxPool2D, "backward",
                        lambda self, dy, need_dx=True: _max_pool_loops(self, dy, assign=True))
    status, problems = check.run(7)
    assert status == "wrong" and problems[0].startswith("dL/dx is wrong")
    assert "collects from each (+=, not =)" in problems[-1]


def test_max_pool_first_maximum_in_loops_passes(monkeypatch):
    module = check.load(7)
    monkeypatch.setattr(module.MaxPool2D, "backward",
                        lambda self, dy, need_dx=True: _max_pool_loops(self, dy))
    assert check.run(7) == ("passed", [])


def test_conv_dx_with_the_kernel_flipped_the_wrong_way(monkeypatch):
    def backward(self, dy, need_dx=True):
        lk.Conv2D.backward(self, dy)                          # the right dW and db
        W, grads = self.params["W"], dict(self.grads)
        self.params["W"] = W[:, :, ::-1, ::-1].copy()
        dx = lk.Conv2D.backward(self, dy)
        self.params["W"], self.grads = W, grads
        return dx
    msg = _wrong(8, monkeypatch, "Conv2D", backward)
    assert msg.startswith("dL/dx is wrong") and "rotated by 180°" in msg


def test_batchnorm_missing_the_mean_terms(monkeypatch):
    def backward(self, dy, need_dx=True):
        lk.BatchNorm.backward(self, dy)                       # the right dγ, dβ
        _, _, inv_std = self.saved(dy)
        return dy * self.params["gamma"].reshape(1, -1, 1, 1) * inv_std     # inference's dx
    msg = _wrong(9, monkeypatch, "BatchNorm", backward)
    assert msg.startswith("dL/dx is wrong") and "terms from μ and σ²" in msg


def test_cross_entropy_without_the_mean(monkeypatch):
    def backward(self):
        return lk.SoftmaxCrossEntropy.backward(self) * self.cache[0].shape[0]
    msg = _wrong(10, monkeypatch, "SoftmaxCrossEntropy", backward)
    assert "a scale factor of 6?" in msg


def test_two_copies_of_relu_called_a_linkage(monkeypatch):
    module = fill(4, monkeypatch)
    monkeypatch.setitem(module.IS_LINKAGE, "relu(z), relu(z) (two copies)", True)
    status, problems = check.run(4)
    z = lk.check_linkage([lambda z: z]).z                    # the checker's grid: the default one
    assert status == "wrong" and problems == [
        f"IS_LINKAGE['relu(z), relu(z) (two copies)'] is True, but at z = {z[0]:.3g} (and "
        f"{(z < 0).sum() - 1} more points) every member's slope is 0"]


def test_tanh_alone_is_no_linkage_over_the_default_grid(monkeypatch):
    """tanh' vanishes in both tails (|z| ≳ 9): the checker reaches them, as check_linkage does."""
    module = fill(4, monkeypatch)
    assert module.IS_LINKAGE["tanh(z) alone"] is False
    monkeypatch.setitem(module.IS_LINKAGE, "tanh(z) alone", True)
    status, problems = check.run(4)
    assert status == "wrong" and len(problems) == 1
    assert problems[0].startswith("IS_LINKAGE['tanh(z) alone'] is True, but at z = -20 ")


def test_adam_in_pytorchs_form(monkeypatch):
    def adam_update(p, g, m, v, t, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8):
        m, v = beta1 * m + (1 - beta1) * g, beta2 * v + (1 - beta2) * g * g
        m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
        return p - lr * m_hat / (v_hat ** 0.5 + eps), m, v
    module = check.load(11)
    monkeypatch.setattr(module, "adam_update", adam_update)
    status, problems = check.run(11)
    assert status == "wrong" and problems[0].startswith("p differs from lk.Adam's at step t = 1")
    assert "PyTorch's form" in problems[0]


def test_code_that_raises_is_reported_with_its_line(monkeypatch):
    module = check.load(1)
    monkeypatch.setattr(module.LKReLU, "backward", lambda self, dy, need_dx=True: 1 / 0)
    status, problems = check.run(1)
    assert status == "wrong" and problems[0].startswith("your code raised ZeroDivisionError")


def test_a_file_that_does_not_import_is_reported(monkeypatch):
    def broken(name):
        raise SyntaxError("invalid syntax", ("ex01_lk_relu.py", 30, 9, "return dz +"))
    monkeypatch.setattr(check.importlib, "import_module", broken)
    status, problems = check.run(1)
    assert status == "wrong" and problems == [
        "your code raised SyntaxError: invalid syntax (ex01_lk_relu.py, line 30)"]


def test_command_line(capsys, monkeypatch):
    assert check.main(["1"]) == 0
    out = capsys.readouterr().out
    assert out == "Exercise 1 — LK-ReLU's backward pass (ex01_lk_relu.py): not attempted yet\n"
    fill(2, monkeypatch)
    assert check.main(["2", "--backend", B.get_backend()]) == 0
    assert "passed" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        check.main(["12"])
    assert "expected an exercise number 1–11 or all, got '12'" in capsys.readouterr().err


def test_the_site_note_comes_once_with_the_answer_links(capsys, monkeypatch):
    fill(1, monkeypatch)
    fill(2, monkeypatch)
    assert check.main(["all"]) == 0
    out = capsys.readouterr().out
    assert out.count(check.SITE_NOTE) == 1 and out.count("The library's answer, annotated") == 2
    assert "annotated: site/annotated/linked.html#LKReLU.backward (build the reading site first: " \
        "README.md's command under 'Run it')\n" in out


def test_wrong_answer_prints_the_first_hint(monkeypatch):
    def backward(self, dy, need_dx=True):
        return lk.LKReLU.backward(self, dy) * 2
    _wrong(1, monkeypatch, "LKReLU", backward)
    text = check.report(1, *check.run(1))
    assert "wrong\n  - dL/dx is wrong" in text and "  Hint 1: Split dy" in text
    assert "--hints shows all 3 hints" in text and "Hint 2" not in text


def test_the_site_page_is_generated_from_the_exercises():
    page = (ROOT / "docs" / "exercises.md").read_text()
    assert page == check.markdown() + "\n"
    assert page.count("<details>") == sum(len(check.parts(n)["hints"])
                                          for n in check.EXERCISES)


def _definitions(path):
    """Qualified names of the classes, functions and methods defined in a module file."""
    names = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            names.add(node.name)
        if isinstance(node, ast.ClassDef):
            names |= {f"{node.name}.{f.name}" for f in node.body if isinstance(f, ast.FunctionDef)}
    return names


@pytest.mark.parametrize("n", list(check.EXERCISES))
def test_each_answer_link_names_a_definition_of_the_annotated_module(n):
    """site/annotated/M.html#Q shows linkedref/M.py; Q is the anchor of a definition there."""
    page, anchor = check.parts(n)["answer"].split("#")
    assert page.startswith("site/annotated/") and page.endswith(".html")
    module = ROOT / "linkedref" / (page.removeprefix("site/annotated/")[:-len(".html")] + ".py")
    assert anchor in _definitions(module)
