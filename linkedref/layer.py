"""The layer protocol every piece of linkedref follows, and the containers built on it.

A layer is an object with

- ``y = layer.forward(x, training=False)`` — computes the output and keeps what backward needs
  (``save_for_backward``);
- ``dx = layer.backward(dy, need_dx=True)`` — given dL/dy (y's shape and dtype) returns dL/dx (same
  shape as x). It never changes ``dy`` in place. ``need_dx=False`` (from ``fit``, which
  ``Sequential`` passes to its first layer) says that no one needs dL/dx: the input is data, so a
  layer may skip that product and return None (Conv2D and Dense do; the others return dx anyway);
- ``layer.params`` and ``layer.grads`` — dicts with the same keys (empty for parameter-free
  layers). Optimizers read both afresh each step and update ``params`` in place;
- ``layer.buffers`` — state that is saved with the weights but not trained (BatchNorm's running
  statistics);
- ``layer.expansion`` — outputs per input feature/channel: 1, or d for a d-member linked unit.

Gradients, one rule: ``backward`` *sets* ``self.grads[key] = <new array>`` holding dL/dparam of
the last forward. It replaces the old array — never adds to it, never writes into it — so a grad
read earlier keeps its values, and a second backward gives the second gradient, not a sum.

Caches: forward calls ``self.save_for_backward(cache, output_shape=y.shape)`` (``cache``: what
backward needs — x, a mask, a tuple; None for nothing), and backward reads it back with
``self.saved(dy)``, which first checks that dy has the output's shape.

Units (ReLU, LK-ReLU, a linked unit of one's own) are layers too; what more a unit has is written
in one place, the docstring of ``lk.Activation`` (activations.py).

Containers (``Sequential`` here, ``Residual``, ``Linked``) hold child layers and expose their
params under dotted names ("0.W", "3.block.1.gamma"). A layer object may appear only once in a
container tree: its cache holds one forward pass, so a second use would overwrite the first.
"""
from __future__ import annotations

import inspect
import numbers

from . import backend as B


class Layer:
    """Base class: ``params``, ``grads``, ``buffers``, the cache, the parameter dtype."""

    expansion = 1        # outputs per input feature/channel (a mirror-linked unit has 2)

    def __init__(self):
        self.params: dict = {}
        self.grads: dict = {}
        self.buffers: dict = {}
        self.cache = None
        self.out_shape = None
        self.dtype = B.get_default_dtype()   # dtype of parameters created now or lazily later

    # -- the protocol -----------------------------------------------------------------------
    def forward(self, x, training: bool = False):
        raise NotImplementedError

    def backward(self, dy, need_dx=True):
        raise NotImplementedError

    def __call__(self, x, training: bool = False):
        return self.forward(x, training=training)

    @property
    def name(self) -> str:
        return type(self).__name__

    def children(self) -> list:
        """Sub-layers (containers override this)."""
        return []

    def named_children(self) -> list:
        """[(name, child), ...]: the names are the first part of the children's parameter keys."""
        return [(str(i), child) for i, child in enumerate(self.children())]

    # -- what forward keeps for backward ----------------------------------------------------
    def save_for_backward(self, cache, *, output_shape=None) -> None:
        """Keep ``cache`` and ``output_shape`` (the module docstring's rule; None: no dy check)."""
        if B.is_array(output_shape):
            raise TypeError(f"{self.name}: save_for_backward(cache, output_shape=y.shape) takes "
                            "the output's shape, not the output")
        self.cache = cache
        self.out_shape = None if output_shape is None else tuple(output_shape)

    def saved(self, dy=None):
        """The last forward's cache; with ``dy``, first check that dy has the output's shape (and,
        in a layer with parameters, their dtype)."""
        if self.cache is None and self.out_shape is None:
            raise ValueError(f"{self.name}: backward() called before forward() (or a forward "
                             "that keeps nothing: self.save_for_backward(cache, "
                             "output_shape=y.shape))")
        if dy is not None:
            if not B.is_array(dy):
                raise TypeError(f"{self.name}: dy must be a NumPy or CuPy array, "
                                f"got {type(dy).__name__}")
            if self.out_shape is not None and tuple(dy.shape) != self.out_shape:
                raise ValueError(f"{self.name}: dy has shape {tuple(dy.shape)}, expected the "
                                 f"output's {self.out_shape}")
            if self.params and not self.children() and dy.dtype != self.dtype:
                raise TypeError(f"{self.name}: dy has dtype {dy.dtype}, the parameters "
                                f"{self.dtype}: their gradients would come out in {dy.dtype}; "
                                f"cast dy with .astype({str(self.dtype)!r})")
        return self.cache

    # -- input checks -----------------------------------------------------------------------
    def check_input(self, x, ndims=(2, 4), channels=None):
        """Raise a TypeError/ValueError naming this layer when ``x`` is not a usable input.

        ``ndims``: the allowed numbers of dimensions; ``channels``: the required size of axis 1.
        A layer with parameters also runs ``check_like_params``.
        """
        if not B.is_array(x):
            raise TypeError(f"{self.name}: expected a NumPy or CuPy array, got {type(x).__name__}")
        if x.dtype.kind != "f":
            raise TypeError(f"{self.name}: expected a floating-point input, got dtype {x.dtype}")
        if x.ndim not in ndims:
            want = " or ".join(f"{d}D" for d in ndims)
            raise ValueError(f"{self.name}: expected {want} input, got shape {tuple(x.shape)}")
        if channels is not None and x.shape[1] != channels:
            raise ValueError(f"{self.name}: expected {channels} features/channels on axis 1, "
                             f"got shape {tuple(x.shape)}")
        if self.params:
            self.check_like_params(x)

    def check_like_params(self, x):
        """x must have the parameters' dtype (no silent float64 upcast of a float32 network) and
        live on their device."""
        if x.dtype != self.dtype:
            raise TypeError(f"{self.name}: input dtype {x.dtype} differs from the parameters' "
                            f"dtype {self.dtype}; cast the input or call .astype()")
        p = next(iter(self.params.values()))
        x_module, p_module = B.get_array_module(x), B.get_array_module(p)
        if x_module is not p_module:
            raise TypeError(f"{self.name}: input is a {x_module.__name__} array but the "
                            f"parameters live on {p_module.__name__}; move one with "
                            "backend.asarray / to_numpy or layer.to()")

    # -- dtype and device -------------------------------------------------------------------
    def astype(self, dtype):
        """Cast params, grads and buffers (and lazily created ones) to ``dtype``; returns self."""
        self.dtype = B.resolve_dtype(dtype)
        for store in (self.params, self.grads, self.buffers):
            for k, v in store.items():
                store[k] = v.astype(self.dtype)
        return self

    def to(self, backend: str):
        """Move params, grads and buffers to ``backend`` ("numpy" or "cupy"); returns self.

        The cache is dropped (it may hold arrays of the other device); run forward again.
        """
        module = B.module_for(backend)
        self.cache = self.out_shape = None
        for store in (self.params, self.grads, self.buffers):
            for k, v in store.items():
                store[k] = module.asarray(B.to_numpy(v))
        return self

    def __repr__(self) -> str:
        return f"{self.name}()"


def check_size(owner: str, name: str, value) -> int:
    """``value`` as a Python int ≥ 1 (a size: features, channels); a clear error for 3.7 or 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{owner}: {name} must be an integer ≥ 1, got {value!r}")
    return int(value)


def check_pair(owner: str, name: str, value, minimum: int = 1) -> tuple:
    """``value`` — an int for both axes, or a pair (height, width) of ints: a kernel size, a
    stride, a padding — as a pair of Python ints ≥ ``minimum``; a clear error for anything else."""
    items = list(value) if hasattr(value, "__iter__") else [value, value]     # numpy arrays too
    if len(items) != 2 or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool)
                                  and v >= minimum for v in items):
        raise ValueError(f"{owner}: {name} must be an integer ≥ {minimum} or a pair of them, "
                         f"got {value!r}")
    return tuple(int(v) for v in items)


class Container(Layer):
    """Base of the layers made of child layers: ``Sequential``, ``Residual``, ``Linked``.

    ``params``/``grads``/``buffers`` are the children's, merged under "name.key" (name: the
    child's position "0", "1", ..., or the names given); they are read-only views built on each
    access, so a parameter created lazily by a child (PReLU) shows up at once.
    """

    def __init__(self, children, names=None):
        # Not Layer.__init__: a container owns no params/grads/buffers dicts of its own.
        self.cache = None
        self.out_shape = None
        self.dtype = B.get_default_dtype()
        children = list(children)
        for i, child in enumerate(children):
            if not isinstance(child, Layer):
                raise TypeError(f"{self.name}: item {i} is a {type(child).__name__}, not a Layer "
                                "(pass an instance, e.g. ReLU(), not the class ReLU)")
        self._children = children
        self._names = list(names) if names is not None else [str(i) for i in range(len(children))]
        refuse_shared_layers(self)

    def children(self) -> list:
        return list(self._children)

    def named_children(self) -> list:
        return list(zip(self._names, self._children))

    def _merged(self, attr) -> dict:
        return {f"{name}.{k}": v for name, child in zip(self._names, self._children)
                for k, v in getattr(child, attr).items()}

    @property
    def params(self) -> dict:
        return self._merged("params")

    @property
    def grads(self) -> dict:
        return self._merged("grads")

    @property
    def buffers(self) -> dict:
        return self._merged("buffers")

    def astype(self, dtype):
        self.dtype = B.resolve_dtype(dtype)
        for child in self._children:
            child.astype(dtype)
        return self

    def to(self, backend: str):
        self.cache = self.out_shape = None
        for child in self._children:
            child.to(backend)
        return self


def walk(layer, path=""):
    """Yield (dotted path, layer) for ``layer`` and every layer inside it, depth first."""
    yield path, layer
    for name, child in layer.named_children():
        yield from walk(child, f"{path}.{name}" if path else name)


def refuse_shared_layers(container) -> None:
    """ValueError when one layer object sits at two places of ``container``'s tree."""
    seen = {}
    for path, layer in walk(container):
        if id(layer) in seen:
            raise ValueError(
                f"{container.name}: the same {layer.name} object is used at {seen[id(layer)]!r} "
                f"and at {path!r}; its cache holds one forward pass, so its gradients would be "
                f"wrong. Use separate instances (e.g. copy.deepcopy(layer)).")
        seen[id(layer)] = path or "the top"


def takes_need_dx(layer) -> bool:
    """Whether ``layer.backward`` takes the ``need_dx`` argument of the layer protocol."""
    try:
        parameters = inspect.signature(layer.backward).parameters
    except (TypeError, ValueError):              # no signature to read: trust it
        return True
    return "need_dx" in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())


class Sequential(Container):
    """Layers applied in order: y = layers[-1](... layers[0](x)).

    x: whatever the first layer takes → y: whatever the last layer returns.
    """

    def __init__(self, layers, *more):
        if more:
            raise TypeError(f"Sequential: pass the layers as one list, Sequential([layer, layer, "
                            f"...]); got {1 + len(more)} arguments")
        super().__init__(layers)

    @property
    def layers(self) -> list:
        return self._children

    def forward(self, x, training: bool = False):
        for i, layer in enumerate(self.layers):
            try:
                x = layer.forward(x, training=training)
            except (ValueError, TypeError) as err:     # say which layer, and why it misfits
                raise input_error(self.layers, i, x, err) from err
        self.save_for_backward(None, output_shape=x.shape)
        return x

    def backward(self, dy, need_dx=True):
        """dy → dx through every layer in reverse; the first one is told ``need_dx``."""
        self.saved(dy)
        for i in range(len(self.layers) - 1, 0, -1):
            dy = self.layers[i].backward(dy)
            expected = self.layers[i - 1].out_shape       # layer i's input: what dy must match
            if expected is not None and B.is_array(dy) and tuple(dy.shape) != expected:
                raise ValueError(f"layer {i} ({self.layers[i].name}).backward returned dL/dx of "
                                 f"shape {tuple(dy.shape)}, but its input had shape {expected} "
                                 "(backward returns the gradient of the input, in its shape)")
        if not self.layers:
            return dy
        first = self.layers[0]
        if need_dx or not takes_need_dx(first):   # a layer of backward(dy) computes dx anyway
            return first.backward(dy)
        return first.backward(dy, need_dx=False)

    def __len__(self):
        return len(self.layers)

    def __getitem__(self, i):
        return self.layers[i]

    def __iter__(self):
        return iter(self.layers)

    def __repr__(self):
        inner = ",\n  ".join(repr(layer) for layer in self.layers)
        return f"Sequential(\n  {inner}\n)"


def input_error(layers, i, x, err):
    """``err`` of ``layers[i]`` refusing ``x``, naming the layer and the cause of a width mismatch
    (a d-member unit multiplies channels by d); ``first_layer``: are the data to blame?"""
    layer, got = layers[i], x.shape[1] if getattr(x, "ndim", 0) >= 2 else None
    size = [getattr(layer, a) for a in ("in_features", "in_channels", "num_features",
                                        "out_features", "out_channels") if hasattr(layer, a)]
    if hasattr(err, "first_layer"):                      # raised by a container inside this one
        msg = f"in layer {i} ({layer.name}): {err}"
    elif not size or got in (None, size[0]):
        msg = (f"layer {i} ({layer.name}) refused its input of shape "
               f"{tuple(getattr(x, 'shape', ()))}: {err}")
    else:
        msg = (f"layer {i} {layer.name}({' → '.join(map(str, size))}) gets {got} "
               f"{'features' if x.ndim == 2 else 'channels'}")
        j = next((j for j in range(i - 1, -1, -1) if layers[j].expansion > 1          # the unit,
                  or {"out_features", "out_channels"} & set(vars(layers[j]))), 0)   # or a layer
        d = layers[j].expansion
        if i == 0:
            msg += f" (the input has shape {tuple(x.shape)})"
        elif d > 1:
            made = layers[j].out_shape          # the unit's output, before any Flatten after it
            msg += (f": {layers[j].name} at layer {j} "
                    f"{'doubles' if d == 2 else f'multiplies by {d}'} its "
                    f"{(made[1] if made else got) // d} inputs")
        if i > 0:
            msg += (f"; build it as {layer.name}({', '.join(map(str, [got, *size[1:]]))}"
                    f"{', ...' if x.ndim > 2 else ''})")
    if hasattr(layer, "in_features") and getattr(x, "ndim", 2) > 2:
        msg += f" (a {layer.name} takes (N, features): put lk.Flatten() before it)"
    new = (TypeError if isinstance(err, TypeError) else ValueError)(msg)
    new.first_layer = i == 0 and getattr(err, "first_layer", True)
    return new
