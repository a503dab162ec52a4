"""Save and load a model's weights as a plain ``.npz`` file — no pickle, on any backend.

File layout (``numpy.savez``): every parameter under "param/<key>" and every buffer (BatchNorm's
running statistics) under "buffer/<key>", as NumPy arrays (CuPy arrays are copied to the host);
plus "__linkedref__", a NumPy string array ["linkedref-weights", "<format version>", keys...].
Nothing in it is pickled, and loading never unpickles (``allow_pickle=False``).

Loading copies into the model's existing arrays in place (on its backend, in its dtype), so an
optimizer built on the model keeps working. A file written for another architecture is refused
with a message saying what differs, before anything is copied.
"""
from __future__ import annotations

import os
import tempfile
import zipfile

import numpy

from . import backend as B

FORMAT = "linkedref-weights"
VERSION = "1"
_META = "__linkedref__"


def save_weights(model, path) -> None:
    """Write ``model.params`` and ``model.buffers`` to ``path`` (.npz; written atomically).

    The path is used as given (no ".npz" is appended).
    """
    path = os.fspath(path)
    _check_built(model, "save_weights")
    arrays = _model_arrays(model)
    meta = numpy.array([FORMAT, VERSION, *arrays])             # a plain unicode array
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".weights-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            numpy.savez(f, **{_META: meta}, **{k: B.to_numpy(v) for k, v in arrays.items()})
        os.replace(tmp, path)                                   # never a half-written file
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def load_weights(model, path) -> None:
    """Copy the weights in ``path`` into ``model``'s existing arrays, in place.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not a readable linkedref weights file (corrupt, truncated, not
            an .npz, or holding pickled objects), or its keys/shapes differ from the model's.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"load_weights: no such file: {path}")
    stored = _read(path)
    target = _model_arrays(model)
    missing = sorted(set(target) - set(stored))
    unexpected = sorted(set(stored) - set(target))
    shapes = [f"{_strip([k])[0]}: file {tuple(stored[k].shape)}, model {tuple(target[k].shape)}"
              for k in target if k in stored and tuple(stored[k].shape) != tuple(target[k].shape)]
    if missing or unexpected or shapes:
        problems = []
        if missing:
            problems.append(f"missing in the file: {', '.join(_strip(missing))}")
        if unexpected:
            problems.append(f"not in the model: {', '.join(_strip(unexpected))}")
        if shapes:
            problems.append(f"shape mismatch: {'; '.join(shapes)}")
        hint = ""
        if not _is_built(model):
            hint = (" — the model creates some parameters on its first forward (PReLU): run "
                    "model.forward(x) on one batch before load_weights")
        raise ValueError(f"load_weights: {path} was saved from a different architecture; "
                         + "; ".join(problems) + hint)
    for key, dst in target.items():
        xp = B.get_array_module(dst)
        dst[...] = xp.asarray(stored[key], dtype=dst.dtype)     # in place: same array object


# --------------------------------------------------------------------------------- internals
def _model_arrays(model) -> dict:
    """{"param/<key>": array, "buffer/<key>": array} of the model."""
    if not hasattr(model, "params"):
        raise TypeError(f"expected a model with .params, got a {type(model).__name__}")
    out = {f"param/{k}": v for k, v in model.params.items()}
    out.update({f"buffer/{k}": v for k, v in getattr(model, "buffers", {}).items()})
    return out


def _read(path) -> dict:
    """Every array of a linkedref .npz, read eagerly; ValueError naming ``path`` otherwise."""
    with open(path, "rb") as f:
        if f.read(4) != b"PK\x03\x04":                          # every .npz is a zip archive
            raise ValueError(f"load_weights: {path} is not an .npz file (no zip header)")
    try:
        f = numpy.load(path, allow_pickle=False)
        with f:
            data = {k: f[k] for k in f.files}                   # pickled entries raise here
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError) as err:
        raise ValueError(f"load_weights: cannot read {path} as a linkedref weights file (.npz): "
                         f"{err}") from err
    meta = data.pop(_META, None)
    if meta is None or meta.dtype.kind != "U" or meta.ndim != 1 or len(meta) < 2 \
            or meta[0] != FORMAT:
        raise ValueError(f"load_weights: {path} is an .npz but not a linkedref weights file "
                         f"(no '{_META}' entry)")
    if meta[1] != VERSION:
        raise ValueError(f"load_weights: {path} has weights format version {meta[1]}, "
                         f"this linkedref reads version {VERSION}")
    if sorted(meta[2:].tolist()) != sorted(data):
        raise ValueError(f"load_weights: {path} is damaged: its key list does not match its arrays")
    return data


def _walk(layer):
    yield layer
    for child in getattr(layer, "children", lambda: [])():
        yield from _walk(child)


def _unbuilt(layer) -> bool:
    """True for a layer that still waits for its first forward to create its parameters
    (``built = False``, or a ``_build`` method and no params yet, as PReLU has)."""
    if getattr(layer, "built", None) is False:
        return True
    return callable(getattr(layer, "_build", None)) and not layer.params


def _is_built(model) -> bool:
    return not any(_unbuilt(layer) for layer in _walk(model))


def _check_built(model, where):
    for layer in _walk(model):
        if _unbuilt(layer):
            raise ValueError(f"{where}: {layer!r} has not created its parameters yet (they are "
                             "sized on the first forward); run model.forward(x) on one batch "
                             "first")


def _strip(keys):
    return [k.split("/", 1)[1] + (" (buffer)" if k.startswith("buffer/") else "") for k in keys]
