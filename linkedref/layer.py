"""The layer protocol every piece of linkedref follows.

A layer is an object with

- ``y = layer.forward(x, training=False)`` — computes the output and keeps what backward needs
  in ``layer.cache``;
- ``dx = layer.backward(dy)`` — given dL/dy (same shape as y) returns dL/dx (same shape as x)
  and writes dL/dparam into ``layer.grads``. It never changes ``dy`` in place;
- ``layer.params`` and ``layer.grads`` — dicts with the same keys (empty for parameter-free
  layers). Optimizers walk both and update ``params`` in place;
- ``layer.buffers`` — state that is saved with the weights but not trained (BatchNorm's running
  statistics).

Containers (``Sequential``, ``Residual``) follow the same protocol and expose their children's
params under dotted names ("0.W", "3.block.1.gamma").
"""
from __future__ import annotations

from . import backend as B


class Layer:
    """Base class: holds ``params``, ``grads``, ``buffers``, ``cache`` and the parameter dtype."""

    def __init__(self):
        self.params: dict = {}
        self.grads: dict = {}
        self.buffers: dict = {}
        self.cache = None
        self.dtype = B.get_default_dtype()   # dtype of parameters created now or lazily later

    # -- the protocol -----------------------------------------------------------------------
    def forward(self, x, training: bool = False):
        raise NotImplementedError

    def backward(self, dy):
        raise NotImplementedError

    def __call__(self, x, training: bool = False):
        return self.forward(x, training=training)

    # -- helpers for subclasses -------------------------------------------------------------
    @property
    def name(self) -> str:
        return type(self).__name__

    def children(self) -> list:
        """Sub-layers (containers override this)."""
        return []

    def saved(self):
        """The cache of the last forward; a clear error when backward comes first."""
        if self.cache is None:
            raise ValueError(f"{self.name}: backward() called before forward()")
        return self.cache

    def check_input(self, x, ndims=(2, 4), channels=None):
        """Raise a TypeError/ValueError naming this layer when ``x`` is not a usable input.

        ``ndims``: the allowed numbers of dimensions; ``channels``: the required size of axis 1.
        Parameterised layers also require ``x.dtype`` to equal their parameters' dtype, so that
        no silent float64 upcast slows a float32 network down.
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
        if self.params and x.dtype != self.dtype:
            raise TypeError(f"{self.name}: input dtype {x.dtype} differs from the parameters' "
                            f"dtype {self.dtype}; cast the input or call .astype()")
        if self.params:
            p = next(iter(self.params.values()))
            if B.get_array_module(x) is not B.get_array_module(p):
                raise TypeError(f"{self.name}: input is a {type(x).__module__.split('.')[0]} array but "
                                f"the parameters live on {type(p).__module__.split('.')[0]}; move one "
                                "with backend.asarray / to_numpy or layer.to()")

    def astype(self, dtype):
        """Cast params, grads and buffers (and lazily created ones) to ``dtype``; returns self."""
        dtype = B.resolve_dtype(dtype)
        self.dtype = dtype
        if self.children():                      # a container's dicts are its children's
            for child in self.children():
                child.astype(dtype)
            return self
        for store in (self.params, self.grads, self.buffers):
            for k, v in store.items():
                store[k] = v.astype(dtype)
        return self

    def to(self, backend: str):
        """Move params, grads and buffers to ``backend`` ("numpy" or "cupy"); returns self.

        The cache is dropped (it may hold arrays of the other device); run forward again.
        """
        module = B.module_for(backend)
        self.cache = None
        if self.children():
            for child in self.children():
                child.to(backend)
            return self
        for store in (self.params, self.grads, self.buffers):
            for k, v in store.items():
                store[k] = module.asarray(B.to_numpy(v))
        return self

    def __repr__(self) -> str:
        return f"{self.name}()"


class Sequential(Layer):
    """Layers applied in order: y = layers[-1](... layers[0](x)).

    ``params``/``grads``/``buffers`` are the children's, keyed "i.key" (i = position).
    """

    def __init__(self, layers):
        super().__init__()
        layers = list(layers)
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"Sequential: item {i} is a {type(layer).__name__}, not a Layer")
        self.layers = layers

    def children(self):
        return self.layers

    @property
    def params(self):
        return _merge(self.layers, "params")

    @params.setter
    def params(self, value):   # Layer.__init__ assigns {}; containers derive theirs
        pass

    @property
    def grads(self):
        return _merge(self.layers, "grads")

    @grads.setter
    def grads(self, value):
        pass

    @property
    def buffers(self):
        return _merge(self.layers, "buffers")

    @buffers.setter
    def buffers(self, value):
        pass

    def forward(self, x, training: bool = False):
        for layer in self.layers:
            x = layer.forward(x, training=training)
        self.cache = True
        return x

    def backward(self, dy):
        self.saved()
        for layer in reversed(self.layers):
            dy = layer.backward(dy)
        return dy

    def __len__(self):
        return len(self.layers)

    def __getitem__(self, i):
        return self.layers[i]

    def __iter__(self):
        return iter(self.layers)

    def __repr__(self):
        inner = ",\n  ".join(repr(layer) for layer in self.layers)
        return f"Sequential(\n  {inner}\n)"


def _merge(children, attr, names=None):
    """The children's ``attr`` dicts merged under "name.key" (name = position by default)."""
    out = {}
    names = names or [str(i) for i in range(len(children))]
    for name, child in zip(names, children):
        for k, v in getattr(child, attr).items():
            out[f"{name}.{k}"] = v
    return out
