"""Shared test setup: the `gpu` marker skips without CuPy+device; hypothesis runs a fixed,
derandomized profile (short and the same on every run).

Under LINKEDREF_BACKEND=strict (the CuPy stand-in, linkedref/strict.py) the `gpu` tests run with
"cupy" meaning the stand-in; strict_host_only.py lists the files it skips (host only by nature)."""
import functools
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from strict_host_only import HOST_FILES

import linkedref.backend as B
import linkedref.strict

STRICT = B.get_backend() == "strict"

# The README's test command (and CI) runs the fixed "linkedref" profile: derandomized, so one
# commit gives one result. `HYPOTHESIS_PROFILE=explore python -m pytest` searches fresh examples;
# whatever it finds becomes an explicit @example regression case.
settings.register_profile("linkedref", max_examples=15, deadline=None, derandomize=True,
                          database=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("explore", max_examples=200, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "linkedref"))


@functools.cache
def _cupy_available():
    try:
        B._import_cupy()
        return True
    except ValueError:
        return False


def pytest_collection_modifyitems(config, items):
    if STRICT:
        for item in items:
            file = item.nodeid.split("::")[0]
            if file in HOST_FILES:
                item.add_marker(pytest.mark.skip(reason=f"host only: {HOST_FILES[file]}"))
    if _cupy_available() or STRICT:
        return
    skip = pytest.mark.skip(reason="needs CuPy and a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _restore_backend_state():
    """Each test starts from the session's backend and float32, and leaves them as it found them."""
    name, dtype = B.get_backend(), B.get_default_dtype()
    yield
    B.set_backend(name)
    B.set_default_dtype(dtype)


@pytest.fixture(autouse=True)
def _gpu_tests_on_the_stand_in(request, monkeypatch):
    """Under LINKEDREF_BACKEND=strict without CuPy, a `gpu` test's "cupy" is the stand-in."""
    if STRICT and "gpu" in request.keywords and not _cupy_available():
        monkeypatch.setattr(B, "_import_cupy", lambda: linkedref.strict)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def xp():
    """The active backend's array module (numpy; cupy or the stand-in under LINKEDREF_BACKEND)."""
    return B.xp()
