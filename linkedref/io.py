"""Save and load a model's weights as a plain ``.npz`` file — no pickle, on any backend: nothing
in it is pickled, and loading never unpickles (``allow_pickle=False``).

File layout (``numpy.savez``), format version 2:

- "param/<key>" for every parameter and "buffer/<key>" for every buffer (BatchNorm's running
  statistics), as NumPy arrays (CuPy arrays are copied to the host);
- "__layers__", a NumPy string array (L, 2) of [layer path, class name] for every layer of the
  model tree (``layer.walk``): the path of the model itself is "", of its child i "i", of that
  child's child j "i.j" — the names of the parameter keys ("block", "shortcut" in a Residual);
- "__linkedref__", a NumPy string array ["linkedref-weights", "2", keys...].

Loading copies into the model's existing arrays in place (on its backend, in its dtype), so an
optimizer built on the model keeps working; what it refuses, before anything is copied, is
listed in ``load_weights``.

``atomic_write(path)`` is the file writer this module and ``linkedref.data.download`` share.
"""
from __future__ import annotations

import contextlib
import os
import secrets
import stat
import zipfile

import numpy

from . import backend as B
from .layer import walk

FORMAT = "linkedref-weights"
VERSION = "2"
_META = "__linkedref__"
_LAYERS = "__layers__"


# ------------------------------------------------------------------------------ atomic_write
@contextlib.contextmanager
def atomic_write(path, where: str = "atomic_write"):
    """Write ``path`` all at once: yield a binary file beside it, move it onto ``path`` at the end.

    On a clean exit the temporary file (".<name>.<random>.tmp" in the same folder) replaces
    ``path`` with ``os.replace``, so readers see the old file or the whole new one, never half;
    on an error it is removed and ``path`` is untouched. Permissions are those a plain
    ``open(path, "wb")`` gives: a new file gets 0o666 minus the umask, an existing one keeps
    its mode. ``where`` names the caller in error messages.

    Raises FileNotFoundError (PermissionError) naming ``path`` when its folder does not exist
    (is not writable).
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = _create_beside(path, folder, where)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
        with contextlib.suppress(FileNotFoundError):
            os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode))     # an existing file's mode
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def _create_beside(path, folder, where):
    """A new, empty temp file in ``folder`` -> (fd, name); mode 0o666 & ~umask, as ``open``."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = os.path.join(folder, f".{os.path.basename(path)}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp          # the OS applies the umask
        except FileExistsError:
            continue
        except (FileNotFoundError, NotADirectoryError) as err:
            raise FileNotFoundError(f"{where}: cannot write {path}: the folder {folder} does "
                                    f"not exist") from err
        except PermissionError as err:
            raise PermissionError(f"{where}: cannot write {path}: no permission to create a "
                                  f"file in {folder}") from err
    raise FileExistsError(f"{where}: cannot create a temporary file in {folder} for {path}")


# ------------------------------------------------------------------------ save / load weights
def save_weights(model, path) -> None:
    """Write ``model.params``, ``model.buffers`` and its layer types to ``path`` (.npz, atomically).

    The path is used as given (no ".npz" is appended); a missing folder raises as in
    ``atomic_write``.
    """
    path = os.fspath(path)
    unbuilt = _first_unbuilt(model)
    if unbuilt is not None:
        raise ValueError(f"save_weights: {unbuilt!r} has not created its parameters yet (they are "
                         "sized on the first forward); run model.forward(x) on one batch first")
    arrays = _model_arrays(model)
    layers = numpy.array([[p, t] for p, t in _layer_types(model).items()]).reshape(-1, 2)
    meta = numpy.array([FORMAT, VERSION, *arrays])             # a plain unicode array
    with atomic_write(path, "save_weights") as f:
        numpy.savez(f, **{_META: meta, _LAYERS: layers},
                    **{k: B.to_numpy(v) for k, v in arrays.items()})


def load_weights(model, path) -> None:
    """Copy the weights in ``path`` into ``model``'s existing arrays, in place.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not a readable linkedref weights file (corrupt, truncated, not
            an .npz, holding pickled objects, or of another format version), or it was written
            for another architecture: other parameter names or shapes, or another layer type
            anywhere in the tree (a Tanh net's weights offered to a ReLU net of the same
            shapes); the message says what differs, naming each layer path with both types.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"load_weights: no such file: {path}")
    stored, layers = _read(path)
    target = _model_arrays(model)
    problems = _differences(stored, layers, target, _layer_types(model))
    if problems:
        hint = ""
        if _first_unbuilt(model) is not None:
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


def _layer_types(model) -> dict:
    """{dotted position path: class name} for every layer of the tree, in walk order. A wrapper
    that holds its model as ``.module`` (``lk.fast.DataParallel``) records the model's types, so
    its weights load into the plain model and back."""
    return {p: type(layer).__name__ for p, layer in walk(getattr(model, "module", model))}


def _differences(stored, layers, target, types) -> list:
    """What differs between a file (arrays, layer types) and a model, as sentences."""
    problems = []
    if layers != types:
        paths = list(types) + [p for p in layers if p not in types]
        rows = [f"{p or '(top)'}: file {layers.get(p, 'no layer')}, model "
                f"{types.get(p, 'no layer')}" for p in paths if layers.get(p) != types.get(p)]
        more = f" (and {len(rows) - 6} more)" if len(rows) > 6 else ""
        problems.append(f"layer types differ at {'; '.join(rows[:6])}{more}")
    missing = sorted(set(target) - set(stored))
    unexpected = sorted(set(stored) - set(target))
    shapes = [f"{_strip([k])[0]}: file {tuple(stored[k].shape)}, model {tuple(target[k].shape)}"
              for k in target if k in stored and tuple(stored[k].shape) != tuple(target[k].shape)]
    if missing:
        problems.append(f"missing in the file: {', '.join(_strip(missing))}")
    if unexpected:
        problems.append(f"not in the model: {', '.join(_strip(unexpected))}")
    if shapes:
        problems.append(f"shape mismatch: {'; '.join(shapes)}")
    return problems


def _read(path):
    """Every array of a linkedref .npz, read eagerly -> (arrays, {layer path: type name})."""
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
        raise ValueError(f"load_weights: {path} has weights format version {meta[1]}; this "
                         f"linkedref reads version {VERSION} only (the files save_weights writes)")
    layers = data.pop(_LAYERS, None)
    if layers is None or layers.dtype.kind != "U" or layers.ndim != 2 or layers.shape[1] != 2:
        raise ValueError(f"load_weights: {path} is damaged: no valid '{_LAYERS}' entry "
                         f"(expected an (L, 2) string array of layer paths and types)")
    if sorted(meta[2:].tolist()) != sorted(data):
        raise ValueError(f"load_weights: {path} is damaged: its key list does not match its arrays")
    return data, dict(layers.tolist())


def _first_unbuilt(model):
    """The first layer that still waits for its first forward to create its parameters (it has
    a ``build`` method and no params yet, as PReLU and LKPReLU have), or None."""
    return next((layer for _, layer in walk(model)
                 if callable(getattr(layer, "build", None)) and not layer.params), None)


def _strip(keys):
    return [k.split("/", 1)[1] + (" (buffer)" if k.startswith("buffer/") else "") for k in keys]
