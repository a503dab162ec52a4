"""lk.set_threads: one setting for the threads (BLAS on one each: threadpoolctl), restored by
lk.fast.using_threads."""
import pytest
from threadpoolctl import threadpool_info

import linkedref as lk


def _blas_threads():
    return {i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"}


def test_set_threads_limits_blas_and_using_threads_restores_the_setting():
    try:
        lk.set_threads(1)
        assert lk.get_threads() == 1 and _blas_threads() <= {1}
        with lk.fast.using_threads(2):
            assert lk.get_threads() == 2
        assert lk.get_threads() == 1 and _blas_threads() <= {1}
    finally:
        lk.set_threads(None)
    assert lk.get_threads() == lk.fast.threads.cpu_count()


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_bad_thread_counts_are_refused(bad):
    with pytest.raises(ValueError, match="set_threads: expected an integer ≥ 1 or None"):
        lk.set_threads(bad)
