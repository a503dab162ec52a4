"""The array backend: NumPy on the CPU, CuPy on an NVIDIA GPU, and a strict CuPy stand-in.

Every array operation in linkedref goes through the module this file hands out, so the same
layer code runs on both. Layer code never writes ``import numpy``; it asks for the module that
owns its data, as Chainer does::

    xp = get_array_module(x)      # numpy or cupy, whichever x lives on
    y = xp.maximum(x, 0)

and creates new arrays (parameters, buffers) with ``xp()`` — the *active* backend — and the
default dtype (float32 unless ``set_default_dtype("float64")``).

The active backend is chosen by ``set_backend("numpy" | "cupy" | "strict")`` or, at import time,
by the environment variable ``LINKEDREF_BACKEND``.

"strict" (``linkedref.strict``, whose docstring lists its rules) runs on the CPU but keeps
CuPy's: a new layer that runs forward, backward and a training step under it is CuPy-clean,
checked on a laptop::

    LINKEDREF_BACKEND=strict python -m pytest -q tests/test_my_layer.py

Random numbers: library code never seeds a global generator. Every random draw takes an explicit
``numpy.random.Generator``; ``uniform`` and ``normal`` below draw on the device that is active
(for CuPy and the stand-in, from a device generator seeded by the NumPy one, so a seed still
fixes the result). A draw that names none gets one from ``as_generator(None)``; see ``seed``.
"""
from __future__ import annotations

import contextlib
import os

import numpy

from . import strict

_BACKENDS = ("numpy", "cupy", "strict")
_DTYPES = {"float32": numpy.float32, "float64": numpy.float64}

_state = {"name": "numpy", "xp": numpy, "dtype": numpy.dtype(numpy.float32), "seeds": None}


# ----------------------------------------------------------------------------------- backend
def _import_cupy():
    """Import CuPy and make sure a CUDA device is usable; raise a clear error otherwise."""
    try:
        import cupy
    except ImportError as err:
        raise ValueError(
            "backend 'cupy' was requested but CuPy is not installed; install it with "
            "`pip install -e \".[gpu]\"` from the repository (or the cupy-cudaXX wheel for your "
            "CUDA), or use the NumPy backend"
        ) from err
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as err:  # CUDA driver missing or broken
        raise ValueError(
            f"backend 'cupy' was requested but CuPy cannot reach a CUDA device ({err}); "
            "use set_backend('numpy')"
        ) from err
    if count < 1:
        raise ValueError("backend 'cupy' was requested but no CUDA device is visible; "
                         "use set_backend('numpy')")
    return cupy


def set_backend(name: str) -> None:
    """Make ``name`` ("numpy", "cupy" or "strict") the active backend for new arrays."""
    _state["xp"] = module_for(name)
    _state["name"] = name.lower()


def module_for(name: str):
    """The array module of backend ``name`` (a clear error for unknown names or missing CuPy)."""
    if not isinstance(name, str) or name.lower() not in _BACKENDS:
        raise ValueError(f"unknown backend {name!r}; expected one of {_BACKENDS}")
    name = name.lower()
    if name == "strict":
        return strict
    return numpy if name == "numpy" else _import_cupy()


def get_backend() -> str:
    """The name of the active backend: "numpy", "cupy" or "strict"."""
    return _state["name"]


def xp():
    """The active backend's array module (``numpy``, ``cupy`` or ``linkedref.strict``)."""
    return _state["xp"]


@contextlib.contextmanager
def using_backend(name: str):
    """``with using_backend("cupy"): ...`` — switch the backend for a block, then switch back."""
    previous = get_backend()
    set_backend(name)
    try:
        yield
    finally:
        set_backend(previous)


def on_device() -> bool:
    """True when the active backend's arrays live on a device (CuPy, the stand-in): a read syncs."""
    return _state["xp"] is not numpy


def get_array_module(*arrays):
    """The module (numpy, cupy or the strict stand-in) that owns ``arrays``; numpy for anything
    that is not a device array."""
    for a in arrays:
        if type(a).__module__.startswith("cupy"):
            import cupy
            return cupy
        if type(a) is strict.ndarray:
            return strict
    return numpy


def is_array(a) -> bool:
    """True for a NumPy, CuPy or stand-in ndarray."""
    return (isinstance(a, (numpy.ndarray, strict.ndarray))
            or type(a).__module__.startswith("cupy"))


def asarray(a, dtype=None):
    """``a`` as an array of the active backend (copying across devices when needed)."""
    return _state["xp"].asarray(a, dtype=dtype)


def to_numpy(a):
    """``a`` as a NumPy array (a device-to-host copy for device arrays; scalars pass through)."""
    if type(a).__module__.startswith("cupy") or type(a) is strict.ndarray:
        return a.get()
    return numpy.asarray(a)


def to_float(a) -> float:
    """A 0-d array or scalar as a Python float (synchronises with the device for CuPy)."""
    return float(to_numpy(a))


# ------------------------------------------------------------------------------------ dtypes
def set_default_dtype(dtype) -> None:
    """Set the dtype new parameters are created in: "float32" (default) or "float64"."""
    _state["dtype"] = resolve_dtype(dtype)


def get_default_dtype():
    """The dtype new parameters are created in (a ``numpy.dtype``)."""
    return _state["dtype"]


def resolve_dtype(dtype):
    """"float32"/"float64" (or the numpy types) as a ``numpy.dtype``; anything else is an error."""
    key = numpy.dtype(dtype).name if not isinstance(dtype, str) else dtype
    if key not in _DTYPES:
        raise ValueError(f"unsupported dtype {dtype!r}; expected 'float32' or 'float64'")
    return numpy.dtype(_DTYPES[key])


@contextlib.contextmanager
def default_dtype(dtype):
    """``with default_dtype("float64"): ...`` — change the default dtype for a block."""
    previous = get_default_dtype()
    set_default_dtype(dtype)
    try:
        yield
    finally:
        set_default_dtype(previous)


# ------------------------------------------------------------------------------------ random
_device_rngs = {}   # (id(numpy Generator), module) -> (that Generator, device generator from it)


def _device_rng(rng: numpy.random.Generator, module):
    """The device generator (CuPy's or the stand-in's) that belongs to ``rng``: seeded once from
    it, then reused. (NumPy Generators accept no weak references: the table keeps each alive.)"""
    key = (id(rng), module.__name__)
    entry = _device_rngs.get(key)
    if entry is None or entry[0] is not rng:
        entry = (rng, module.random.default_rng(int(rng.integers(2**63 - 1))))
        _device_rngs[key] = entry
    return entry[1]


def _drawing(rng, like):
    """The generator that draws for ``rng`` on ``like``'s device (or the active one's): ``rng``
    itself on NumPy, else its device generator."""
    if not isinstance(rng, numpy.random.Generator):
        raise TypeError(f"expected a numpy.random.Generator, got {type(rng).__name__}")
    module = get_array_module(like) if like is not None else _state["xp"]
    return rng if module is numpy else _device_rng(rng, module)


def uniform(rng: numpy.random.Generator, shape, dtype=None, like=None):
    """Uniform [0, 1) draws of ``shape`` from the explicit generator ``rng``, on the device of
    ``like`` (an array) or, without it, of the active backend."""
    return _drawing(rng, like).random(shape, dtype=resolve_dtype(dtype or get_default_dtype()))


def normal(rng: numpy.random.Generator, shape, std=1.0, dtype=None, like=None):
    """Normal(0, std) draws of ``shape`` from ``rng``, on ``like``'s device or the active one."""
    generator = _drawing(rng, like)
    dtype = resolve_dtype(dtype or get_default_dtype())
    return generator.standard_normal(shape, dtype=dtype) * dtype.type(std)


def seed(n) -> None:
    """``lk.seed(n)``: one number for every draw that names no generator, so a run repeats from
    n. Layers, models and Dropout built without ``rng=`` each get a generator spawned from n in
    the order they are made; ``fit`` without ``seed=`` shuffles from n (continuing over calls,
    see ``fit``). An explicit ``rng=``/``seed=`` still wins. ``seed(None)``: fresh randomness."""
    if n is not None and (isinstance(n, bool) or not isinstance(n, (int, numpy.integer))):
        raise TypeError(f"seed: expected an int or None, got {type(n).__name__}")
    _state["seeds"] = None if n is None else numpy.random.SeedSequence(int(n))


def get_seed():
    """The number given to ``seed(n)``, or None."""
    return None if _state["seeds"] is None else _state["seeds"].entropy


def as_generator(seed_or_rng) -> numpy.random.Generator:
    """Accept a Generator (returned as is), an int seed (a new Generator from it), or None: the
    next generator spawned from ``seed(n)``'s number, else a fresh one."""
    if isinstance(seed_or_rng, numpy.random.Generator):
        return seed_or_rng
    if seed_or_rng is None and _state["seeds"] is not None:
        return numpy.random.default_rng(_state["seeds"].spawn(1)[0])
    if seed_or_rng is None or isinstance(seed_or_rng, (int, numpy.integer)):
        return numpy.random.default_rng(seed_or_rng)
    raise TypeError(f"expected a numpy.random.Generator or an int seed, "
                    f"got {type(seed_or_rng).__name__}")


def _from_environment() -> None:
    """Honour LINKEDREF_BACKEND at import; a bad value fails here, in a few lines, naming it."""
    name = os.environ.get("LINKEDREF_BACKEND")
    if not name:
        return
    try:
        set_backend(name)
    except ValueError as err:
        raise ImportError(f"linkedref: LINKEDREF_BACKEND={name!r} cannot be used: {err}. "
                          "Unset LINKEDREF_BACKEND (or set it to numpy) to import linkedref "
                          "on the CPU.") from None


_from_environment()
