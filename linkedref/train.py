"""Training: ``fit`` (minibatch gradient descent), ``evaluate``, ``predict`` and the ``History``.

One training step is the four numbered lines of ``fit``'s loop: forward, loss, backward (with
``need_dx=False``: the data need no dL/dx) and the optimizer's in-place update. The data stay on
the host; ``batches`` moves one minibatch at a time to the backend. When a read costs a device
sync (``B.on_device()``), per-step losses stay there and are read every ``sync_every`` steps
(``LossTally``); on NumPy every loss is read at once. What stops a run, and what warns, is in
``fit``'s docstring; the checks before the first step are in ``train_checks``.
"""
from __future__ import annotations

import math
import time
import warnings

import numpy

from . import backend as B
from .data.batches import batches
from .layer import Sequential
from .progress import Progress
from .train_checks import check_fit, check_inference, is_classification

SYNC_EVERY = 20          # steps between reads of the loss from a device and checks of the weights
DIVERGING = 1e3          # warn when the loss exceeds its scale × this


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
        seed=None, progress: bool = True, shuffle: bool = True, sync_every: int | None = None):
    """Train ``model`` on (X, y) for ``epochs`` more epochs; returns their ``History``.

    Args:
        model: a Layer or model (forward/backward/params/grads).
        loss: a criterion instance such as ``SoftmaxCrossEntropy()`` or ``MSE()``.
        optimizer: an optimizer built on this ``model`` (``Adam(model)``); another model's is
            refused. It counts the epochs.
        X: host array (N, ...) of inputs; y: (N,) integer labels or (N, ...) float targets.
        epochs, batch_size: how many more epochs, of minibatches of batch_size samples (the
            last one smaller); shuffle: a new order every epoch (False: X's order).
        validation: optional (X_val, y_val), evaluated after every epoch.
        seed: None: one shuffling stream from ``lk.seed``'s number (else 0) that a later call
            continues; an int: a stream of its own. Same seed + model → same history on NumPy.
        progress: report progress — one bar when stderr is a terminal, else one line per epoch
            on stdout; nothing when False.
        sync_every: steps between reads of the loss from a device (default SYNC_EVERY; on
            NumPy every loss is read at once) and between checks that every parameter, gradient
            and optimizer state is finite (also at each epoch's end).

    Calling fit again continues from ``optimizer.epoch`` (fit calls ``set_epoch`` every epoch,
    so a schedule moves on) and, with ``seed=None``, the shuffling: five calls with ``epochs=1``
    train as one with ``epochs=5``. Early stopping is a loop around fit:

        best, wait = math.inf, 0
        while wait < 5:                         # patience: 5 epochs without a better val_loss
            h = lk.fit(model, loss, opt, X, y, epochs=1, validation=(Xv, yv), progress=False)
            wait += 1
            if h["val_loss"][0] < best:
                best, wait, kept = h["val_loss"][0], 0, copy.deepcopy(model)
        model = kept                            # the best epoch's model

    Raises:
        FloatingPointError: a non-finite loss, before that step's update, naming the epoch, the
            step and the first layer whose output is non-finite; or a non-finite parameter,
            gradient or optimizer state (Adam's v overflows silently when g² does), named.
        ValueError/TypeError: unusable data or arguments, checked once before training.
    Warns:
        RuntimeWarning: the first step's loss is over ``DIVERGING`` × an all-zero output's (huge
            from the start: inputs far off scale), or an epoch's over ``DIVERGING`` × the larger.
    """
    X, y, validation, dtype, zero_loss = check_fit(model, loss, optimizer, X, y, epochs,
                                                   batch_size, validation, sync_every)
    sync_every = sync_every or SYNC_EVERY
    read_every = sync_every if B.on_device() else 1        # a read from a device is a sync
    history = new_history(loss, validation)
    start = getattr(optimizer, "epoch", 0)
    rng = shuffle_stream(seed, start if shuffle else 0, len(X))
    steps, first, last = math.ceil(len(X) / batch_size), None, start + epochs
    with Progress(epochs, steps, enabled=progress) as report:
        for epoch in range(start, last):
            optimizer.set_epoch(epoch)
            began, tally = time.perf_counter(), LossTally(loss)
            for step, (xb, yb) in enumerate(batches(X, y, batch_size, rng=rng, shuffle=shuffle,
                                                    dtype=dtype)):
                out = model.forward(xb, training=True)                   # 1. forward
                tally.add(loss.forward(out, yb), out, yb)                # 2. loss
                if (step + 1) % read_every == 0 or step + 1 == steps:   # read the loss
                    stop_if_non_finite(tally, model, xb, (epoch, last), (step, steps))
                    report.show(tally.postfix())
                model.backward(loss.backward(), need_dx=False)           # 3. backward
                optimizer.step()                                         # 4. update
                if (step + 1) % sync_every == 0 or step + 1 == steps:   # check the weights
                    stop_if_weights_non_finite(model, optimizer, (epoch, last), (step, steps),
                                               sync_every)
                report.advance()
            record_epoch(history, tally, len(X), time.perf_counter() - began,
                         None if validation is None else evaluate(model, loss, *validation))
            first = tally.first if first is None else first
            warn_if_diverging(history, epoch - start, first, zero_loss)
            report.epoch_done(epoch - start, history.row(epoch - start))
    optimizer.set_epoch(last)
    return history


def evaluate(model, loss, X, y, batch_size: int = 256):
    """Mean loss and accuracy of ``model`` on (X, y), with forward(training=False).

    X (N, ...) host array; y (N,) labels or (N, ...) targets. Returns (loss, accuracy) as floats;
    accuracy is None for a loss that is not a classification loss. The sums stay on the device
    and are read once.
    """
    classification = is_classification(loss)
    X, y, dtype = check_inference("evaluate", model, loss, X, y, batch_size)
    total, correct = 0.0, 0
    for xb, yb in batches(X, y, batch_size, shuffle=False, dtype=dtype):
        out = model.forward(xb, training=False)
        total = total + loss.forward(out, yb) * len(xb)
        if classification:
            correct = correct + (out.argmax(axis=1) == yb).sum()
    accuracy = B.to_float(correct) / len(X) if classification else None
    return B.to_float(total) / len(X), accuracy


def predict(model, X, batch_size: int = 256):
    """The outputs of ``model`` on X (N, ...) with forward(training=False), as a NumPy array."""
    X, _, dtype = check_inference("predict", model, None, X, None, batch_size)
    outs = [model.forward(xb, training=False)
            for xb, _ in batches(X, None, batch_size, shuffle=False, dtype=dtype)]
    xp = B.get_array_module(outs[0])
    return B.to_numpy(xp.concatenate(outs, axis=0))      # one device → host copy


# ------------------------------------------------------------------------- fit's named steps
def shuffle_stream(seed, skip, n):
    """``seed``'s generator; for None, ``lk.seed``'s number's (else 0's) past ``skip`` epochs."""
    rng = B.as_generator(seed if seed is not None else B.get_seed() or 0)
    for _ in range(skip if seed is None else 0):
        rng.permutation(n)
    return rng


def new_history(loss, validation) -> History:
    """An empty History with the keys this run will fill."""
    classification = is_classification(loss)
    keys = ["loss"] + ["accuracy"] * classification
    if validation is not None:
        keys += ["val_loss"] + ["val_accuracy"] * classification
    return History({k: [] for k in keys + ["seconds"]})


def record_epoch(history, tally, n, seconds, validation) -> None:
    """Append one epoch's mean loss (and accuracy), validation results and time."""
    row = {"loss": tally.loss_sum / n, "accuracy": tally.correct / n, "seconds": seconds}
    if validation is not None:
        row["val_loss"], row["val_accuracy"] = validation
    for key in history:
        history[key].append(row[key])


def warn_if_diverging(history, epoch, first, zero_loss) -> None:
    """fit's RuntimeWarning for a loss huge from the start or growing (see fit's Warns)."""
    now, scale = history["loss"][epoch], max(first, zero_loss)
    if epoch == 0 and zero_loss > 0 and first > DIVERGING * zero_loss:
        msg = (f"the loss is huge from the start ({first:.4g}, an all-zero output's is "
               f"{zero_loss:.4g}): are the inputs far off the unit scale? Standardise X")
    elif scale > 0 and now > DIVERGING * scale:
        msg = (f"the mean loss of epoch {epoch + 1} is {now:.4g}, over {DIVERGING:g}× its "
               f"start {scale:.4g}: training is diverging; try a smaller learning rate")
    else:
        return
    warnings.warn(f"fit: {msg}", RuntimeWarning, stacklevel=3)


class LossTally:
    """An epoch's per-step losses and correct counts, kept on the device until ``read``."""

    def __init__(self, loss):
        self.classification = is_classification(loss)
        self.pending, self.pending_correct, self.pending_sizes = [], [], []
        self.first_pending = 0                # step index of pending[0]
        self.loss_sum, self.correct, self.seen = 0.0, 0, 0
        self.first = None                     # the epoch's first step's loss, once read

    def add(self, value, out, labels):
        """One step's loss (0-d array) and, for classification, its count of correct argmaxes."""
        self.pending.append(value)
        self.pending_sizes.append(len(out))
        if self.classification:
            self.pending_correct.append((out.argmax(axis=1) == labels).sum())

    def read(self):
        """Read the pending values (one device → host copy); the first bad step's (index, value),
        or None when every value is finite."""
        xp = B.get_array_module(self.pending[0])
        values = B.to_numpy(xp.stack(self.pending)).astype(numpy.float64)
        bad = numpy.flatnonzero(~numpy.isfinite(values))
        if bad.size:
            return self.first_pending + int(bad[0]), float(values[bad[0]])
        self.first = float(values[0]) if self.first is None else self.first
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


# ------------------------------------------------------------------ the non-finite diagnosis
def stop_if_weights_non_finite(model, optimizer, epochs, steps, every) -> None:
    """A FloatingPointError naming the first parameter whose value, gradient or optimizer state
    (``optimizer.state[key]``) is non-finite: one sum per array, one read of their total (a NaN
    or inf anywhere makes it non-finite; so may an overflow, which the per-array check clears)."""
    arrays = []                                          # (parameter key, what, array)
    for key, p in model.params.items():
        arrays += [(key, "its value", p), (key, "its gradient", model.grads.get(key))]
        for name, a in getattr(optimizer, "state", {}).get(key, {}).items():
            arrays.append((key, f"{type(optimizer).__name__}'s state {name!r}", a))
    arrays = [(key, what, a) for key, what, a in arrays if hasattr(a, "sum")]
    if math.isfinite(B.to_float(sum(a.sum() for _, _, a in arrays))):
        return                                           # the common case: one read
    bad = [(key, what) for key, what, a in arrays if not finite(a)]
    if not bad:
        return                                           # the total overflowed, no array did
    key = bad[0][0]
    whats = [what for k, what in bad if k == key]
    if "its gradient" in whats:
        cause = "a gradient is non-finite: check the backward of the layer that owns it"
    elif whats == ["its value"]:
        cause = "an update overflowed"
    else:
        cause = "the gradients are so large that the optimizer's state overflowed (Adam's v: g²)"
    (epoch, n_epochs), (step, n_steps) = epochs, steps
    when = f"by epoch {epoch + 1} of {n_epochs}, step {step + 1} of {n_steps}"
    if every > 1:
        when += (f" (checked every {every} steps and at each epoch's end; sync_every=1 checks "
                 "every step)")
    raise FloatingPointError(
        f"fit: parameter {key!r} became non-finite ({', '.join(whats)}) {when}: {cause}. "
        "Standardise X if its values are far off the unit scale; else lower the learning rate")


def stop_if_non_finite(tally, model, xb, epochs, steps) -> None:
    """Read the tally; on a non-finite loss raise a FloatingPointError naming epoch, step and
    the first layer whose output is non-finite (``epochs``/``steps``: (index, total))."""
    bad = tally.read()
    if bad is None:
        return
    (epoch, n_epochs), (step, n_steps) = epochs, steps
    bad_step, value = bad
    msg = (f"fit: the loss became non-finite ({value}) at epoch {epoch + 1} of {n_epochs}, "
           f"step {bad_step + 1} of {n_steps}")
    if bad_step != step:
        msg += (f" (read at step {step + 1}; the weights were updated since, so the layer search "
                f"below uses the current weights on the current batch — pass sync_every=1 for an "
                f"exact diagnosis)")
    found = first_non_finite(model, xb)
    if found is None:
        msg += "; every layer's output is finite, so the loss itself overflowed"
    else:
        path, layer = found
        params_ok = all(finite(v) for v in layer.params.values())
        msg += (f"; the first layer with non-finite output is layer {path} ({layer!r}), whose "
                f"parameters are {'finite' if params_ok else 'non-finite'}")
    raise FloatingPointError(msg)


def first_non_finite(model, x):
    """Re-run x through ``model`` layer by layer (descending into nested Sequentials):
    (dotted path, layer) of the first layer with non-finite output, or None."""
    if not isinstance(model, Sequential):
        return None if finite(model.forward(x, training=True)) else ("model", model)
    for i, layer in enumerate(model.layers):
        y = layer.forward(x, training=True)
        if not finite(y):
            inner = first_non_finite(layer, x) if isinstance(layer, Sequential) else None
            return (f"{i}.{inner[0]}", inner[1]) if inner else (str(i), layer)
        x = y
    return None


def finite(a) -> bool:
    return bool(B.get_array_module(a).isfinite(a).all())
