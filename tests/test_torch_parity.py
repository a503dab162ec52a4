"""linkedref and its PyTorch twin train alike in float64 (short runs of benchmarks/torch_parity.py).

Skipped without torch, which is never a dependency of linkedref. The full check (200 steps, every
model) is ``python benchmarks/torch_parity.py``.
"""
import importlib.util
import os
import sys

import pytest

torch = pytest.importorskip("torch")

TOL = 1e-12
PATH = os.path.join(os.path.dirname(__file__), "..", "benchmarks", "torch_parity.py")


@pytest.fixture(scope="module")
def parity():
    spec = importlib.util.spec_from_file_location("torch_parity", PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["torch_parity"] = module          # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop("torch_parity", None)


@pytest.mark.parametrize("model, optimizer, steps", [
    ("depth_lkrelu_ll", "adam", 20),     # deep linked net, looks-linear init, runs freely
    ("depth_selu", "sgd", 10),           # chaotic: re-synced before each step
    ("cifar_lkrelu_bn", "sgd", 5),       # BatchNorm (with running statistics) and max-pooling
    ("cifar_lkrelu_w", "sgd", 3),        # wide 3×3 layers: the Winograd path, re-synced
])
def test_linkedref_trains_like_pytorch(parity, model, optimizer, steps):
    row = parity.run(model, optimizer, steps)
    assert row.mode == parity.MODELS[model][3]
    assert row.ok(TOL), parity.format_row(row, TOL)
    assert row.grad <= 1e-12, parity.format_row(row, TOL)


def test_a_different_update_rule_is_caught(parity, monkeypatch):
    """Give the torch side Adam's ε = 1e-7 (today's Keras) instead of 1e-8: parity must fail."""
    init = parity.TorchOptimizer.__init__

    def with_other_eps(self, kind, tensors, hyper):
        init(self, kind, tensors, dict(hyper, eps=1e-7))
    monkeypatch.setattr(parity.TorchOptimizer, "__init__", with_other_eps)
    row = parity.run("depth_lkrelu_ll", "adam", 3)
    assert row.param > 1e3 * TOL, parity.format_row(row, TOL)
