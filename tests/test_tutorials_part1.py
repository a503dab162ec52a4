"""Smoke test of tutorials 01, 02, 03, 05, 09: each ``main`` runs in its tiny ``--smoke`` mode,
writes its figures to a temporary folder, and prints its table and verdict."""
import importlib.util
from pathlib import Path

import pytest

TUTORIALS = Path(__file__).resolve().parents[1] / "tutorials"

CASES = {
    "01_linked_units": ["01_linked_units.png"],
    "02_gradient_check": ["02_gradient_check.png"],
    "03_dead_units": ["03_dead_units.png"],
    "05_covariate_shift": ["05_covariate_shift.png"],
    "09_decision_boundaries": ["09_decision_boundaries.png"],
}


def load(name):
    """Import tutorials/<name>.py by path (its name starts with a digit)."""
    spec = importlib.util.spec_from_file_location(f"tutorial_{name}", TUTORIALS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_tutorial_runs_and_writes_its_figures(name, tmp_path, capsys):
    load(name).main(["--smoke", "--figdir", str(tmp_path)])
    out = capsys.readouterr().out
    assert "VERDICT:" in out
    for figure in CASES[name]:
        path = tmp_path / figure
        assert path.exists() and path.stat().st_size > 10_000, f"{name} did not write {figure}"


def test_figures_default_to_the_repository_folder():
    common = load("_common")
    assert common.FIGURES == TUTORIALS.parent / "figures"
    args = common.make_parser("x", data=True).parse_args([])
    assert args.figdir == common.FIGURES and args.dataset == "digits"
