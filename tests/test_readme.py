"""The README's promises about itself: CI runs exactly its test command and the linter, and its
code examples use the names the package has."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _commands():
    return re.findall(r"```bash\n(.*?)```", README, re.S)


def test_ci_runs_the_readme_test_command_and_the_linter():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    test_block = next(b for b in _commands() if "pytest" in b).strip().splitlines()
    for line in test_block:
        command = line.split("#")[0].strip()
        assert command in ci, f"{command!r} is in the README but not in .ci/run"


def test_examples_import_linkedref_as_lk():
    assert "import linkedref as lk" in README and "import linkedref as lr" not in README
