"""linkedref — linked neurons (Riera & Pujol, 2017) in a small NumPy/CuPy framework.

Every public name is importable from here: ``linkedref.LKReLU``, ``linkedref.fit``, ...
(During development the names load lazily, module by module, so a missing module only fails
when one of its names is used.)
"""
import importlib

from .backend import (get_backend, get_default_dtype, set_backend, set_default_dtype,
                      to_numpy)
from .layer import Layer, Sequential

__version__ = "0.1.0"

# public name -> the module (relative to this package) that defines it
_EXPORTS = {
    **dict.fromkeys(["ReLU", "LeakyReLU", "PReLU", "ELU", "SELU", "Swish", "Tanh", "Sigmoid"],
                    "activations"),
    **dict.fromkeys(["LKReLU", "LKLeakyReLU", "LKPReLU", "LKELU", "LKSELU", "LKSwish", "Linked",
                     "check_linkage", "activation", "ACTIVATIONS", "is_linked", "Member",
                     "LinkageCheck"], "linked"),
    "Dense": "dense", "Dropout": "dropout", "BatchNorm": "batchnorm",
    **dict.fromkeys(["SoftmaxCrossEntropy", "MSE"], "losses"),
    **dict.fromkeys(["SGD", "RMSProp", "Adam", "StepSchedule"], "optim"),
    **dict.fromkeys(["fit", "evaluate", "predict", "History"], "train"),
    **dict.fromkeys(["save_weights", "load_weights"], "io"),
    "Conv2D": "conv",
    **dict.fromkeys(["MaxPool2D", "AvgPool2D", "GlobalAvgPool2D"], "pooling"),
    "Flatten": "reshape", "Residual": "residual",
    **dict.fromkeys(["depth_net", "width_net", "cifar_net", "all_cnn", "small_resnet", "summary",
                     "count_params"],
                    "models"),
    "gradcheck": "gradcheck",
}
_SUBMODULES = {"backend", "data", "diagnostics", "init", "gradcheck"}


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'linkedref' has no attribute {name!r}")


__all__ = ["set_backend", "get_backend", "set_default_dtype", "get_default_dtype", "to_numpy",
           "Layer", "Sequential", *_EXPORTS]
