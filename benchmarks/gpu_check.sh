#!/usr/bin/env bash
# The GPU check (issue 6). Run from the repository root on a machine with an NVIDIA GPU and CuPy,
# with no installs:   bash benchmarks/gpu_check.sh
# Logs go to $OUT when it is set (the device tool sets it), else to benchmarks/results/gpu_check/,
# which git ignores (benchmarks/.gitignore): the tracked results are the scripts' --save files.
# Steps: versions -> whole test suite on CuPy -> NumPy/CuPy parity of every layer ->
#        gradcheck table on CuPy -> training-step timings (CuPy, NumPy, PyTorch CUDA if present).
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=.
OUT="${OUT:-benchmarks/results/gpu_check}"
mkdir -p "$OUT"
status=0
step() {  # step NAME TIMEOUT CMD...  — run, tee to $OUT/NAME.txt, remember failures
  local name=$1 limit=$2; shift 2
  echo "=== $name: $* (limit ${limit}s)"
  timeout "$limit" "$@" 2>&1 | tee "$OUT/$name.txt"
  local rc=${PIPESTATUS[0]}
  echo "=== $name exit $rc"
  [ "$rc" -eq 0 ] || status=1
}
start=$(date +%s)
step versions 60 python - <<'PY'
import datetime, platform, subprocess
import cupy, numpy
print("date", datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
print("gpu", cupy.cuda.runtime.getDeviceProperties(0)["name"].decode())
print("cuda runtime", cupy.cuda.runtime.runtimeGetVersion(), "driver", cupy.cuda.runtime.driverGetVersion())
print("cupy", cupy.__version__, "numpy", numpy.__version__, "python", platform.python_version())
try:
    import torch
    print("torch", torch.__version__, "cuda", torch.cuda.is_available())
except ImportError:
    print("torch not installed")
print(subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv"],
                     capture_output=True, text=True).stdout)
PY
step pytest_cupy 200 env LINKEDREF_BACKEND=cupy python -m pytest -q -p no:cacheprovider tests
step parity 60 python benchmarks/parity.py --a numpy --b cupy
step gradcheck_cupy 60 python -m linkedref.gradcheck --backend cupy
# CuPy and NumPy rows in one run (the table prints the CuPy speed-up over NumPy), each against
# PyTorch on its own device when torch is importable (CUDA for CuPy rows, CPU for NumPy rows).
step bench_train 150 python benchmarks/bench_train.py --backend cupy numpy --batch 32 256 \
     --nets depth cifar --variants lkrelu --no-memory --repeats 5 --torch-device auto
echo "gpu_check finished in $(( $(date +%s) - start )) s, status $status" | tee "$OUT/summary.txt"
exit $status
