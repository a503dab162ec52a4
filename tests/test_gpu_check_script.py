"""benchmarks/gpu_check.sh can only run on a GPU machine; here we check it is well formed and
that everything it calls exists and parses its options."""
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_check.sh"


def test_script_parses_and_its_python_files_exist():
    if shutil.which("bash") is None:
        pytest.skip("no bash")
    assert subprocess.run(["bash", "-n", str(SCRIPT)]).returncode == 0
    text = SCRIPT.read_text()
    files = re.findall(r"python (benchmarks/\w+\.py)", text)
    assert {"benchmarks/parity.py", "benchmarks/bench_train.py"} <= set(files)
    for f in files:
        assert (ROOT / f).is_file(), f


def test_bench_train_accepts_the_options_the_script_passes():
    text = SCRIPT.read_text().replace("\\\n", " ")
    line = re.search(r"bench_train\.py (.*?)\n(?!\s)", text, re.S)
    options = line.group(1).split()
    out = subprocess.run([sys.executable, "benchmarks/bench_train.py", *options, "--help"],
                         cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
