"""A strict device stand-in: CuPy's rules on the CPU, so a laptop catches host/device mixes.

``set_backend("strict")`` (or ``LINKEDREF_BACKEND=strict``) makes this module the array module.
Its arrays hold their data in NumPy, but behave as CuPy arrays do where CuPy differs from NumPy:

- no implicit conversion to NumPy: ``numpy.asarray(x)``, ``numpy.array(x)``,
  ``numpy.lib.stride_tricks.as_strided(x)``, ``numpy.savez(f, w=x)`` raise a TypeError that
  names the call and the line; ``x.get()`` and ``linkedref.to_numpy(x)`` copy explicitly;
- no mixing with NumPy arrays: ``x * a`` and ``a * x`` (``a`` a NumPy array, even a 0-d one or a
  NumPy Generator's draw) raise, in arithmetic and in ufuncs; Python and NumPy scalars mix freely;
- device and host memory never alias: ``asarray(a)`` of a NumPy array copies, as does ``.get()``;
- reductions and indexing give 0-d device arrays, not NumPy scalars; ``float(x)``, ``int(x)``,
  ``bool(x)`` and ``x.item()`` give Python scalars (on a GPU they synchronise);
- ``random.default_rng(seed)`` gives a Generator with CuPy's draws (no ``normal``, ``choice`` or
  ``permutation``); ``cuda.Device().synchronize()`` is there for timing code, and does nothing.

Stricter than CuPy where CuPy would quietly dispatch a ``numpy.`` function (``numpy.exp(x)``,
``numpy.concatenate([x])``) to itself: library code asks the data for its module,
``xp = backend.get_array_module(x)``, and a bare ``numpy.`` call on a device array is refused.
Pickling a device array is refused too (save ``.get()`` as ``.npz``).

The module forwards the rest of the NumPy namespace (creation functions, ufuncs, ``linalg``,
``lib.stride_tricks``), unwrapping device arguments, refusing NumPy arrays and wrapping results.
"""
from __future__ import annotations

import functools
import linecache
import operator
import os
import re
import sys
import types

import numpy as _np

_SCALARS = (bool, int, float, complex, _np.generic)
# ufunc: (operator, its dunder's stem). A NumPy scalar's operator calls the ufunc
# (``numpy.float32(2) * x``); CuPy runs these.
_OPERATORS = {
    _np.add: ("+", "add"), _np.subtract: ("-", "sub"), _np.multiply: ("*", "mul"),
    _np.true_divide: ("/", "truediv"), _np.floor_divide: ("//", "floordiv"),
    _np.remainder: ("%", "mod"), _np.power: ("**", "pow"), _np.matmul: ("@", "matmul"),
    _np.bitwise_and: ("&", "and"), _np.bitwise_or: ("|", "or"), _np.bitwise_xor: ("^", "xor"),
    _np.less: ("<", "lt"), _np.less_equal: ("<=", "le"), _np.greater: (">", "gt"),
    _np.greater_equal: (">=", "ge"), _np.equal: ("==", "eq"), _np.not_equal: ("!=", "ne"),
}
_COMPARISONS = {_np.less, _np.less_equal, _np.greater, _np.greater_equal, _np.equal, _np.not_equal}
_HOST_IO = {"save", "savez", "savez_compressed", "savetxt", "load", "loadtxt", "genfromtxt",
            "fromfile", "frombuffer", "fromregex", "memmap", "testing", "ma", "rec", "char",
            "ctypeslib", "polynomial"}
_HINT = ("copy to the host explicitly with x.get() or linkedref.to_numpy(x), or stay on the "
         "device with xp = linkedref.backend.get_array_module(x)")
_MIX_HINT = ("move the NumPy array to the device with xp.asarray(a) (a draw from a NumPy "
             "Generator: draw on the device with linkedref.backend.uniform/normal(rng, shape, "
             "like=x)), or bring the device array to the host with .get()")


# ------------------------------------------------------------------------------ error messages
def _call_site():
    """' (numpy.fn, called at file:line `source`)': the user's line that reached the refusal."""
    frame, numpy_fn = sys._getframe(1), None
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module == "numpy" or module.startswith("numpy."):
            public = re.sub(r"\._(\w+?)_impl$", r".\1", module)
            numpy_fn = f"{public}.{frame.f_code.co_name}"
        elif module != __name__:
            break
        frame = frame.f_back
    if frame is None:
        return ""
    path = frame.f_code.co_filename
    short = os.path.join(*path.split(os.sep)[-2:]) if os.sep in path else path
    line = linecache.getline(path, frame.f_lineno).strip()
    where = f"{short}:{frame.f_lineno}" + (f" `{line}`" if line else "")
    return f" ({numpy_fn}, called at {where})" if numpy_fn else f" (at {where})"


def _mix_error(what, host):
    return TypeError(f"strict backend: {what} mixes a NumPy array (shape {host.shape}, "
                     f"{host.dtype}) with a device array{_call_site()}; CuPy refuses this "
                     f"(Unsupported type numpy.ndarray): {_MIX_HINT}")


def _unsupported(what, value):
    return TypeError(f"strict backend: {what} got an unsupported operand of type "
                     f"{type(value).__name__}{_call_site()}; CuPy takes device arrays and "
                     "scalars here: wrap it with xp.asarray(...)")


def _numpy_called(name, short):
    return TypeError(f"strict backend: {name} was called on a device array{_call_site()}; "
                     "take the module from the data: xp = "
                     f"linkedref.backend.get_array_module(x); xp.{short}(...)")


# ------------------------------------------------------------------------- host <-> device
def _host(value, what, allow_host=False):
    """``value`` with every device array replaced by its NumPy data; a NumPy array is an error
    unless ``allow_host`` (explicit host-to-device copies, indices)."""
    if type(value) is ndarray:
        return value._a
    if isinstance(value, _np.ndarray):
        if allow_host:
            return value
        raise _mix_error(what, value)
    if type(value) in (list, tuple):
        return type(value)(_host(v, what, allow_host) for v in value)
    return value


def _device(result, inputs=()):
    """NumPy results as device arrays (NumPy scalars as 0-d arrays, as CuPy returns them); a
    result that *is* one of the inputs' data comes back as that input (``out=``, no-op casts)."""
    if isinstance(result, _np.ndarray):
        for d in inputs:
            if d._a is result:
                return d
        return ndarray._wrap(result)
    if isinstance(result, _np.generic):
        return ndarray._wrap(_np.asarray(result))
    if isinstance(result, tuple):
        items = [_device(r, inputs) for r in result]
        return type(result)(*items) if hasattr(result, "_fields") else tuple(items)
    if isinstance(result, list):
        return [_device(r, inputs) for r in result]
    return result


def _flatten(value):
    """The items of nested lists, tuples and dicts (arguments of a call)."""
    if isinstance(value, dict):
        value = tuple(value.values())
    if type(value) in (list, tuple):
        for item in value:
            yield from _flatten(item)
    else:
        yield value


def _devices_in(args, kwargs):
    return [v for v in _flatten((args, kwargs)) if type(v) is ndarray]


def _on_host(fn, what, args, kwargs, inputs=()):
    """``fn(*args, **kwargs)`` on the NumPy data of the device arguments, the result on the
    device; ``what`` names the call in a refusal."""
    inputs = [*inputs, *_devices_in(args, kwargs)]
    host_kwargs = {k: _host(v, what) for k, v in kwargs.items()}
    return _device(fn(*_host(args, what), **host_kwargs), inputs)


def _function(fn, name):
    """``fn`` (a NumPy function) as a device function."""
    def call(*args, **kwargs):
        return _on_host(fn, f"xp.{name}", args, kwargs)
    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"Device version of numpy {name} (strict stand-in)."
    return call


def _operand(value, what):
    """A ufunc's or operator's operand on the host: device data, a scalar or None; a NumPy array
    mixes host and device, anything else is unsupported."""
    if isinstance(value, (ndarray, _np.ndarray, *_SCALARS)) or value is None:
        return _host(value, what)
    raise _unsupported(what, value)


class _Ufunc:
    """A NumPy ufunc on device arrays and scalars only (as CuPy's ufuncs)."""

    def __init__(self, ufunc):
        self._ufunc, self.__name__ = ufunc, ufunc.__name__
        self.nin, self.nout, self.nargs = ufunc.nin, ufunc.nout, ufunc.nargs

    def _run(self, method, *args, **kwargs):
        what = f"xp.{self.__name__}" + ("" if method == "__call__" else f".{method}")
        inputs = _devices_in(args, kwargs)
        host_args = [_operand(a, what) for a in args]
        host_kwargs = {k: _host(v, what) if k == "where" else v for k, v in kwargs.items()}
        if "out" in kwargs:                 # out=y or out=(y,): device arrays only
            outs = kwargs["out"] if isinstance(kwargs["out"], tuple) else (kwargs["out"],)
            host_kwargs["out"] = tuple(_operand(o, what) for o in outs)
        return _device(getattr(self._ufunc, method)(*host_args, **host_kwargs), inputs)

    __call__ = functools.partialmethod(_run, "__call__")
    reduce = functools.partialmethod(_run, "reduce")
    accumulate = functools.partialmethod(_run, "accumulate")
    outer = functools.partialmethod(_run, "outer")

    def at(self, a, indices, b=None):
        if type(a) is not ndarray:
            raise _unsupported(f"xp.{self.__name__}.at", a)
        args = (a._a, _host(indices, "index", allow_host=True))
        if b is not None:
            args += (_operand(b, f"xp.{self.__name__}.at"),)
        self._ufunc.at(*args)

    def __repr__(self):
        return f"<strict ufunc '{self.__name__}'>"


# ------------------------------------------------------------------------------------ ndarray
def _binary(ufunc, symbol, reflected=False, inplace=False):
    def op(self, other):
        if not isinstance(other, (ndarray, _np.ndarray, list, tuple, *_SCALARS)):
            return NotImplemented           # Python tries the other operand's method
        b = _operand(other, f"`{symbol}`")
        if inplace:
            ufunc(self._a, b, out=self._a)
            return self
        return _device(ufunc(b, self._a) if reflected else ufunc(self._a, b))
    return op


def _method(name):
    def method(self, *args, **kwargs):
        return _on_host(getattr(self._a, name), f"x.{name}", args, kwargs, [self])
    method.__name__ = method.__qualname__ = name
    return method


def _from_data(fn):
    """A method giving ``fn(data, *args)``: Python scalars and text as they are, arrays on the
    device."""
    def method(self, *args):
        return _device(fn(self._a, *args))
    return method


class ndarray:
    """A device array of the strict stand-in: NumPy data behind CuPy's rules (see the module)."""

    __slots__ = ("_a",)
    __array_priority__ = 100

    def __init__(self, shape, dtype=float):
        self._a = _np.empty(shape, dtype=dtype)     # as cupy.ndarray(shape, dtype): uninitialised

    @classmethod
    def _wrap(cls, host):
        out = object.__new__(cls)
        out._a = host
        return out

    # -- the refusals ------------------------------------------------------------------------
    def __array__(self, dtype=None, copy=None):
        raise TypeError(f"strict backend: implicit conversion of a device array to a NumPy "
                        f"array{_call_site()}; CuPy raises TypeError here too: {_HINT}")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if ufunc in _COMPARISONS:           # numpy.float32(0.5) < x arrives as a 0-d array;
            inputs = tuple(v[()] if isinstance(v, _np.ndarray) and v.ndim == 0 else v
                           for v in inputs)  # CuPy takes its value (numpy/numpy#12142)
        for v in inputs + tuple(kwargs.get("out", ())):
            if isinstance(v, _np.ndarray):
                raise _mix_error(f"numpy.{ufunc.__name__}", v)
        scalar_operator = (method == "__call__" and not kwargs and len(inputs) == 2
                           and ufunc in _OPERATORS
                           and all(type(v) is ndarray or isinstance(v, _SCALARS) for v in inputs))
        if scalar_operator:                     # numpy.float32(2) * x: a scalar's operator
            return _device(ufunc(*(_operand(v, "") for v in inputs)))
        raise _numpy_called(f"numpy.{ufunc.__name__}", ufunc.__name__)

    def __array_function__(self, func, types, args, kwargs):
        name = f"{func.__module__}.{func.__name__}"
        host = [v for v in _flatten((args, kwargs)) if isinstance(v, _np.ndarray)]
        if host:                            # xp = get_array_module(a) saw a NumPy array first
            raise _mix_error(name, host[0])
        if func.__name__ in _HOST_IO:
            raise TypeError(f"strict backend: {name} was given a device array{_call_site()}; "
                            "copy it to the host first with .get() or linkedref.to_numpy() and "
                            "save the NumPy array")
        raise _numpy_called(name, func.__name__)

    def __reduce_ex__(self, protocol):
        raise TypeError("strict backend: pickling a device array; save x.get() (a NumPy array) "
                        "with numpy.savez instead")

    # -- explicit transfers and copies ------------------------------------------------------
    def get(self):
        """A NumPy copy on the host (CuPy's ``ndarray.get``)."""
        return self._a.copy()

    def set(self, arr):
        """Copy the NumPy array ``arr`` (same shape) into this device array."""
        if not isinstance(arr, _np.ndarray) or arr.shape != self._a.shape:
            raise ValueError(f"strict backend: set() takes a NumPy array of shape "
                             f"{self._a.shape}")
        self._a[...] = arr

    def __copy__(self, memo=None):      # copy.copy and copy.deepcopy: a copy of the data
        return ndarray._wrap(self._a.copy())

    __deepcopy__ = __copy__

    shape = property(lambda self: self._a.shape,
                     lambda self, value: setattr(self._a, "shape", value))

    # -- containers --------------------------------------------------------------------------
    def __len__(self):
        return len(self._a)

    def __iter__(self):
        if self._a.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(len(self._a)))

    def __getitem__(self, index):
        return _device(self._a[_host(index, "index", allow_host=True)])

    def __setitem__(self, index, value):
        value = _operand(value, "assignment into a device array")
        self._a[_host(index, "index", allow_host=True)] = value


# Python scalars, text and the unary operators: computed on the data
for _name, _fn in {"float": float, "int": int, "complex": complex, "bool": bool, "format": format,
                   "repr": repr, "str": str, "neg": operator.neg, "pos": operator.pos,
                   "abs": abs, "invert": operator.invert}.items():
    setattr(ndarray, f"__{_name}__", _from_data(_fn))
# the data's attributes; T, real, imag and base are views of it, on the device
for _name in ("dtype", "ndim", "size", "nbytes", "itemsize", "strides", "flags", "T", "real",
              "imag", "base"):
    setattr(ndarray, _name, property(_from_data(operator.attrgetter(_name))))
# the operators through their ufuncs; a comparison has no reflected or in-place form
for _ufunc, (_symbol, _name) in _OPERATORS.items():
    setattr(ndarray, f"__{_name}__", _binary(_ufunc, _symbol))
    if _ufunc not in _COMPARISONS:
        setattr(ndarray, f"__r{_name}__", _binary(_ufunc, _symbol, reflected=True))
        setattr(ndarray, f"__i{_name}__", _binary(_ufunc, _symbol + "=", inplace=True))
ndarray.__hash__ = None

# CuPy's ndarray methods (the ones NumPy has too); arguments must be device arrays or scalars
for _name in ("all", "any", "argmax", "argmin", "argpartition", "argsort", "astype", "choose",
              "clip", "compress", "conj", "conjugate", "copy", "cumprod", "cumsum", "diagonal",
              "dot", "fill", "flatten", "item", "max", "mean", "min", "nonzero", "partition",
              "prod", "put", "ravel", "repeat", "reshape", "round", "searchsorted", "sort",
              "squeeze", "std", "sum", "swapaxes", "take", "tobytes", "tolist", "trace",
              "transpose", "var", "view"):
    setattr(ndarray, _name, _method(_name))


# ------------------------------------------------------------------------------ the namespace
def asarray(a, dtype=None, order=None):
    """``a`` on the device: a device array as it is (cast if needed); anything else copied."""
    if type(a) is ndarray:
        return _device(_np.asarray(a._a, dtype=dtype, order=order), [a])
    return ndarray._wrap(_np.array(_host(a, "xp.asarray", allow_host=True), dtype=dtype,
                                   order=order or "K", copy=True))


def array(a, dtype=None, copy=True, order="K", ndmin=0):
    """A new device array from ``a`` (device or host data, lists, scalars)."""
    if type(a) is ndarray and not copy:
        return asarray(a, dtype=dtype)
    return ndarray._wrap(_np.array(_host(a, "xp.array", allow_host=True), dtype=dtype,
                                   copy=True, order=order, ndmin=ndmin))


asanyarray = asarray


def asnumpy(a):
    """A NumPy copy of a device array; other arrays and scalars as ``numpy.asarray``."""
    return a.get() if type(a) is ndarray else _np.asarray(a)


def get_array_module(*args):
    """This module if any argument is a device array, else numpy (as ``cupy.get_array_module``)."""
    return sys.modules[__name__] if any(type(a) is ndarray for a in args) else _np


def _forward(source, name, prefix=""):
    """NumPy's ``source.name`` for device arrays: ufuncs and functions wrapped, the rest as is."""
    target = getattr(source, name)       # AttributeError for names NumPy lacks
    if isinstance(target, _np.ufunc):
        return _Ufunc(target)
    if callable(target) and not isinstance(target, type):
        return _function(target, prefix + name)
    return target


class _Namespace(types.SimpleNamespace):
    """A sub-namespace (``linalg``, ``fft``) that forwards NumPy's functions as device ones."""

    def __init__(self, name, source):
        super().__init__(_name=name, _source=source)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        value = _forward(self._source, name, f"{self._name}.")
        setattr(self, name, value)
        return value


linalg = _Namespace("linalg", _np.linalg)
fft = _Namespace("fft", _np.fft)


def _as_strided(x, shape=None, strides=None, writeable=True):
    if type(x) is not ndarray:
        raise _unsupported("xp.lib.stride_tricks.as_strided", x)
    return ndarray._wrap(_np.lib.stride_tricks.as_strided(x._a, shape=shape, strides=strides,
                                                          writeable=writeable))


lib = types.SimpleNamespace(stride_tricks=types.SimpleNamespace(
    as_strided=_as_strided,
    sliding_window_view=_function(_np.lib.stride_tricks.sliding_window_view,
                                  "lib.stride_tricks.sliding_window_view"),
    broadcast_to=_function(_np.broadcast_to, "lib.stride_tricks.broadcast_to")))


class Generator:
    """CuPy's ``random.Generator`` on the CPU: only its draws, as device arrays."""

    def __init__(self, seed=None):
        self._rng = _np.random.default_rng(seed)

    def random(self, size=None, dtype=_np.float64):
        return _device(self._rng.random(size, dtype=dtype))

    def standard_normal(self, size=None, dtype=_np.float64):
        return _device(self._rng.standard_normal(size, dtype=dtype))

    def uniform(self, low=0.0, high=1.0, size=None, dtype=_np.float64):
        return _device(self._rng.uniform(low, high, size).astype(dtype, copy=False))

    def integers(self, low, high=None, size=None, dtype=_np.int64, endpoint=False):
        return _device(self._rng.integers(low, high, size, dtype=dtype, endpoint=endpoint))

    def standard_exponential(self, size=None, dtype=_np.float64):
        return _device(self._rng.standard_exponential(size, dtype=dtype))

    def __getattr__(self, name):
        raise AttributeError(f"strict backend: the device Generator has no {name!r} "
                             "(CuPy's random.Generator has random, standard_normal, uniform, "
                             "integers, ...); draw on the host and move the result with "
                             "xp.asarray, or build it from these")


def default_rng(seed=None):
    """A device Generator seeded with ``seed`` (an int or None)."""
    return Generator(seed)


random = types.SimpleNamespace(Generator=Generator, default_rng=default_rng)


class _Device:
    """``cuda.Device()``: the one device, already in sync (timing code calls ``synchronize``)."""

    id = 0

    def synchronize(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


cuda = types.SimpleNamespace(Device=lambda device=None: _Device(),
                             runtime=types.SimpleNamespace(getDeviceCount=lambda: 1))

_forwarded = {}     # NumPy names wrapped on first use (kept out of globals(): many are builtins')


def __getattr__(name):
    """The rest of NumPy's namespace: ufuncs and functions on device arrays, types as they are."""
    if name not in _forwarded:
        if name in _HOST_IO or name.startswith("__"):
            raise AttributeError(f"strict backend: the device module has no {name!r} "
                                 "(host-only; use numpy on a .get() copy)")
        _forwarded[name] = _forward(_np, name)
    return _forwarded[name]
