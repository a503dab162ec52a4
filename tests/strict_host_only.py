"""What LINKEDREF_BACKEND=strict leaves out of the suite (conftest reads both tables).

HOST_FILES: test files with no device arrays to check (tutorials pinned to --backend numpy, the
README, source shape, data files on the host); skipped under the stand-in.

HOST_ONLY: tests that hand NumPy data to device layers or lean on NumPy's own behaviour. They
fail under the stand-in, as they would under LINKEDREF_BACKEND=cupy on a GPU, so conftest marks
them xfail(strict=True). Each entry is a to-do: once its test moves its data with B.asarray /
B.to_numpy (or skips off NumPy) it passes, the strict xfail reports that, and the entry goes.
Keys are node ids without parameters; values say why the test fails on a device.
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

_HOST_INPUT = "feeds a NumPy input to a layer whose parameters are on the device"

HOST_ONLY = {
    "tests/test_backend.py::test_cupy_without_cupy_or_device_names_cupy":
        "asserts that the session's backend is numpy",
    "tests/test_containers.py::test_batchnorm_refuses_one_value_per_channel_in_training":
        _HOST_INPUT,
    "tests/test_conv.py::test_line_windows_read_the_windows_and_the_layer_uses_them":
        "conv2d_reference of a NumPy x with device W and b (numpy.einsum on a device array)",
    "tests/test_conv.py::test_a_view_into_a_larger_array_with_inf_beside_it_trains_finitely":
        _HOST_INPUT,
    "tests/test_conv.py::test_interleaved_layers_share_the_workspace_safely": _HOST_INPUT,
    "tests/test_conv.py::test_bad_inputs_name_conv2d_and_the_shapes":
        _HOST_INPUT + " (the device check fires before the shape check)",
    "tests/test_end_to_end.py::test_linked_mlp_with_loss_passes_gradcheck":
        "assigns a NumPy draw into a device bias (b[...] = away_from_kinks(...))",
    "tests/test_gradcheck.py::test_non_contiguous_parameters_are_refused":
        "CuPy's deepcopy makes a C-contiguous copy, so gradcheck's copy is contiguous and "
        "nothing is refused",
    "tests/test_need_dx.py::test_the_same_grads_as_backward_and_no_input_gradient": _HOST_INPUT,
    "tests/test_need_dx.py::test_conv2d_without_dx_runs_neither_dx_path": _HOST_INPUT,
    "tests/test_need_dx.py::test_dense_without_dx_multiplies_only_for_the_grads":
        _HOST_INPUT + "; it also counts calls to numpy.matmul, which device code never makes",
    "tests/test_need_dx.py::test_backward_without_dx_checks_like_backward": _HOST_INPUT,
    "tests/test_need_dx.py::test_a_first_layer_that_takes_only_dy_is_asked_for_dx": _HOST_INPUT,
    "tests/test_optim.py::test_a_subclass_rule_sees_whole_parameters_at_any_thread_count":
        "numpy.array(param) and numpy.sqrt of a device array in the test's own update rule",
}
