"""linkedref — linked neurons (Riera & Pujol, 2017) in a small NumPy/CuPy framework.

Every backward pass is derived by hand (the derivation sits beside the code) and proved against
finite differences (``linkedref.gradcheck``). Start reading at ``linked.py``: a linked unit
outputs concat(g(z), g(-z)) on axis 1, so at least one member always has a gradient.

Every public name is importable from here: ``linkedref.LKReLU``, ``linkedref.fit``, ...
Sub-packages: ``linkedref.data`` (datasets, toy problems, batches), ``linkedref.diagnostics``
(dead units, pre-activation statistics), ``linkedref.init`` (initialisers), ``linkedref.backend``,
and ``linkedref.fast``: the kernels and threads that exist only for speed (a reader may skip it).
"""
from . import backend, data, diagnostics, fast, init
from .activations import ELU, SELU, Activation, LeakyReLU, PReLU, ReLU, Sigmoid, Swish, Tanh
from .backend import get_backend, get_default_dtype, seed, set_backend, set_default_dtype, to_numpy
from .batchnorm import BatchNorm
from .conv import Conv2D
from .dense import Dense
from .dropout import Dropout
from .fast import get_threads, set_threads
from .gradcheck import GradientCheckError, gradcheck
from .io import load_weights, save_weights
from .layer import Layer, Sequential
from .linkage import LinkageCheck, check_linkage
from .linked import LKELU, LKSELU, Linked, LKLeakyReLU, LKPReLU, LKReLU, LKSwish, Member, is_linked
from .losses import MSE, SoftmaxCrossEntropy
from .models import all_cnn, cifar_net, count_params, depth_net, small_resnet, summary, width_net
from .optim import SGD, Adam, RMSProp, StepSchedule
from .pooling import AvgPool2D, GlobalAvgPool2D, MaxPool2D
from .registry import activation, activation_names, register_activation
from .reshape import Flatten
from .residual import Residual
from .train import History, evaluate, fit, predict

__version__ = "0.1.0"

__all__ = [
    "set_backend", "get_backend", "set_default_dtype", "get_default_dtype", "to_numpy", "seed",
    "Layer", "Sequential", "Activation",
    "ReLU", "LeakyReLU", "PReLU", "ELU", "SELU", "Swish", "Tanh", "Sigmoid",
    "LKReLU", "LKLeakyReLU", "LKPReLU", "LKELU", "LKSELU", "LKSwish", "Linked", "Member",
    "check_linkage", "LinkageCheck", "is_linked",
    "activation", "activation_names", "register_activation",
    "Dense", "Dropout", "BatchNorm", "Conv2D", "MaxPool2D", "AvgPool2D", "GlobalAvgPool2D",
    "Flatten", "Residual",
    "SoftmaxCrossEntropy", "MSE", "SGD", "RMSProp", "Adam", "StepSchedule",
    "fit", "evaluate", "predict", "History", "save_weights", "load_weights", "gradcheck",
    "GradientCheckError",
    "depth_net", "width_net", "cifar_net", "all_cnn", "small_resnet", "summary", "count_params",
    "set_threads", "get_threads",
    "backend", "data", "diagnostics", "fast", "init",
]
