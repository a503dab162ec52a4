"""Training: ``fit`` (minibatch gradient descent), ``evaluate``, ``predict`` and the ``History``.

One training step is

    out = model.forward(xb, training=True);  l = loss.forward(out, yb)
    model.backward(loss.backward());  optimizer.step()

The data stay on the host; ``batches`` moves one minibatch at a time to the backend. Per-step
losses stay on the device and are read back every ``sync_every`` steps on CuPy, so the GPU is not
stalled each step. On NumPy every loss is read at once (it costs nothing), whatever
``sync_every`` says. A read that finds a non-finite loss stops training with a
``FloatingPointError`` naming the epoch, the step, and the first layer whose output is
non-finite — before that step's update, on NumPy always at the bad step itself.
"""
from __future__ import annotations

import math
import time

import numpy
from tqdm.auto import tqdm

from . import backend as B
from .data.batches import batches
from .layer import Sequential

SYNC_EVERY = {"numpy": 1, "cupy": 20}   # default steps between reads of the loss, per backend
_CHECK_ROWS = 4096                       # rows of X checked for NaN/inf at a time (bounded memory)


class History(dict):
    """What ``fit`` measured, per epoch: a dict of lists.

    Keys: "loss" and "seconds" always; "accuracy" for classification losses; "val_loss" (and
    "val_accuracy") when ``fit`` was given validation data. ``print(history)`` shows a table.
    """

    @property
    def epochs(self) -> int:
        return len(self.get("loss", []))

    def row(self, epoch: int) -> str:
        """One epoch as "loss 0.4321  accuracy 0.8750  ...  seconds 0.12"."""
        return "  ".join(f"{k} {v[epoch]:.4f}" if k != "seconds" else f"{k} {v[epoch]:.2f}"
                         for k, v in self.items())

    def __str__(self) -> str:
        if not self.epochs:
            return "History(no epochs)"
        keys = list(self)
        head = f"{'epoch':>5}" + "".join(f"{k:>14}" for k in keys)
        body = [f"{e + 1:>5}" + "".join(f"{self[k][e]:>14.4f}" for k in keys)
                for e in range(self.epochs)]
        return "\n".join([head, *body])

    def __repr__(self) -> str:
        return f"History({dict.__repr__(self)})"


def fit(model, loss, optimizer, X, y, epochs: int, batch_size: int = 32, validation=None,
        seed=0, progress: bool = True, shuffle: bool = True, sync_every: int | None = None):
    """Train ``model`` on (X, y) for ``epochs`` epochs; returns a ``History``.

    Args:
        model: a Layer or model (forward/backward/params/grads); ``model.layers`` is walked to
            find the first non-finite layer when it is a Sequential.
        loss: a criterion such as ``SoftmaxCrossEntropy()`` or ``MSE()``.
        optimizer: an optimizer built on ``model``; its ``set_epoch(e)`` is called every epoch.
        X: host array (N, ...) of inputs; y: (N,) integer labels or (N, ...) float targets.
        epochs: number of passes over the data. batch_size: samples per step.
        validation: optional (X_val, y_val), evaluated after every epoch.
        seed: seeds the shuffling (same seed + same initial model → the same history on NumPy).
        progress: show a tqdm bar per epoch and a line per epoch; silent when False.
        shuffle: reshuffle the samples every epoch.
        sync_every: steps between reads of the loss from a GPU (default: SYNC_EVERY). Ignored
            on NumPy, where every step's loss is read and checked at once.

    Raises:
        FloatingPointError: the loss turned non-finite (names epoch, step and first bad layer).
        ValueError/TypeError: unusable data or arguments, checked once before training.
    """
    classification = bool(getattr(loss, "classification", False))
    _check_positive_int("fit", "epochs", epochs)
    _check_positive_int("fit", "batch_size", batch_size)
    sync_every = SYNC_EVERY.get(B.get_backend(), 1) if sync_every is None else sync_every
    _check_positive_int("fit", "sync_every", sync_every)
    if _reads_are_free():
        sync_every = 1                  # NumPy: the loss is already on the host
    if not callable(getattr(optimizer, "step", None)):
        raise TypeError(f"fit: optimizer must have a step() method, got {type(optimizer).__name__}")
    dtype = _dtype_of(model)
    X, y = _check_data("fit", X, y, classification)
    _check_against_model("fit", model, X, y, classification, dtype)
    if validation is not None:
        if not (isinstance(validation, (tuple, list)) and len(validation) == 2):
            raise TypeError("fit: validation must be a pair (X_val, y_val)")
        X_val, y_val = _check_data("fit (validation)", *validation, classification)
        _check_against_model("fit (validation)", model, X_val, y_val, classification, dtype)

    keys = ["loss"] + ["accuracy"] * classification
    if validation is not None:
        keys += ["val_loss"] + ["val_accuracy"] * classification
    history = History({k: [] for k in keys + ["seconds"]})
    rng = numpy.random.default_rng(seed)
    n, steps = len(X), math.ceil(len(X) / batch_size)

    for epoch in range(epochs):
        if hasattr(optimizer, "set_epoch"):
            optimizer.set_epoch(epoch)
        start = time.perf_counter()
        run = _Running(classification)
        with tqdm(total=steps, desc=f"epoch {epoch + 1}/{epochs}", leave=False,
                  disable=not progress, unit="step") as bar:
            for step, (xb, yb) in enumerate(batches(X, y, batch_size, rng=rng, shuffle=shuffle,
                                                    dtype=dtype)):
                out = model.forward(xb, training=True)
                l = loss.forward(out, yb)
                run.add(l, len(xb), (out.argmax(axis=1) == yb).sum() if classification else None)
                if (step + 1) % sync_every == 0 or step + 1 == steps:   # read the device
                    bad = run.flush()
                    if bad is not None:                 # before the bad step's update
                        raise _non_finite_error(model, bad, step, xb, epoch, epochs, steps)
                    bar.set_postfix(run.postfix(), refresh=False)
                model.backward(loss.backward())
                optimizer.step()
                bar.update(1)
        history["loss"].append(run.loss_sum / n)
        if classification:
            history["accuracy"].append(run.correct / n)
        if validation is not None:
            val_loss, val_acc = _evaluate(model, loss, X_val, y_val, 256, dtype, classification)
            history["val_loss"].append(val_loss)
            if classification:
                history["val_accuracy"].append(val_acc)
        history["seconds"].append(time.perf_counter() - start)
        if progress:
            tqdm.write(f"epoch {epoch + 1}/{epochs}  {history.row(epoch)}")
    return history


def evaluate(model, loss, X, y, batch_size: int = 256):
    """Mean loss and accuracy of ``model`` on (X, y), with forward(training=False).

    X (N, ...) host array; y (N,) labels or (N, ...) targets. Returns (loss, accuracy) as floats;
    accuracy is None for a loss that is not a classification loss.
    """
    classification = bool(getattr(loss, "classification", False))
    _check_positive_int("evaluate", "batch_size", batch_size)
    X, y = _check_data("evaluate", X, y, classification)
    dtype = _dtype_of(model)
    return _evaluate(model, loss, X, y, batch_size, dtype, classification)


def predict(model, X, batch_size: int = 256):
    """The outputs of ``model`` on X (N, ...) with forward(training=False), as a NumPy array."""
    _check_positive_int("predict", "batch_size", batch_size)
    X, _ = _check_data("predict", X, None, False)
    dtype = _dtype_of(model)
    outs = [model.forward(xb, training=False)
            for xb, _ in batches(X, None, batch_size, shuffle=False, dtype=dtype)]
    xp = B.get_array_module(outs[0])
    return B.to_numpy(xp.concatenate(outs, axis=0))      # one device → host copy


# --------------------------------------------------------------------------------- internals
def _evaluate(model, loss, X, y, batch_size, dtype, classification):
    """Batch-size-weighted mean loss (and accuracy), summed on the device, read once."""
    total, correct = 0.0, 0
    for xb, yb in batches(X, y, batch_size, shuffle=False, dtype=dtype):
        out = model.forward(xb, training=False)
        total = total + loss.forward(out, yb) * len(xb)
        if classification:
            correct = correct + (out.argmax(axis=1) == yb).sum()
    accuracy = B.to_float(correct) / len(X) if classification else None
    return B.to_float(total) / len(X), accuracy


class _Running:
    """An epoch's per-step losses and correct counts, kept on the device until ``flush``."""

    def __init__(self, classification):
        self.classification = classification
        self.pending, self.pending_correct, self.pending_sizes = [], [], []
        self.first_pending = 0                # step index of pending[0]
        self.loss_sum, self.correct, self.seen = 0.0, 0, 0

    def add(self, l, size, correct):
        self.pending.append(l)
        self.pending_sizes.append(size)
        if correct is not None:
            self.pending_correct.append(correct)

    def flush(self):
        """Read the pending values (one device → host copy); the first bad step's (index, value)."""
        xp = B.get_array_module(self.pending[0])
        values = B.to_numpy(xp.stack(self.pending)).astype(numpy.float64)
        bad = numpy.flatnonzero(~numpy.isfinite(values))
        if bad.size:
            return self.first_pending + int(bad[0]), float(values[bad[0]])
        self.loss_sum += float(values @ numpy.asarray(self.pending_sizes, dtype=numpy.float64))
        if self.pending_correct:
            self.correct += int(B.to_numpy(xp.stack(self.pending_correct)).sum())
        self.seen += sum(self.pending_sizes)
        self.first_pending += len(self.pending)
        self.pending, self.pending_correct, self.pending_sizes = [], [], []
        return None

    def postfix(self) -> dict:
        out = {"loss": f"{self.loss_sum / self.seen:.4f}"}
        if self.classification:
            out["acc"] = f"{self.correct / self.seen:.4f}"
        return out


def _non_finite_error(model, bad, step, xb, epoch, epochs, steps):
    """A FloatingPointError naming epoch, step and the first layer whose output is non-finite."""
    bad_step, value = bad
    where = f"epoch {epoch + 1} of {epochs}, step {bad_step + 1} of {steps}"
    msg = f"fit: the loss became non-finite ({value}) at {where}"
    if bad_step != step:
        msg += (f" (read at step {step + 1}; the weights were updated since, so the layer search "
                f"below uses the current weights on the current batch — pass sync_every=1 for an "
                f"exact diagnosis)")
    found = _first_non_finite(model, xb)
    if found is None:
        msg += "; every layer's output is finite, so the loss itself overflowed"
    else:
        path, layer = found
        params_ok = all(_finite(v) for v in layer.params.values())
        msg += (f"; the first layer with non-finite output is layer {path} ({layer!r}), whose "
                f"parameters are {'finite' if params_ok else 'non-finite'}")
    return FloatingPointError(msg)


def _first_non_finite(model, x):
    """Re-run x through ``model``: (path, layer) of the first layer with non-finite output."""
    if not isinstance(model, Sequential):
        return None if _finite(model.forward(x, training=True)) else ("model", model)
    return _walk(model, x, "")


def _walk(seq, x, prefix):
    """Layer by layer through a Sequential, descending into nested Sequentials ("2.0")."""
    for i, layer in enumerate(seq.layers):
        y = layer.forward(x, training=True)
        if not _finite(y):
            if isinstance(layer, Sequential):
                return _walk(layer, x, f"{prefix}{i}.")
            return f"{prefix}{i}", layer
        x = y
    return None


def _reads_are_free() -> bool:
    """True when batches live on the host (NumPy), so reading a loss costs no device sync."""
    return B.get_backend() == "numpy"


def _dtype_of(model):
    """The model's parameter dtype (batches are cast to it), else the default dtype."""
    dtype = getattr(model, "dtype", None)
    return B.get_default_dtype() if dtype is None else dtype


def _finite(a) -> bool:
    return bool(B.get_array_module(a).isfinite(a).all())


# ---------------------------------------------------------------------------------- checks
def _check_positive_int(where, name, value):
    if isinstance(value, bool) or not isinstance(value, (int, numpy.integer)) or value < 1:
        raise ValueError(f"{where}: {name} must be an integer ≥ 1, got {value!r}")


def _check_data(where, X, y, classification):
    """X (N, ...) and y as host NumPy arrays, checked once: numeric, finite, same N, labels ≥ 0."""
    X = B.to_numpy(X) if B.is_array(X) else numpy.asarray(X)
    if X.dtype.kind not in "fiu":
        raise TypeError(f"{where}: expected a numeric X, got dtype {X.dtype}")
    if X.ndim < 2 or len(X) == 0:
        raise ValueError(f"{where}: expected X of shape (N, ...) with N ≥ 1 and at least 2 "
                         f"dimensions, got shape {X.shape}")
    if X.dtype.kind == "f":
        for start in range(0, len(X), _CHECK_ROWS):
            chunk = X[start:start + _CHECK_ROWS]
            finite = numpy.isfinite(chunk.reshape(len(chunk), -1)).all(axis=1)   # rows
            if not finite.all():
                row = start + int(numpy.argmin(finite))
                raise ValueError(f"{where}: X contains NaN or inf (first at sample {row})")
    if y is None:
        return X, None
    y = B.to_numpy(y) if B.is_array(y) else numpy.asarray(y)
    if len(y) != len(X):
        raise ValueError(f"{where}: X has {len(X)} samples but y has {len(y)}")
    if classification:
        if y.dtype.kind not in "iu":
            raise TypeError(f"{where}: expected integer class labels, got dtype {y.dtype}")
        if y.ndim != 1:
            raise ValueError(f"{where}: expected labels of shape (N,), got shape {y.shape}")
        if y.min() < 0:
            raise ValueError(f"{where}: labels must be ≥ 0, got {int(y.min())}")
    elif y.dtype.kind not in "fiu" or (y.dtype.kind == "f" and not numpy.isfinite(y).all()):
        raise ValueError(f"{where}: expected finite numeric targets, got dtype {y.dtype}")
    return X, y


def _check_against_model(where, model, X, y, classification, dtype):
    """One sample through the model (inference mode): the output fits the labels/targets."""
    out = model.forward(B.asarray(X[:1], dtype=dtype), training=False)
    if classification:
        if out.ndim != 2:
            raise ValueError(f"{where}: a classification loss needs model outputs (N, K), "
                             f"got shape {tuple(out.shape)}")
        K = out.shape[1]
        if y.max() >= K:
            raise ValueError(f"{where}: labels must lie in [0, {K}) for a model with {K} "
                             f"outputs, got the label {int(y.max())}")
    elif tuple(out.shape[1:]) != tuple(y.shape[1:]):
        raise ValueError(f"{where}: model outputs per sample have shape {tuple(out.shape[1:])}, "
                         f"the targets {tuple(y.shape[1:])}")
