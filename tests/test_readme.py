"""The README's promises about itself: CI runs exactly its test command and the linters, and its
code examples use the names the package has."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _commands():
    return re.findall(r"```bash\n(.*?)```", README, re.S)


def test_ci_runs_the_readme_test_command_and_the_linters():
    """The test command is a line of .ci/run as written; the linters' line ("ruff check . &&
    lint-imports") may be written there one command a line."""
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    test_block = next(b for b in _commands() if "pytest" in b).strip().splitlines()
    assert any("pytest" in line and line.strip() in ci for line in test_block), \
        "the README's test command is not a line of .ci/run"
    for line in test_block:
        command = line.split("#")[0].strip()
        parts = [command] if "pytest" in command else [c.strip() for c in command.split("&&")]
        for part in parts:
            assert part in ci, f"{part!r} is in the README but not in .ci/run"
    assert any("lint-imports" in line for line in test_block), "the README names no lint-imports"


def test_examples_import_linkedref_as_lk():
    assert "import linkedref as lk" in README and "import linkedref as lr" not in README
