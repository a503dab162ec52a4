"""What LINKEDREF_BACKEND=strict leaves out of the suite (conftest reads the table).

HOST_FILES: test files with no device arrays to check (tutorials pinned to --backend numpy, the
README, source shape, data files on the host); skipped under the stand-in.

Every other test runs under the stand-in as it would under LINKEDREF_BACKEND=cupy on a GPU: it
moves its data with B.asarray / B.to_numpy and builds arrays with B.xp(); a test about NumPy's
own behaviour skips off NumPy with a reason (tests/test_fast.py).
"""
HOST_FILES = {
    "tests/test_tutorials.py": "the tutorials pin --backend numpy (and train for seconds)",
    "tests/test_readme.py": "checks the README's text and .ci/run",
    "tests/test_code_shape.py": "reads the source; no arrays",
    "tests/test_gpu_check_script.py": "checks a shell script; no arrays",
    "tests/test_thread_setting.py": "BLAS threads of the NumPy backend",
    "tests/test_data_download.py": "host data files (NumPy by design); the move to the device "
                                   "is test_batches.py's",
    "tests/test_data_formats.py": "host data files (NumPy by design)",
    "tests/test_data_digits.py": "host data files (NumPy by design)",
}
