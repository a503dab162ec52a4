"""Losses: softmax cross-entropy for classification, mean squared error for regression.

A loss follows the layer protocol's spirit, minus parameters:

    loss = crit.forward(y, target)   # a 0-d array on y's backend (no host sync)
    dy = crit.backward()             # dL/dy, the same shape as y

``classification`` tells ``fit`` whether accuracy (argmax of y against integer labels) means
anything for this loss.
"""
from __future__ import annotations

import numpy

from . import backend as B


class Loss:
    """Base of the losses: ``name``, the cache of the last forward, and ``saved()`` to read it.

    A subclass writes ``forward(y, target)`` (keeping what backward needs in ``self.cache``),
    ``backward()`` and ``classification``.
    """

    classification = False

    def __init__(self):
        self.cache = None

    @property
    def name(self) -> str:
        return type(self).__name__

    def saved(self):
        """The cache of the last forward (a clear error before the first)."""
        if self.cache is None:
            raise ValueError(f"{self.name}: backward() called before forward()")
        return self.cache

    def __repr__(self):
        return f"{self.name}()"


class SoftmaxCrossEntropy(Loss):
    """L = mean_n [ log Σ_k exp(z_nk) − z_n,y_n ]: softmax and cross-entropy in one stable step.

    cache: probabilities p (N, K) and labels (N,).

    Labels held in host memory (NumPy) are range-checked on every call; labels already on the
    GPU are trusted, since checking them would stall the device every step (``fit`` checks all
    labels once, up front).
    """

    classification = True

    def forward(self, logits, labels):
        """logits (N, K) float, labels (N,) integer class indices in [0, K) (NumPy or backend
        arrays, moved to logits' backend) → mean cross-entropy, a 0-d array in logits' dtype."""
        _check_output(self.name, logits, "logits")
        if logits.ndim != 2:
            raise ValueError(f"{self.name}: expected logits of shape (N, K), "
                             f"got shape {tuple(logits.shape)}")
        N, K = logits.shape
        labels = _as_labels(self.name, labels, N, K)
        _check_not_device_for_host(self.name, logits, labels, "labels")
        xp = B.get_array_module(logits)
        labels = xp.asarray(labels)                                     # N, on logits' device
        # log Σ exp(z) = m + log Σ exp(z − m) with m = max_k z: no overflow for any finite z.
        # The max term is exp(0) = 1, so Σ = 1 + r and log Σ = log1p(r), with r summed without
        # it: exact to the last bit even for a confident prediction whose loss is ~1e-9.
        top = logits.argmax(axis=1)                                     # N
        shifted = logits - xp.take_along_axis(logits, top[:, None], axis=1)   # N, K  (≤ 0)
        e = xp.exp(shifted)                                             # N, K
        rest = e.copy()
        rest[xp.arange(N), top] = 0
        total = rest.sum(axis=1)                                        # N: r = Σ − 1
        lse = xp.log1p(total)                                           # N: log Σ exp(z − m)
        picked = xp.take_along_axis(shifted, labels[:, None], axis=1)[:, 0]   # N: z_n,y_n − m
        self.cache = (e / (1 + total)[:, None], labels)                 # softmax p (N, K)
        return xp.asarray((lse - picked).mean())                        # 0-d

    def backward(self):
        """→ dlogits (N, K) = (softmax(z) − onehot(y)) / N.

        L = (1/N) Σ_n [lse(z_n) − z_n,y_n]  ⇒  dL/dz_nk = (p_nk − [k = y_n]) / N.
        """
        p, labels = self.saved()
        N = p.shape[0]
        dz = p.copy()                                                   # N, K
        dz[B.get_array_module(p).arange(N), labels] -= 1                # p − onehot(y)
        return dz / N


class MSE(Loss):
    """L = mean over all elements of (y − t)²  (Keras' mean_squared_error, averaged over the batch).

    cache: the difference y − t.
    """

    def forward(self, pred, target):
        """pred (N, ...) float, target of its shape (NumPy or backend array, moved to pred's
        backend and dtype) → mean squared error, a 0-d array in pred's dtype."""
        _check_output(self.name, pred, "predictions")
        if not B.is_array(target):
            target = numpy.asarray(target)
        if target.dtype.kind not in "fiu":
            raise TypeError(f"{self.name}: expected a numeric target, got dtype {target.dtype}")
        if tuple(target.shape) != tuple(pred.shape):
            raise ValueError(f"{self.name}: target shape {tuple(target.shape)} differs from the "
                             f"predictions' shape {tuple(pred.shape)}")
        _check_not_device_for_host(self.name, pred, target, "targets")
        xp = B.get_array_module(pred)
        diff = pred - xp.asarray(target, dtype=pred.dtype)              # same shape as pred
        self.cache = diff
        return xp.asarray((diff * diff).mean())                         # 0-d

    def backward(self):
        """→ dpred.   L = (1/S) Σ d²,  d = y − t  ⇒  dL/dy = 2 d / S  (S = number of elements)."""
        diff = self.saved()
        return diff * (2.0 / diff.size)


# ----------------------------------------------------------------------------------- checks
def _check_output(name, y, what):
    """``y``, the model's output, must be a non-empty floating-point array."""
    if not B.is_array(y):
        raise TypeError(f"{name}: expected {what} as a NumPy or CuPy array, got {type(y).__name__}")
    if y.dtype.kind != "f":
        raise TypeError(f"{name}: expected floating-point {what}, got dtype {y.dtype}")
    if y.size == 0:
        raise ValueError(f"{name}: empty {what} of shape {tuple(y.shape)}")


def _check_not_device_for_host(name, y, other, what):
    """Host (NumPy) outputs with device (CuPy) labels/targets would need an implicit
    device-to-host copy, which CuPy refuses with an obscure TypeError: say what is wrong."""
    if isinstance(y, numpy.ndarray) and B.is_array(other) and not isinstance(other, numpy.ndarray):
        raise TypeError(f"{name}: the {what} are a CuPy (GPU) array but the model's outputs "
                        f"a NumPy one; put both on one backend")


def _as_labels(name, labels, N, K):
    """``labels`` checked as N integer class indices in [0, K); host labels are range-checked."""
    if not B.is_array(labels):
        labels = numpy.asarray(labels)
    one_hot = labels.ndim == 2 and labels.shape == (N, K)
    hint = "; one-hot labels? pass y.argmax(1)" if one_hot else ""
    if labels.dtype.kind not in "iu":
        raise TypeError(f"{name}: expected integer class labels, got dtype {labels.dtype}{hint}")
    if tuple(labels.shape) != (N,):
        raise ValueError(f"{name}: expected labels of shape ({N},) to match logits with N={N}, "
                         f"got shape {tuple(labels.shape)}{hint}")
    if isinstance(labels, numpy.ndarray):
        low, high = int(labels.min()), int(labels.max())
        if low < 0 or high >= K:
            raise ValueError(f"{name}: labels must lie in [0, {K}) for {K} classes, "
                             f"got values in [{low}, {high}]")
    return labels
