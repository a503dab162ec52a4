"""The guide "Write your own linked unit" runs as written, from the guide itself: the README's
section and the site's page (docs/guide.md) are read, their fenced blocks taken in order, and run
in a fresh folder the way a reader runs them:

- a python block whose first line is ``# NAME.py`` is the file the guide tells the reader to
  write: it is written there under that name;
- every other python block runs, one after the other, in one namespace, from that folder;
- the reader's file runs where the guide says ``python NAME.py``, and passes the project's
  ruff check, since the guide puts it in the repository's folder;
- a bash line that runs a tutorial with ``--activation`` runs it as written but in smoke mode
  (``--smoke`` for ``--quick``: the same code on a few steps; marked slow).

Nothing is copied from the guide into this file, so the guide cannot go stale.
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README_SECTION = "## Write your own linked unit"
FILE_BLOCK = re.compile(r"\A# (\w+\.py)\b")


def _blocks(text):
    """[(language, code)] of the fenced blocks of a markdown text, in order."""
    return re.findall(r"^```(\w+)\n(.*?)^```$", text, re.S | re.M)


def _guides():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index(README_SECTION)
    end = readme.find("\n## ", start + 1)
    page = (ROOT / "docs" / "guide.md").read_text(encoding="utf-8")
    return {"README": readme[start:end if end > 0 else None], "docs/guide.md": page}


GUIDES = _guides()


def _commands(blocks):
    """The bash lines of the guide, comments dropped."""
    return [line.split("  #")[0].strip() for lang, code in blocks if lang == "bash"
            for line in code.splitlines() if line.strip()]


def _env(folder):
    paths = [str(folder), str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(
        os.pathsep) if p]
    return dict(os.environ, PYTHONPATH=os.pathsep.join(paths), MPLBACKEND="Agg")


def test_the_readme_section_is_short_and_walks_every_step():
    section = GUIDES["README"].rstrip("\n").splitlines()
    assert len(section) <= 40, f"the README's guide has {len(section)} lines (at most 40)"
    text = "\n".join(section)
    for step in ("lk.Activation", "save_for_backward", "saved(dy)", "lk.gradcheck", "strict",
                 "lk.check_linkage", "lk.register_activation", "03_dead_units.py",
                 "04_depth.py", "dead_units", "dead_definition", "atol"):
        assert step in text, f"the README's guide leaves out {step}"


@pytest.mark.parametrize("guide", sorted(GUIDES))
def test_the_guide_runs_as_written(guide, tmp_path, monkeypatch):
    blocks = _blocks(GUIDES[guide])
    files = [FILE_BLOCK.match(code).group(1) for lang, code in blocks
             if lang == "python" and FILE_BLOCK.match(code)]
    assert files, f"{guide}: no block of the reader's own file (first line '# NAME.py')"
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    from linkedref import backend, registry
    monkeypatch.setattr(registry, "_UNITS", dict(registry._UNITS))   # the name does not leak
    before = backend.get_backend()
    namespace = {"__name__": "guide"}
    try:
        for lang, code in blocks:
            if lang != "python":
                continue
            name = FILE_BLOCK.match(code)
            if name:
                (tmp_path / name.group(1)).write_text(code, encoding="utf-8")
            else:
                exec(compile(code, f"{guide} (a python block)", "exec"), namespace)
    finally:
        backend.set_backend(before)
        for module in [m for m in sys.modules if f"{m}.py" in files]:
            del sys.modules[module]
    for name in files:
        if f"python {name}" in GUIDES[guide]:         # the guide says to run it
            run = subprocess.run([sys.executable, name], cwd=tmp_path, env=_env(tmp_path),
                                 capture_output=True, text=True, timeout=300)
            assert run.returncode == 0, f"{guide}: python {name}\n{run.stdout}\n{run.stderr}"
        lint = subprocess.run([sys.executable, "-m", "ruff", "check", "--config",
                               str(ROOT / "pyproject.toml"), name], cwd=tmp_path,
                              capture_output=True, text=True)  # a reader's file in the repo
        assert lint.returncode == 0, f"{guide}: ruff on {name}\n{lint.stdout}"  # passes ruff


def _tutorial_commands():
    """(guide, command) for each distinct tutorial command of the guides."""
    found = {}
    for guide, text in sorted(GUIDES.items()):
        for c in _commands(_blocks(text)):
            if c.startswith("python tutorials/"):
                found.setdefault(c, guide)
    return sorted((guide, c) for c, guide in found.items())


@pytest.mark.slow
@pytest.mark.parametrize("guide, command", _tutorial_commands())
def test_the_guides_tutorial_runs_take_the_unit(guide, command, tmp_path):
    """The tutorial steps, in smoke mode, on NumPy (the strict run adds nothing here)."""
    words = ["--smoke" if w == "--quick" else w for w in command.split()]
    script = ROOT / words[1]
    source = script.read_text(encoding="utf-8") + (ROOT / "tutorials" / "_common.py").read_text(
        encoding="utf-8")
    if not re.search(r"""["']--activation["']""", source):
        pytest.skip(f"{words[1]} does not take --activation yet")
    if os.environ.get("LINKEDREF_BACKEND", "numpy") != "numpy":
        pytest.skip("the tutorial steps run once, on NumPy")
    blocks = _blocks(GUIDES[guide])
    for lang, code in blocks:
        name = FILE_BLOCK.match(code) if lang == "python" else None
        if name:
            (tmp_path / name.group(1)).write_text(code, encoding="utf-8")
    run = subprocess.run([sys.executable, str(script), *words[2:]], cwd=tmp_path,
                         env=_env(tmp_path), capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, f"{guide}: {command}\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    assert "LKSoftplus" in run.stdout or "LK-Softplus" in run.stdout, run.stdout[-2000:]
