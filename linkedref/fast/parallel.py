"""DataParallel: a model's batch split across threads, each piece on a replica of the model.

    model = lk.fast.DataParallel(lk.cifar_net(activation="lkrelu"))    # lk.get_threads() pieces
    opt = lk.Adam(model)                                               # the model's own params
    lk.fit(model, loss, opt, X, y, epochs=1)

What it speeds up: every pass of a training step at once, on ``get_threads()`` cores, with no
layer knowing of threads (PyTorch's ``DataParallel`` does the same across devices). Forward cuts
the batch into one piece per thread; replica i runs ``forward`` on piece i; the outputs are
concatenated. Backward cuts dy the same way; each replica runs ``backward`` on its piece; then the
model's grads are the sum of the replicas' grads, which is the gradient of the whole batch, since
every loss here is a mean over samples written into dy.

The plain twin is the wrapped model itself: at one thread this is just ``model``. The replicas are
deep copies of the model that share its parameter arrays (the same dicts: an optimizer's in-place
update reaches all of them) and own their caches, grads and random generators (Dropout's), spawned
from the model's.

Whether splitting pays is measured, not guessed: a small net on a small batch spends its time in
Python, which one thread at a time may run (the GIL), and then runs faster whole. So, per batch
size, the steps after the first (which may create lazy parameters) alternate: ``TRIALS`` steps
whole, then ``TRIALS`` split, each timed from forward to the end of backward; from then on the
batch size runs the faster way (a batch size seen only in evaluation, never timed, runs whole).

What changes with the number of threads, and why: each grad is summed in another order (piece by
piece, then the pieces), so results agree with one thread's to rounding, not bit for bit; and a
replica's Dropout draws its own masks. Since the choice between whole and split is timed, two runs
with the same seed may differ in those ways: ``DataParallel(model, measure=False)`` always splits,
and so makes a run repeat.

What is never split: a model with batch statistics (``buffers``: BatchNorm), whose statistics
would be the piece's, not the batch's; a forward with ``training=False`` (evaluation, and the
diagnostics, which watch the model's own layers); arrays on a GPU, where the device already runs
the whole batch at once.

The replicas copy the model when they are made; they are made anew when its parameter arrays or
its layers change. Change a layer's settings in place (Dropout's p, LeakyReLU's alpha)? Call
``refresh()``.
"""
from __future__ import annotations

import copy
import time

import numpy

from .. import backend as B
from .threads import get_threads, one_malloc_arena, parallel

TRIALS = 3          # timed steps of each way, whole and split, before a batch size keeps one


class DataParallel:
    """``model``'s forward and backward on ``get_threads()`` pieces of the batch at once.

    Everything else — ``params``, ``grads``, ``buffers``, ``named_children``, ``dtype`` — is the
    model's own, under the same keys, so optimizers, ``fit``, ``save_weights`` and the
    diagnostics see the model itself.
    """

    def __init__(self, model, measure=True):
        for method in ("forward", "backward"):
            if not callable(getattr(model, method, None)):
                raise TypeError(f"DataParallel: the model needs a {method}() method, "
                                f"got a {type(model).__name__}")
        one_malloc_arena()          # replicas allocate side by side: one arena holds less
        self.module = model
        self.replicas = []          # copies of the model for pieces 1, 2, ... (piece 0: model)
        self.signature = None       # the parameter arrays the replicas share, by id
        self.pieces = None          # the batch's slices in the last forward (None: not split)
        self.seen = False           # whether the model ran a forward since it was wrapped
        self.measure = measure      # choose whole or split per batch size by timing both
        self.timings = {}           # (N, threads) → {"whole": [s, ...], "split": [s, ...]}
        self.started = None         # (that way's trial times, start) of the step being timed

    # -- what the wrapped model shows ---------------------------------------------------------
    params = property(lambda self: self.module.params)
    grads = property(lambda self: self.module.grads)
    buffers = property(lambda self: self.module.buffers)
    dtype = property(lambda self: getattr(self.module, "dtype", None))

    def named_children(self):
        return self.module.named_children()

    def astype(self, dtype):
        self.module.astype(dtype)
        return self

    def to(self, backend):
        self.module.to(backend)
        self.refresh()
        return self

    def refresh(self):
        """Make the replicas anew at the next split step (after changing the model's layers)."""
        self.replicas, self.signature = [], None

    def children(self):
        return self.module.children()

    def __call__(self, x, training=False):
        return self.forward(x, training=training)

    def __repr__(self):
        return f"DataParallel({self.module!r})"

    # -- forward and backward -----------------------------------------------------------------
    def forward(self, x, training=False):
        """x (N, ...) → the model's output for the whole batch, computed piece by piece."""
        self.pieces = self.split(len(x)) if training and B.get_array_module(x) is numpy else None
        if self.pieces is None:
            self.start_clock(len(x), training)
            self.seen = True
            for replica in self.replicas:       # their activations of a split step can go
                drop_caches(replica)
            return self.module.forward(x, training=training)
        models = [self.module, *self.replicas_for(len(self.pieces))]
        self.start_clock(len(x), training)      # after making replicas: the step itself counts
        outs = [None] * len(self.pieces)

        def run(i):
            outs[i] = models[i].forward(x[self.pieces[i]], training=training)

        parallel(run, range(len(self.pieces)))
        return B.get_array_module(outs[0]).concatenate(outs)

    def backward(self, dy, need_dx=True):
        """dy (N, ...) → dx (N, ...) or None; the model's grads: Σ over the replicas' grads."""
        if self.pieces is None:
            dx = self.module.backward(dy, need_dx=need_dx)
            self.stop_clock()
            return dx
        models = [self.module, *self.replicas[:len(self.pieces) - 1]]
        dxs = [None] * len(self.pieces)

        def run(i):
            dxs[i] = models[i].backward(dy[self.pieces[i]], need_dx=need_dx)

        parallel(run, range(len(self.pieces)))
        set_summed_grads(self.module, models[1:])
        self.stop_clock()
        return None if not need_dx else B.get_array_module(dxs[0]).concatenate(dxs)

    # -- how the batch is cut, and the replicas -----------------------------------------------
    def split(self, N):
        """The slices of a training batch of N (one per thread, sizes within one), or None: run
        whole (one thread, one sample, batch statistics, the model's first forward, which may
        create its parameters, or whole measured faster)."""
        n = min(get_threads(), N)
        if n <= 1 or self.module.buffers or not self.seen or self.way_for(N) == "whole":
            return None
        bounds = [N * i // n for i in range(n + 1)]
        return [slice(bounds[i], bounds[i + 1]) for i in range(n)]

    def way_for(self, N):
        """"whole" or "split" for a batch of N at this thread count: the way still short of
        ``TRIALS`` timed steps (whole first), then the faster one (always "split" unmeasured)."""
        if not self.measure:
            return "split"
        times = self.timings.setdefault((N, get_threads()), {"whole": [], "split": []})
        for way in ("whole", "split"):
            if len(times[way]) < TRIALS:
                return way
        return "whole" if min(times["whole"]) <= min(times["split"]) else "split"

    def start_clock(self, N, training):
        """Time this step if it is a trial (a training step, after the first, of a batch size
        still short of its trials)."""
        self.started = None
        times = self.timings.get((N, get_threads()))
        if self.measure and training and self.seen and times is not None:
            way = "whole" if self.pieces is None else "split"
            if len(times[way]) < TRIALS:
                self.started = (times[way], time.perf_counter())

    def stop_clock(self):
        if self.started is not None:
            trials, start = self.started
            trials.append(time.perf_counter() - start)
            self.started = None

    def replicas_for(self, n):
        """``n − 1`` replicas, made anew when the model's layers or parameter arrays changed."""
        signature = (tuple(id(layer) for layer in layers_of(self.module)),
                     tuple((k, id(v)) for k, v in self.module.params.items()))
        if signature != self.signature or len(self.replicas) < n - 1:
            self.replicas = [replica_of(self.module) for _ in range(1, n)]
            self.signature = signature
        return self.replicas[:n - 1]


def set_summed_grads(model, replicas):
    """Add the replicas' grads into the ``model``'s, which its backward has just set as new
    arrays (the layer protocol's rule), so the model's grads are the batch's: no array of an
    earlier step is written into, and no third array is made per parameter."""
    for layer, *others in zip(layers_of(model), *map(layers_of, replicas)):
        if "grads" in vars(layer):                # a leaf: its own dict, not a container's view
            for key, total in layer.grads.items():
                for other in others:
                    total += other.grads[key]


def drop_caches(model):
    """Forget what ``model`` and its layers keep for backward."""
    for layer in layers_of(model):
        if hasattr(layer, "cache"):
            layer.cache = layer.out_shape = None


def replica_of(model):
    """A replica of ``model`` (the module docstring says what it shares and owns): a deep copy
    made with the model's caches set aside and its parameter arrays not copied at all."""
    layers = [layer for layer in layers_of(model) if hasattr(layer, "cache")]
    caches = [layer.cache for layer in layers]
    shared = {id(v): v for layer in layers if "params" in vars(layer)
              for v in layer.params.values()}
    try:
        for layer in layers:
            layer.cache = None
        replica = copy.deepcopy(model, shared)
    finally:
        for layer, cache in zip(layers, caches):
            layer.cache = cache
    for mine, theirs in zip(layers_of(replica), layers_of(model)):
        if "params" in vars(theirs):              # a leaf: its own dict, not a container's view
            mine.params = theirs.params           # the same dict, the same arrays
        for method in ("forward", "backward"):    # a watcher's wrapper set on the model's layer
            vars(mine).pop(method, None)
        for name, value in vars(theirs).items():
            if isinstance(value, numpy.random.Generator):
                setattr(mine, name, value.spawn(1)[0])
    return replica


def layers_of(model):
    """``model`` and every layer inside it, depth first (duck-typed: ``named_children``; the
    import contract keeps fast/ from importing ``layer.walk``, which does the same)."""
    yield model
    for _, child in model.named_children():
        yield from layers_of(child)
