"""Backend parity (benchmarks/parity.py): NumPy vs NumPy here; NumPy vs CuPy on a GPU machine."""
import importlib.util
import pathlib

import pytest

_path = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "parity.py"
_spec = importlib.util.spec_from_file_location("parity", _path)
parity = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(parity)


def test_parity_runs_every_case_and_detects_a_difference(monkeypatch):
    rows = parity.compare("numpy", "numpy", dtypes=("float64",))
    assert len(rows) >= 10 and all(ok for *_, ok in rows), [r for r in rows if not r[-1]]
    # the comparison can fail: perturb one backend's result and watch it be caught
    real = parity._run
    calls = {"n": 0}

    def skewed(kwargs, backend, dtype):
        out = real(kwargs, backend, dtype)
        calls["n"] += 1
        if calls["n"] % 2 == 0:
            out["y"] = out["y"] * (1 + 1e-6)
        return out

    monkeypatch.setattr(parity, "_run", skewed)
    rows = parity.compare("numpy", "numpy", dtypes=("float64",))
    assert rows and all(not row[-1] for row in rows)


@pytest.mark.gpu
def test_numpy_and_cupy_agree_on_every_component():
    rows = parity.compare("numpy", "cupy")
    bad = [r for r in rows if not r[-1]]
    assert rows and not bad, bad
