"""The code stays readable: short functions, no module reaching into another's privates, and
method modules that name no speed machinery (the import contract itself: lint-imports)."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 60          # lines of code in a function body, its docstring not counted


def _functions(folder):
    for path in sorted((ROOT / folder).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield path.relative_to(ROOT), node


def _body_lines(node) -> int:
    first = node.body[0]
    docstring = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
        and isinstance(first.value.value, str)
    start = first.end_lineno + 1 if docstring and len(node.body) > 1 else first.lineno
    return node.end_lineno - start + 1


@pytest.mark.parametrize("folder", ["linkedref", "tutorials", "benchmarks"])
def test_no_function_is_longer_than_a_screen(folder):
    long = [f"{path}:{node.lineno} {node.name} ({_body_lines(node)} lines)"
            for path, node in _functions(folder) if _body_lines(node) > MAX_LINES]
    assert not long, "functions over ~60 lines (split them into named steps):\n" + "\n".join(long)


def test_no_module_imports_another_modules_private_names():
    found = []
    for path in sorted((ROOT / "linkedref").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module != "__future__":
                found += [f"{path.relative_to(ROOT)}: {alias.name} from {node.module}"
                          for alias in node.names if alias.name.startswith("_")]
    assert not found, "private names imported across modules:\n" + "\n".join(found)


METHOD_MODULES = ["activations", "linked", "linkage", "pooling", "optim", "dense", "conv",
                  "batchnorm", "dropout", "losses", "layer", "train", "reshape", "residual",
                  "init"]
SPEED_WORDS = ("thread", "piece", "chunk", "workspace", "batchwise", "buffer_reuse")


@pytest.mark.parametrize("module", METHOD_MODULES)
def test_method_modules_name_no_thread_piece_chunk_or_workspace(module):
    """The names in a method module's code (not its prose) say nothing of how speed is made."""
    tree = ast.parse((ROOT / "linkedref" / f"{module}.py").read_text(encoding="utf-8"))
    names = {getattr(node, attr) for node in ast.walk(tree)
             for attr in ("id", "attr", "name", "arg", "module") if isinstance(
                 getattr(node, attr, None), str)}
    found = sorted(n for n in names if any(word in n.lower() for word in SPEED_WORDS))
    assert not found, f"linkedref/{module}.py names speed machinery: {found}"


BUFFER_WORDS = ("_into", "scratch", "work_array")


def speed_habits(source: str) -> list:
    """What in ``source`` writes a formula around buffers: an ``out=`` argument, a name (function,
    variable, attribute, argument) with _into, scratch or work_array in it."""
    tree = ast.parse(source)
    found = [f"line {node.lineno}: out=" for node in ast.walk(tree) if isinstance(node, ast.Call)
             for keyword in node.keywords if keyword.arg == "out"]
    for node in ast.walk(tree):
        for attr in ("id", "attr", "name", "arg"):
            name = getattr(node, attr, None)
            if isinstance(name, str) and any(word in name.lower() for word in BUFFER_WORDS):
                found.append(f"line {node.lineno}: {name}")
    return found


@pytest.mark.parametrize("module", METHOD_MODULES)
def test_method_modules_write_no_out_argument_into_helper_or_scratch_array(module):
    """A method module reads as the math: no out=, _into helpers, scratch or work arrays (those
    are speed, and speed lives in linkedref.fast behind a kernel named for what it computes)."""
    found = speed_habits((ROOT / "linkedref" / f"{module}.py").read_text(encoding="utf-8"))
    assert not found, f"linkedref/{module}.py writes around buffers: {found}"


@pytest.mark.parametrize("source, habit", [
    ("import numpy as np\ndef f(a, b):\n    return np.add(a, b, out=a)\n", "out="),
    ("def relu_into(t, y):\n    return y\n", "relu_into"),
    ("class O:\n    def step(self):\n        s = self._scratch\n", "_scratch"),
    ("def update(p, work_array):\n    p -= work_array\n", "work_array"),
])
def test_the_speed_habit_check_finds_each_habit(source, habit):
    assert any(habit in item for item in speed_habits(source))
    assert speed_habits("def f(a, b):\n    return a + b\n") == []
