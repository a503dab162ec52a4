"""Smoke tests of every tutorial: each ``main`` runs in its tiny ``--smoke`` mode (seconds),
writes its figures to a temporary folder and prints its table and verdict; its --help explains
every option; it converts to a notebook whose cells run top to bottom, and reads as a story
(header once, each step written once, ≤ 300 lines; test_code_shape.py keeps its functions short).
A learner's own unit (``--activation MODULE:CLASS``, from a file in a temporary folder) trains
beside the built-ins, also in worker processes, and one that cannot be used (or fails the gradient
check) is refused with the reason; it counts as linked only when check_linkage holds. run_all
and the shared helpers in tutorials/_common.py and _experiments.py are checked on hand-made
inputs."""
import importlib.util
import shutil
import subprocess
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
    assert f"[{name}.py] mode smoke, backend numpy, threads 1" in out, "no thread count printed"
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
    assert runs[0].epochs_to(0.85, key="accuracy") == 3
    assert runs[1].epochs_to(0.85, "accuracy") is None
    assert ex.chance_level(np.array([0, 1, 1, 2])) == 0.5


def test_wilson_interval_and_escape_epochs():
    ex = load("_experiments")
    low, high = ex.wilson_interval(5, 8)                 # by hand: 0.5845 ∓ 0.2787
    assert low == pytest.approx(0.3058, abs=1e-4) and high == pytest.approx(0.8632, abs=1e-4)
    assert ex.wilson_interval(0, 8)[0] == 0.0 and ex.wilson_interval(8, 8)[1] == 1.0
    assert 0 < ex.wilson_interval(0, 8)[1] < 0.4          # not empty at k = 0
    runs = [ex.Run("x", 0, val_accuracy=[0.1, 0.15, 0.3, 0.5], seconds=[1.0] * 4),
            ex.Run("x", 1, val_accuracy=[0.1, 0.25, 0.6, 0.7], seconds=[1.0] * 4),
            ex.Run("x", 2, val_accuracy=[0.1] * 4, seconds=[1.0] * 4)]
    assert [r.escape_epoch(0.1) for r in runs] == [3, 2, None]
    s = ex.summarize(runs, chance=0.1)
    assert s.escape_epoch == 2.5 and s.escaped_text == "2/3"
    assert s.interval_text == "{:.2f}–{:.2f}".format(*ex.wilson_interval(2, 3))


def test_parallel_runs_equal_sequential_ones_and_variants_carry_eps(tmp_path, monkeypatch):
    """run_variants maps tutorial 04's train over variants × seeds: the same Runs with two
    worker processes as with none, and a variant's own ε reaches its optimizer."""
    ex = load("_experiments")
    t04 = load("04_depth")
    args = load("_settings").depth(["--smoke", "--depth", "2", "--width", "3", "--figdir",
                                    str(tmp_path)], t04.VARIANTS)
    rng = np.random.default_rng(0)
    X = rng.random((48, 1, 8, 8), dtype=np.float32)
    data = ((X, rng.integers(0, 3, 48)), (X[:16], rng.integers(0, 3, 16)))
    variants = [ex.Variant("a", "lkrelu"), ex.Variant("b", "selu", eps=0.5)]
    seen = []

    real = t04.make_optimizer
    def spy(name, model, lr, decay=0.0, eps=None):
        seen.append(eps)
        return real(name, model, lr, decay, eps)

    monkeypatch.setattr(t04, "make_optimizer", spy)
    one = ex.run_variants(t04.train, variants, [0, 1], data, args, jobs=1)
    two = ex.run_variants(t04.train, variants, [0, 1], data, args, jobs=2)
    assert seen == [None, None, 0.5, 0.5]                 # the worker processes' calls not seen
    for label in ("a", "b"):
        assert [r.val_accuracy for r in one[label]] == [r.val_accuracy for r in two[label]]
        assert [r.loss for r in one[label]] == [r.loss for r in two[label]]


def test_all_dead_layer_finds_a_layer_killed_by_hand():
    """A net whose second ReLU gets a huge negative bias has that layer all dead: found,
    and training stops there, filling the remaining epochs."""
    import linkedref as lk
    ex = load("_experiments")
    rng = np.random.default_rng(0)
    model = lk.depth_net(3, 4, "relu", in_channels=1, input_size=(8, 8), rng=0)
    X = rng.random((40, 1, 8, 8), dtype=np.float32)
    y = rng.integers(0, 10, 40)
    assert ex.all_dead_layer(model, X) is None
    model.layers[2].params["b"][...] = -1e3             # conv 2's bias: relu 2 never fires
    assert ex.all_dead_layer(model, X) == 2
    run = ex.Run("ReLU", 0)
    assert ex.stop_if_dead(run, model, lk.SoftmaxCrossEntropy(), ((X, y), (X, y)), 0, 4)
    assert run.stopped == 0 and run.trained_epochs == 0 and len(run.val_accuracy) == 4


def test_run_all_passes_threads_and_mode_on(tmp_path, monkeypatch, capsys):
    run_all = load("run_all")
    echo = tmp_path / "00_echo.py"
    echo.write_text("import sys\nprint('ARGS', *sys.argv[1:])\nprint('VERDICT: echoed')\n")
    monkeypatch.setattr(run_all, "HERE", tmp_path)
    assert run_all.main(["--smoke", "--threads", "2"]) == 0
    assert "ARGS --smoke --backend numpy --threads 2" in capsys.readouterr().out


FAKE_TUTORIAL = """import sys
if "--help" in sys.argv:
    print("usage: fake.py [-h] " + " ".join("[" + o + " X]" for o in {options!r}.split()))
    print()
    print("  --threads THREADS  (--jobs trains runs side by side: other tutorials)")
    sys.exit(0)
print("ARGS", *sys.argv[1:])
print("runs:   0%|   | 0/2 [00:00<?, ?run/s]", end="\\r")
print("runs:  50%|#  | 1/2 [00:01<00:01, 1.0run/s]", end="\\r")
print("runs: 100%|## | 2/2 [00:02<00:00, 1.0run/s]")
print("VERDICT: echoed")
"""


def test_run_all_gives_dataset_and_jobs_to_the_tutorials_that_take_them(tmp_path, monkeypatch,
                                                                        capsys):
    """--dataset and --jobs reach only the tutorials whose --help offers them; with mnist5k only
    those run, unless --only names others."""
    run_all = load("run_all")
    (tmp_path / "00_takes.py").write_text(FAKE_TUTORIAL.format(options="--dataset --jobs"))
    (tmp_path / "01_plain.py").write_text(FAKE_TUTORIAL.format(options="--seed"))
    monkeypatch.setattr(run_all, "HERE", tmp_path)
    assert run_all.main(["--smoke", "--dataset", "mnist5k", "--jobs", "2"]) == 0
    out = capsys.readouterr().out
    assert "ARGS --smoke --backend numpy --threads 1 --dataset mnist5k --jobs 2" in out
    assert "01_plain.py" not in out
    assert run_all.main(["--smoke", "--dataset", "mnist5k", "--only", "00", "01", "--jobs",
                         "2"]) == 0
    out = capsys.readouterr().out
    assert "ARGS --smoke --backend numpy --threads 1 --dataset mnist5k --jobs 2\n" in out
    assert "ARGS --smoke --backend numpy --threads 1\n" in out       # 01 runs, without them
    assert not (tmp_path / "results").exists()                       # smoke mode saves nothing


@pytest.mark.slow
def test_run_all_reads_each_tutorials_own_options():
    """--dataset and --jobs as the real tutorials declare them (their usage lines)."""
    run_all = load("run_all")
    takes = {p.name[:2]: run_all.options_of(p) for p in run_all.tutorials()}
    assert [k for k, o in takes.items() if "--dataset" in o] == ["03", "04", "05", "06", "07",
                                                                  "08"]
    assert [k for k, o in takes.items() if "--jobs" in o] == ["03", "04", "06", "08"]
    assert [k for k, o in takes.items() if "--activation" in o] == ["03", "04", "05", "06", "07",
                                                                     "08", "09"]


def test_run_all_full_mode_saves_each_output_under_a_header(tmp_path, monkeypatch, capsys):
    run_all = load("run_all")
    (tmp_path / "00_takes.py").write_text(FAKE_TUTORIAL.format(options="--dataset"))
    monkeypatch.setattr(run_all, "HERE", tmp_path)
    assert run_all.main(["--dataset", "mnist5k"]) == 0
    text = (tmp_path / "results" / "00_takes_mnist5k.txt").read_text()
    assert text.startswith("== 00_takes: python tutorials/00_takes.py --backend numpy")
    assert "date: " in text and "code: " in text and "load average: " in text
    assert "threads: --threads 1 in each of 1 training process(es)" in text
    assert "runs: 100%" in text and "runs:  50%" not in text and "runs:   0%" not in text
    assert "ARGS --backend numpy --threads 1 --dataset mnist5k" in text
    assert "VERDICT: echoed" in text and "exit status 0; wall time " in text


def test_per_mode_and_figure_names_follow_the_dataset(tmp_path, capsys):
    """mnist5k's full-mode setting replaces the full one only in full mode on mnist5k; a
    figure off the digits carries the data set in its name."""
    common = load("_common")
    parser = common.make_parser("x", "xx", data=True)
    picks = {}
    for argv in ([], ["--dataset", "mnist5k"], ["--quick", "--dataset", "mnist5k"]):
        args = common.start(parser, argv + ["--figdir", str(tmp_path)])
        picks[" ".join(argv)] = common.per_mode(args, 1, 2, 3, full_mnist5k=4)
        fig = common.plt.figure()
        assert common.save_figure(fig, "x.png", args).name == (
            "x.png" if args.dataset == "digits" else "x_mnist5k.png")
    assert picks == {"": 3, "--dataset mnist5k": 4, "--quick --dataset mnist5k": 2}
    assert common.per_mode(args, 1, 2, 3) == 2


@pytest.mark.parametrize("argv, folder", [(["--smoke"], "quick"), (["--quick"], "quick"),
                                          ([], "")])
def test_only_full_mode_writes_the_tracked_figures(argv, folder, capsys):
    """Quick and smoke figures go to figures/quick/ (git-ignored); full mode to figures/."""
    common = load("_common")
    assert common.FIGURES == TUTORIALS.parent / "figures"
    args = common.start(common.make_parser("x", "xx", data=True), argv)
    assert args.figdir == (common.FIGURES / folder if folder else common.FIGURES)
    assert args.dataset == "digits" and args.threads == 1
    assert f"figures go to figures/{folder + '/' if folder else ''}" in capsys.readouterr().out


def test_quick_figures_are_git_ignored():
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    root = TUTORIALS.parent
    ignored = subprocess.run(["git", "check-ignore", "-q", "figures/quick/01_linked_units.png"],
                             cwd=root, capture_output=True)
    if ignored.returncode == 128:
        pytest.skip("not a git checkout")
    assert ignored.returncode == 0, "figures/quick/ is not in .gitignore"


def test_optimizer_settings_pass_through():
    """make_optimizer keeps the library's defaults unless told (eps: tutorial 04's --eps)."""
    import linkedref as lk
    common = load("_common")
    model = lk.Sequential([lk.Dense(2, 3, rng=np.random.default_rng(0))])
    assert common.make_optimizer("adam", model, 1e-3).eps == lk.Adam(model).eps
    opt = common.make_optimizer("rmsprop", model, 1e-4, decay=1e-6, eps=1e-3)
    assert (opt.lr, opt.decay, opt.eps) == (1e-4, 1e-6, 1e-3)
    assert common.optimizer_text("adam", 1e-3, 1e-6, eps=1e-7) == \
        "Adam(lr=0.001, beta1=0.9, beta2=0.999, eps=1e-07, decay=1e-06)"
    with pytest.raises(ValueError, match="unknown optimizer"):
        common.make_optimizer("sgd", model, 1e-3)


# ---------------------------------------------------------------------------- --help texts
def option_help(text: str) -> dict:
    """{option: its help text} from argparse's --help output."""
    entries, current = {}, None
    for line in text.split("options:", 1)[1].splitlines():
        if line.startswith("  -"):
            head, _, rest = line.strip().partition("  ")
            current = head.split()[0].rstrip(",")
            entries[current] = rest.strip()
        elif line.startswith("     ") and current:
            entries[current] = (entries[current] + " " + line.strip()).strip()
    return entries


@pytest.mark.parametrize("name", sorted(CASES) + ["run_all"])
def test_help_explains_every_option_once(name, capsys):
    with pytest.raises(SystemExit) as stop:
        load(name).main(["--help"])
    assert stop.value.code == 0
    text = capsys.readouterr().out
    entries = option_help(text)
    assert {"--quick", "--smoke", "--backend", "--threads", "--figdir"} <= set(entries)
    for option, help_text in entries.items():
        assert help_text, f"{name}: {option} has no help text"
        assert help_text.count("default") <= 1, f"{name}: {option} states its default twice"
    assert "(default: None)" not in text


# -------------------------------------------------------------------------- notebooks, style
def notebook(name):
    jupytext = pytest.importorskip("jupytext")
    return jupytext.read(TUTORIALS / f"{name}.py")


@pytest.mark.parametrize("name", sorted(CASES))
def test_tutorial_converts_to_a_notebook(name):
    """jupytext reads each tutorial as a notebook: prose in markdown cells, and setup,
    experiment, table, figure and verdict in separate code cells, in that order."""
    nb = notebook(name)
    markdown = [c for c in nb.cells if c.cell_type == "markdown"]
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    assert len(nb.cells) >= 5 and len(markdown) >= 5
    assert markdown[0].source.startswith(f"# Tutorial {name[:2]}")
    steps = ["def setup(", "def experiment(", "def table(", "def figure(", "def verdict("]
    where = [next(i for i, c in enumerate(code) if step in c) for step in steps]
    assert where == sorted(set(where)), f"{name}: steps not in separate cells in order: {where}"
    assert 'if __name__ == "__main__"' in code[-1]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_notebook_cells_run_top_to_bottom(name, tmp_path, monkeypatch, capsys):
    """The code cells, run in order in one namespace without __file__ (as a Jupyter kernel
    runs them), do the whole tutorial, each step once; here with --smoke instead of the
    notebook's --quick."""
    nb = notebook(name)
    cells = [c.source for c in nb.cells if c.cell_type == "code"]
    run = f'notebook_args=["--smoke", "--figdir", {str(tmp_path)!r}]'
    assert sum('notebook_args=["--quick"]' in c for c in cells) == 1
    cells = [c.replace('notebook_args=["--quick"]', run) for c in cells]
    monkeypatch.chdir(TUTORIALS)
    monkeypatch.syspath_prepend(str(TUTORIALS))
    namespace = {"__name__": "__main__"}
    for source in cells:
        exec(compile(source, f"<{name} cell>", "exec"), namespace)
    out = capsys.readouterr().out
    assert namespace["story"].notebook and "VERDICT:" in out
    assert out.count("VERDICT:") == 1, "main() ran as well as the cells"
    assert (tmp_path / CASES[name][0]).exists()


def test_results_files_are_whole_runs_that_results_md_quotes():
    """Each saved full-mode output ends with exit status 0 under a provenance header, and
    tutorials/RESULTS.md names every one of them (and no file that is missing)."""
    import re
    results = TUTORIALS / "results"
    files = sorted(results.glob("*.txt"))
    assert files, "no results files"
    page = (TUTORIALS / "RESULTS.md").read_text(encoding="utf-8")
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert text.startswith(f"== {path.stem.replace('_mnist5k', '')}: python tutorials/")
        for key in ("date: ", "code: commit ", "machine: ", "load average: ", "threads: "):
            assert f"\n{key}" in text, (path.name, key)
        assert re.search(r"\nexit status 0; wall time \d+ s\n$", text), path.name
        assert "VERDICT: " in text, path.name
        assert f"tutorials/results/{path.name}" in page, f"RESULTS.md does not quote {path.name}"
    for named in re.findall(r"tutorials/results/([\w.]+\.txt)", page):
        assert (results / named).exists(), f"RESULTS.md names a missing {named}"


# ------------------------------------------------------------------ the learner's own unit
USER_UNITS = '''"""A learner's units, in a file of their own (tutorials take them as --activation).
"""
import linkedref as lk
import linkedref.backend as B


class TutSoftplus(lk.Activation):
    """LK-Softplus: (softplus(z), softplus(-z)) on axis 1."""
    expansion = 2

    def forward(self, x, training=False):
        self.check_input(x)
        xp = B.get_array_module(x)
        y = xp.concatenate([xp.logaddexp(0, x), xp.logaddexp(0, -x)], axis=1)
        self.save_for_backward(x, output_shape=y.shape)
        return y

    def backward(self, dy, need_dx=True):
        x = self.saved(dy)
        xp = B.get_array_module(x)
        C = x.shape[1]
        s = 1 / (1 + xp.exp(-x))
        return dy[:, :C] * s - dy[:, C:] * (1 - s)


class LKReLU(TutSoftplus):
    """Named like a built-in."""


class TutFlipped(TutSoftplus):
    """The mirror's minus sign dropped in backward: d softplus(-z)/dz = -(1 - s)."""

    def backward(self, dy, need_dx=True):
        x = self.saved(dy)
        C = x.shape[1]
        s = 1 / (1 + B.get_array_module(x).exp(-x))
        return dy[:, :C] * s + dy[:, C:] * (1 - s)


class TutOneMember(TutSoftplus):
    """Two members on axis 1, but expansion says one."""
    expansion = 1


class TutTwice(lk.Activation):
    """(relu(z), relu(z)): two members, but no linkage (both slopes are 0 for z < 0)."""
    expansion = 2

    def forward(self, x, training=False):
        self.check_input(x)
        r = B.get_array_module(x).maximum(x, 0)
        self.save_for_backward(x, output_shape=(x.shape[0], 2 * x.shape[1]) + x.shape[2:])
        return B.get_array_module(x).concatenate([r, r], axis=1)

    def backward(self, dy, need_dx=True):
        x = self.saved(dy)
        C = x.shape[1]
        return (dy[:, :C] + dy[:, C:]) * (x > 0)


class NotAUnit:
    """forward and backward, but no lk.Activation."""

    def forward(self, x, training=False):
        return x

    def backward(self, dy, need_dx=True):
        return dy
'''


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """A module of units in the current directory, as a learner keeps one."""
    (tmp_path / "tut_units.py").write_text(USER_UNITS)
    (tmp_path / "tut_broken.py").write_text("raise RuntimeError('half-written unit')\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield "tut_units"
    for name in ("tut_units", "tut_broken"):
        sys.modules.pop(name, None)


def test_a_learners_unit_trains_beside_the_built_ins(user_module, tmp_path, capsys):
    """--activation MODULE:CLASS adds the unit as one more activation: trained, in the table
    under its class name, judged by a stated dead-unit definition."""
    steps = load("03_dead_units").main(["--smoke", "--figdir", str(tmp_path), "--activation",
                                        f"{user_module}:TutSoftplus"])
    out = capsys.readouterr().out
    assert list(steps["runs"]) == ["relu", "lkrelu", "tutsoftplus"]
    assert any(line.startswith("TutSoftplus ") and "/48" in line for line in out.splitlines())
    assert "  TutSoftplus: exact zeros" in out
    assert (tmp_path / "03_dead_units.png").exists()


@pytest.mark.slow
def test_a_learners_unit_runs_in_worker_processes(user_module, tmp_path, capsys):
    """With --jobs 2 the unit trains in worker processes too, in table and figures."""
    steps = load("04_depth").main(["--smoke", "--jobs", "2", "--figdir", str(tmp_path),
                                   "--activation", f"{user_module}:TutSoftplus"])
    assert [v.label for v in steps["args"].variants] == ["ReLU", "LK-ReLU", "TutSoftplus"]
    assert len(steps["runs"]["TutSoftplus"]) == 1 and steps["runs"]["TutSoftplus"][0].val_accuracy
    assert "TutSoftplus " in capsys.readouterr().out
    assert (tmp_path / "04_depth_escape.png").exists()


@pytest.mark.parametrize("spec, message", [
    ("no_such_units:X", "cannot import module 'no_such_units' (ModuleNotFoundError"),
    ("tut_broken:X", "cannot import module 'tut_broken' (RuntimeError: half-written unit)"),
    ("tut_units:Missing", "module 'tut_units'"),
    ("tut_units:NotAUnit", "NotAUnit is not an lk.Activation"),
    ("tut_units:LKReLU", "the name 'lkrelu' is taken by another unit"),
    ("tut_units", "expected MODULE:CLASS"),
    ("tut_units:TutOneMember", "outputs shape (4, 6) for an input of shape (4, 3), but its "
                              "expansion is 1"),
])
def test_a_unit_that_cannot_be_used_is_refused_with_the_reason(user_module, spec, message,
                                                               capsys):
    with pytest.raises(SystemExit) as stop:
        load("03_dead_units").main(["--smoke", "--activation", spec])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "--activation" in err and message in err, err


def test_a_unit_with_a_wrong_backward_is_refused_by_the_gradient_check(user_module, capsys):
    """A unit whose mirror lost its minus sign is not trained: the refusal names the gradient
    check, the failing member and the hint, and how to iterate on the unit alone."""
    with pytest.raises(SystemExit) as stop:
        load("03_dead_units").main(["--smoke", "--activation", f"{user_module}:TutFlipped"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert f"--activation: {user_module}:TutFlipped: TutFlipped fails the gradient check" in err
    assert "member 1, the mirror: dL/dx wrong" in err and "sign flipped?" in err, err
    assert "lk.gradcheck(TutFlipped(), x)" in err and "python -m linkedref.gradcheck" in err


def test_linked_means_members_and_the_linking_condition(user_module, tmp_path, capsys):
    """The built-ins keep their grouping; a unit of two members that fails check_linkage is
    grouped with the single units, and the setup says why."""
    load("03_dead_units")
    import _common
    linked = {n for n in ("relu", "prelu", "selu", "swish", "leaky_relu", "elu", "tanh",
                          "sigmoid", "lkrelu", "lkprelu", "lkselu", "lkswish", "lkleaky_relu",
                          "lkelu") if _common.is_linked(n)}
    assert linked == {"lkrelu", "lkprelu", "lkselu", "lkswish", "lkleaky_relu", "lkelu"}
    steps = load("03_dead_units").main(["--smoke", "--figdir", str(tmp_path), "--activation",
                                        f"{user_module}:TutTwice"])
    out = capsys.readouterr().out
    assert not _common.is_linked("tuttwice") and _common.is_linked("lkrelu")
    assert (f"your unit TutTwice ({user_module}:TutTwice): its backward agrees with finite "
            "differences (lk.gradcheck: max relative error ") in out
    assert "; 2 members, but it counts as a single unit here, not a linked one: " \
           "lk.check_linkage fails, LinkageCheck(ok=False" in out
    dead = {a: np.mean([r["dead"][-1].sum() for r in rs]) for a, rs in steps["runs"].items()}
    assert f"single nets: {np.mean([dead['relu'], dead['tuttwice']]):.1f};" in out
    assert f"VERDICT: linked nets: {dead['lkrelu']:.1f} dead units" in out


def test_run_all_passes_the_learners_units_on(tmp_path, monkeypatch, capsys):
    """--activation reaches the tutorials whose --help offers it, once per unit, and a run
    with one writes no results file."""
    run_all = load("run_all")
    (tmp_path / "00_takes.py").write_text(FAKE_TUTORIAL.format(options="--activation"))
    (tmp_path / "01_plain.py").write_text(FAKE_TUTORIAL.format(options="--seed"))
    monkeypatch.setattr(run_all, "HERE", tmp_path)
    assert run_all.main(["--activation", "m:A", "--activation", "m:B"]) == 0
    out = capsys.readouterr().out
    assert "ARGS --backend numpy --threads 1 --activation m:A --activation m:B\n" in out
    assert "ARGS --backend numpy --threads 1\n" in out
    assert not (tmp_path / "results").exists()


# ------------------------------------------------------------------------ tutorials as stories
@pytest.mark.parametrize("name", sorted(CASES))
def test_tutorial_is_a_story_of_at_most_300_lines(name):
    """Header once (a markdown cell, no module docstring repeating it), each step written once
    (defined as a story step and called nowhere else), and the file ≤ 300 lines."""
    import ast
    import re
    source = (TUTORIALS / f"{name}.py").read_text(encoding="utf-8")
    assert len(source.splitlines()) <= 300, f"{name}: {len(source.splitlines())} lines"
    assert source.startswith(f"# %% [markdown]\n# # Tutorial {name[:2]}")
    assert ast.get_docstring(ast.parse(source)) is None, f"{name}: the header again, as a docstring"
    steps = re.findall(r"@story\.step\([^)]*\)\ndef (\w+)\(", source)
    assert steps[0] == "setup" and "verdict" in steps
    for step in steps:
        assert len(re.findall(rf"\b{step}\(", source)) == 1, f"{name}: {step} is called too"
    assert "NOTEBOOK" not in source and "argparse" not in source


def test_tutorial_02s_unit_is_one_to_copy(tmp_path, capsys):
    """Tutorial 02's hand-written unit follows the unit protocol (lk.Activation, saved(dy),
    need_dx), its sigmoid does not overflow, and its broken twin is reported as a probable
    sign error in the mirror member."""
    import warnings

    import linkedref as lk
    t02 = load("02_gradient_check")
    unit = t02.MyLKSwish()
    assert isinstance(unit, lk.Activation) and unit.expansion == 2
    z = np.array([[-1000.0, -30.0, 0.0, 30.0, 1000.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")                     # an overflow in exp would raise
        y = unit.forward(z)
        dz = unit.backward(np.ones_like(y))
    assert np.isfinite(y).all() and np.isfinite(dz).all()
    assert y[0, 0] == 0.0 and y[0, 9] == 0.0               # swish(−1000) and the mirror of 1000
    assert unit.backward(np.ones_like(y), need_dx=False) is None
    with pytest.raises(ValueError, match="shape"):
        unit.backward(np.ones((1, 5)))                     # saved(dy) checks dy's shape
    t02.main(["--smoke", "--figdir", str(tmp_path)])
    out = capsys.readouterr().out
    assert "member 1, the mirror: dL/dx wrong" in out and "sign flipped?" in out


def test_depth_variants_take_tutorial_03s_spelling(tmp_path, capsys):
    """04's --variants (alias --activations) matches labels ignoring case, '-' and spaces, so
    `--activations relu lkrelu` (03's registry names) picks ReLU and LK-ReLU; others are refused."""
    settings, t04 = load("_settings"), load("04_depth")
    args = settings.depth(["--smoke", "--figdir", str(tmp_path), "--activations", "relu",
                           "lkrelu", "relu+bn"], t04.VARIANTS)
    assert [v.label for v in args.variants] == ["ReLU", "LK-ReLU", "ReLU+BN"]
    with pytest.raises(SystemExit):
        settings.depth(["--smoke", "--figdir", str(tmp_path), "--variants", "relu6"], t04.VARIANTS)
    err = capsys.readouterr().err
    assert "unknown variants ['relu6']; choose from ['ReLU'," in err
    assert err.endswith("] (a unit of your own comes in with --activation MODULE:CLASS)\n")


def test_dead_units_take_tutorial_04s_labels_and_name_the_way_in_for_others(tmp_path, capsys):
    settings, t03 = load("_settings"), load("03_dead_units")
    args = settings.dead_units(["--quick", "--figdir", str(tmp_path), "--activations", "ReLU",
                                "LK-ReLU", "lk_prelu"], t03.ACTIVATIONS)
    assert args.activations == ["relu", "lkrelu", "lkprelu"]
    with pytest.raises(SystemExit):
        settings.dead_units(["--quick", "--figdir", str(tmp_path), "--activations", "relu",
                             "lksoftplus"], t03.ACTIVATIONS)
    assert "unknown activations ['lksoftplus']; choose from ['relu', 'lkrelu'," in \
        capsys.readouterr().err
