"""Smoke tests of every tutorial: each ``main`` runs in its tiny ``--smoke`` mode (seconds),
writes its figures to a temporary folder and prints its table and verdict; run_all and the
shared helpers in tutorials/_common.py and _experiments.py are checked on hand-made inputs."""
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

TUTORIALS = Path(__file__).resolve().parents[1] / "tutorials"

CASES = {
    "01_linked_units": ["01_linked_units.png"],
    "02_gradient_check": ["02_gradient_check.png"],
    "03_dead_units": ["03_dead_units.png"],
    "04_depth": ["04_depth.png"],
    "05_covariate_shift": ["05_covariate_shift.png"],
    "06_unnormalized_inputs": ["06_unnormalized_inputs.png"],
    "07_batchnorm_cost": ["07_batchnorm_cost.png"],
    "08_width_and_parameters": ["08_width_and_parameters.png"],
    "09_decision_boundaries": ["09_decision_boundaries.png"],
}


def load(name):
    """Import tutorials/<name>.py by path (its name starts with a digit)."""
    if str(TUTORIALS) not in sys.path:
        sys.path.insert(0, str(TUTORIALS))
    spec = importlib.util.spec_from_file_location(f"tutorial_{name}", TUTORIALS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module          # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_tutorial_runs_and_writes_its_figures(name, tmp_path, capsys):
    load(name).main(["--smoke", "--figdir", str(tmp_path)])
    out = capsys.readouterr().out
    assert "VERDICT:" in out
    assert "-----" in out, f"{name} printed no table"
    for figure in CASES[name]:
        path = tmp_path / figure
        assert path.exists() and path.stat().st_size > 10_000, f"{name} did not write {figure}"


def test_run_all_finds_every_tutorial_in_order():
    run_all = load("run_all")
    names = [p.name for p in run_all.tutorials()]
    assert names == sorted(names) and all(n[:2].isdigit() and n.endswith(".py") for n in names)
    assert {f"{k}.py" for k in CASES} == set(names)      # every tutorial has a smoke test
    assert [p.name for p in run_all.tutorials(["04", "08"])] == \
        ["04_depth.py", "08_width_and_parameters.py"]


@pytest.mark.slow
def test_run_all_reports_a_failing_tutorial(tmp_path, monkeypatch, capsys):
    """run_all returns 1 and names the tutorial when one exits non-zero."""
    run_all = load("run_all")
    bad = tmp_path / "00_fails.py"
    bad.write_text("import sys\nprint('VERDICT: broken on purpose')\nsys.exit(3)\n")
    monkeypatch.setattr(run_all, "HERE", tmp_path)
    assert run_all.main(["--smoke"]) == 1
    out = capsys.readouterr().out
    assert "FAILED: 00_fails.py" in out and "broken on purpose" in out


def test_summaries_of_hand_made_runs():
    ex = load("_experiments")
    runs = [ex.Run("x", 0, val_accuracy=[0.1, 0.5, 0.4], accuracy=[0.2, 0.6, 0.9],
                   seconds=[1.0, 1.0, 1.0]),
            ex.Run("x", 1, val_accuracy=[0.1, 0.1, 0.12], accuracy=[0.1, 0.1, 0.3],
                   seconds=[2.0, 2.0, 2.0])]
    s = ex.summarize(runs, chance=0.1)
    assert s.best == 0.5 and s.median_max == pytest.approx(0.31)
    assert s.median == pytest.approx((0.4 + 0.1) / 2)
    assert s.escaped == 1 and s.escaped_text == "1/2" and s.epoch_seconds == 1.5
    assert s.median_max_train == pytest.approx(0.6)
    assert runs[0].seconds_to(0.45) == 2.0 and runs[1].seconds_to(0.45) is None
    assert runs[0].epochs_to(0.85, key="accuracy") == 3 and runs[1].epochs_to(0.85, "accuracy") is None
    assert ex.chance_level(np.array([0, 1, 1, 2])) == 0.5


def test_all_dead_layer_finds_a_layer_killed_by_hand():
    """A net whose second ReLU gets a huge negative bias has that layer all dead: found,
    and training stops there, filling the remaining epochs."""
    import linkedref as lr
    ex = load("_experiments")
    rng = np.random.default_rng(0)
    model = lr.depth_net(3, 4, "relu", in_channels=1, input_size=(8, 8), rng=0)
    X = rng.random((40, 1, 8, 8), dtype=np.float32)
    y = rng.integers(0, 10, 40)
    assert ex.all_dead_layer(model, X) is None
    model.layers[2].params["b"][...] = -1e3             # conv 2's bias: relu 2 never fires
    assert ex.all_dead_layer(model, X) == 2
    run = ex.train_run(model, ((X, y), (X, y)), epochs=4, stop_when_dead=True)
    assert run.stopped == 0 and run.trained_epochs == 0 and len(run.val_accuracy) == 4


def test_figures_default_to_the_repository_folder():
    common = load("_common")
    assert common.FIGURES == TUTORIALS.parent / "figures"
    args = common.make_parser("x", data=True).parse_args([])
    assert args.figdir == common.FIGURES and args.dataset == "digits"
