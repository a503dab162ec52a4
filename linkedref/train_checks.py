"""What ``fit``, ``evaluate`` and ``predict`` check before any step: nothing trains on a mistake.

Data (numeric, finite, one N, labels in range), arguments (positive integers, instances), the
optimizer (built on this model) and one sample through the model (its output fits the labels or
targets): each refused with a message naming what is wrong.
"""
from __future__ import annotations

import numpy

from . import backend as B
from .layer import takes_need_dx

CHECK_ROWS = 4096                       # rows of X checked for NaN/inf at a time (bounded memory)


def check_fit(model, loss, optimizer, X, y, epochs, batch_size, validation, sync_every):
    """Every check of ``fit``; returns (X, y, validation or None, dtype) as host arrays and the
    loss of an all-zero output on y[:256] (ln K for K classes), the scale of a sensible start."""
    for what, obj in (("model", model), ("loss", loss), ("optimizer", optimizer)):
        if isinstance(obj, type):
            example = f" built on the model, e.g. {obj.__name__}(model, lr=1e-3)"
            raise TypeError(f"fit: {what} is the class {obj.__name__}, not an instance; pass "
                            f"{obj.__name__}(...)" + (example if what == "optimizer" else ""))
    if not takes_need_dx(model):
        raise TypeError(f"fit: {type(model).__name__}.backward(dy) must also take need_dx (the "
                        "layer protocol: def backward(self, dy, need_dx=True); fit passes "
                        "need_dx=False, as the data need no gradient)")
    check_positive_int("fit", "epochs", epochs)
    check_positive_int("fit", "batch_size", batch_size)
    if sync_every is not None:
        check_positive_int("fit", "sync_every", sync_every)
    check_optimizer(model, optimizer)
    classification = is_classification(loss)
    dtype = dtype_of(model)
    X, y = check_data("fit", X, y, classification)
    out = check_against_model("fit", model, X, y, loss, dtype)
    zeros = B.xp().zeros((min(len(y), 256),) + tuple(out.shape[1:]), dtype=dtype)
    zero_loss = B.to_float(loss.forward(zeros, B.asarray(y[:256], dtype=None if classification
                                                        else dtype)))
    if validation is not None:
        if not (isinstance(validation, (tuple, list)) and len(validation) == 2):
            raise TypeError("fit: validation must be a pair (X_val, y_val)")
        validation = check_data("fit (validation)", *validation, classification)
        check_against_model("fit (validation)", model, *validation, loss, dtype)
    return X, y, validation, dtype, zero_loss


def check_inference(where, model, loss, X, y, batch_size):
    """evaluate's and predict's checks: (X, y) as host arrays, and the model's dtype."""
    check_positive_int(where, "batch_size", batch_size)
    dtype = dtype_of(model)
    X, y = check_data(where, X, y, is_classification(loss))
    check_against_model(where, model, X, y, loss, dtype)
    return X, y, dtype


def is_classification(loss) -> bool:
    """Whether accuracy (argmax against integer labels) means anything for ``loss``."""
    return bool(getattr(loss, "classification", False))


def dtype_of(model):
    """The model's parameter dtype (batches are cast to it), else the default dtype."""
    dtype = getattr(model, "dtype", None)
    return B.get_default_dtype() if dtype is None else dtype


def check_optimizer(model, optimizer) -> None:
    """The optimizer must have ``step`` and ``set_epoch`` and update *this* model's params."""
    for method in ("step", "set_epoch"):
        if not callable(getattr(optimizer, method, None)):
            raise TypeError(f"fit: optimizer must have a {method}() method, "
                            f"got {type(optimizer).__name__}")
    own = getattr(optimizer, "model", model)
    if own is model:
        return
    ids = {id(p) for p in getattr(own, "params", {}).values()}
    if ids != {id(p) for p in model.params.values()}:
        raise ValueError(f"fit: the optimizer ({type(optimizer).__name__}) was built on another "
                         "model: its parameters are not this model's, so training would change "
                         "nothing here. Build it on this model: Adam(model, ...)")


def check_positive_int(where, name, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, numpy.integer)) or value < 1:
        raise ValueError(f"{where}: {name} must be an integer ≥ 1, got {value!r}")


def check_data(where, X, y, classification):
    """X (N, ...) and y as host NumPy arrays, checked once: numeric, finite, same N, labels ≥ 0."""
    X = B.to_numpy(X)
    if X.dtype.kind not in "fiu":
        raise TypeError(f"{where}: expected a numeric X, got dtype {X.dtype}")
    if X.ndim < 2 or len(X) == 0:
        raise ValueError(f"{where}: expected X of shape (N, ...) with N ≥ 1 and at least 2 "
                         f"dimensions, got shape {X.shape}")
    if X.dtype.kind == "f":
        check_finite_rows(where, X)
    if y is None:
        return X, None
    y = B.to_numpy(y)
    if len(y) != len(X):
        raise ValueError(f"{where}: X has {len(X)} samples but y has {len(y)}")
    if classification:
        if y.ndim == 2 and y.shape[1] > 1:
            raise ValueError(f"{where}: y has shape {y.shape}, one-hot labels? The loss takes one "
                             "class index per sample, shape (N,): pass y.argmax(1)")
        if y.dtype.kind not in "iu":
            raise TypeError(f"{where}: expected integer class labels, got dtype {y.dtype}")
        if y.ndim != 1:
            raise ValueError(f"{where}: expected labels of shape (N,), got shape {y.shape}")
        if y.min() < 0:
            raise ValueError(f"{where}: labels must be ≥ 0, got {int(y.min())}")
    elif y.dtype.kind not in "fiu" or (y.dtype.kind == "f" and not numpy.isfinite(y).all()):
        raise ValueError(f"{where}: expected finite numeric targets, got dtype {y.dtype}")
    return X, y


def check_finite_rows(where, X) -> None:
    """ValueError naming the first sample of X that holds NaN or inf (checked in chunks)."""
    for start in range(0, len(X), CHECK_ROWS):
        chunk = X[start:start + CHECK_ROWS]
        ok = numpy.isfinite(chunk.reshape(len(chunk), -1)).all(axis=1)   # rows
        if not ok.all():
            row = start + int(numpy.argmin(ok))
            raise ValueError(f"{where}: X contains NaN or inf (first at sample {row})")


def check_against_model(where, model, X, y, loss, dtype):
    """One sample through the model (inference mode), returned: the model takes X's samples and
    its output fits y under ``loss`` (None: no labels). Errors name X's shape and blame it only
    when the first layer refuses it."""
    try:
        out = model.forward(B.asarray(X[:1], dtype=dtype), training=False)
    except (ValueError, TypeError) as err:
        if not getattr(err, "first_layer", True):        # a later layer: the model is at fault
            raise type(err)(f"{where}: the model's layers do not fit together: {err}") from err
        raise type(err)(f"{where}: the model does not take samples of shape {X.shape[1:]} "
                        f"(X has shape {X.shape}): {err}") from err
    if y is None:
        return out
    if is_classification(loss):
        if out.ndim != 2:
            raise ValueError(f"{where}: a classification loss needs model outputs (N, K), "
                             f"got shape {tuple(out.shape)}")
        K = out.shape[1]
        if K == 1:
            raise ValueError(f"{where}: the model has 1 output, but {type(loss).__name__} needs "
                             "one output per class: end it with Dense(..., 2) for labels 0/1")
        if y.max() >= K:
            raise ValueError(f"{where}: labels must lie in [0, {K}) for a model with {K} "
                             f"outputs, got the label {int(y.max())}")
    elif tuple(out.shape[1:]) != tuple(y.shape[1:]):
        raise ValueError(f"{where}: model outputs per sample have shape {tuple(out.shape[1:])}, "
                         f"the targets {tuple(y.shape[1:])}")
    return out
