"""The pieces together: a linked MLP checked end to end, trained on spirals, and the CLI."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import linkedref as lk
import linkedref.backend as B
from linkedref.data import toy
from linkedref.gradcheck import __main__ as gradcheck_cli
from linkedref.gradcheck import away_from_kinks, gradcheck


def _mlp(d_in, hidden, classes, act, rng):
    e = lk.activation(act).expansion
    return lk.Sequential([lk.Dense(d_in, hidden, rng=rng), lk.activation(act),
                          lk.Dense(hidden * e, hidden, rng=rng), lk.activation(act),
                          lk.Dense(hidden * e, classes, rng=rng)])


@given(n=st.integers(1, 5), d=st.integers(1, 4), h=st.integers(1, 5), k=st.integers(2, 4),
       act=st.sampled_from(["lkrelu", "lkselu", "lkswish", "lkprelu", "relu"]))
def test_linked_mlp_with_loss_passes_gradcheck(n, d, h, k, act):
    rng = np.random.default_rng(n * 100 + d * 10 + h)
    model = _mlp(d, h, k, act, rng)
    x = away_from_kinks((n, d), rng)
    for key, b in model.params.items():       # zero biases put dead units' successors on a kink
        if key.endswith(".b"):
            b[...] = B.asarray(away_from_kinks(b.shape, rng), dtype=b.dtype)
    labels = rng.integers(0, k, n)
    report = gradcheck(model, x, loss=lk.SoftmaxCrossEntropy(), labels=labels)
    assert report.max_error <= 1e-6
    model.forward(B.asarray(x, dtype="float32"))       # PReLU slopes exist after the first forward
    assert {r.name for r in report.rows} == {"x", *model.params}


def test_public_names_all_resolve():
    missing = [name for name in lk.__all__ if getattr(lk, name, None) is None]
    assert not missing


@pytest.mark.slow
def test_lkrelu_mlp_learns_spirals_in_seconds():
    X, y = toy.spirals(n=1000, rng=0)
    Xt, yt = toy.spirals(n=500, rng=1)
    model = _mlp(2, 32, 2, "lkrelu", np.random.default_rng(0))
    opt = lk.Adam(model, lr=0.01)
    hist = lk.fit(model, lk.SoftmaxCrossEntropy(), opt, X, y, epochs=60, batch_size=64,
                  seed=0, progress=False)
    _, acc = lk.evaluate(model, lk.SoftmaxCrossEntropy(), Xt, yt)
    assert hist["loss"][-1] < hist["loss"][0]
    assert acc > 0.95, f"test accuracy {acc:.3f} on spirals"


def test_gradcheck_command_line_prints_a_table(capsys):
    assert gradcheck_cli.main(["--filter", "LKReLU"]) == 0
    out = capsys.readouterr().out
    assert "LKReLU (2D)" in out and "max rel err" in out and "0 failed" in out
