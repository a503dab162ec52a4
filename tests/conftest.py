"""Shared test setup: the `gpu` marker skips without CuPy+device; hypothesis runs a fixed,
derandomized profile (short and the same on every run)."""
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import linkedref.backend as B

# The README's test command (and CI) runs the fixed "linkedref" profile: derandomized, so one
# commit gives one result. `HYPOTHESIS_PROFILE=explore python -m pytest` searches fresh examples;
# whatever it finds becomes an explicit @example regression case.
settings.register_profile("linkedref", max_examples=15, deadline=None, derandomize=True,
                          database=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("explore", max_examples=200, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "linkedref"))


def _cupy_available():
    try:
        B._import_cupy()
        return True
    except ValueError:
        return False


def pytest_collection_modifyitems(config, items):
    if _cupy_available():
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


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def xp():
    """The active backend's array module (numpy, or cupy under LINKEDREF_BACKEND=cupy)."""
    return B.xp()
