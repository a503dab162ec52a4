"""The paper's networks as ``Sequential`` models, and ``summary`` / ``count_params``.

Every builder takes ``activation``: a registered name (``lk.activation_names()``: "relu",
"lkrelu", ..., and any name given to ``lk.register_activation``), a unit class (a subclass of
``lk.Activation``) or a zero-argument factory returning a new unit; also
``batchnorm`` (BatchNorm between each conv/dense and its activation), ``in_channels``,
``num_classes``, ``init`` (an initializer name of ``linkedref.init``) and ``rng`` (a numpy
Generator or an int seed; every layer draws from it in order, so a seed fixes the whole model).
Shapes are NCHW: an input (N, in_channels, H, W) gives logits (N, num_classes); the softmax lives
in ``SoftmaxCrossEntropy``.

Linked activations double the channels: a layer after one sees ``expansion`` (2) times the
channels the layer before it produced, so its fan-in and parameter count double. ``widen``
(√2 in the paper) widens a single-activation net instead, for the fair-parameter comparison:
each width w becomes round(w · widen).

``init="looks_linear"`` (Balduzzi et al., 2017): every layer fed by a mirror-linked activation
gets W = [W0; −W0] on its input halves, so that layer plus the link computes W0ᵀz at the start;
layers fed by anything else (the first layer, a residual shortcut) get ``FIRST_INIT``. With
LK-ReLU and zero biases the whole depth_net is then exactly linear at initialisation.
"""
from __future__ import annotations

import inspect

import numpy

from . import backend as B
from .activations import Activation
from .batchnorm import BatchNorm
from .conv import Conv2D, same_padding
from .dense import Dense
from .dropout import Dropout
from .layer import Layer, Sequential, check_pair, input_error
from .linkage import member_outputs
from .pooling import GlobalAvgPool2D, MaxPool2D
from .registry import unit_maker
from .reshape import Flatten
from .residual import Residual

FIRST_INIT = "glorot_uniform"   # the init of layers not fed by a link when init="looks_linear"


# ------------------------------------------------------------------------------ helpers
class _Stack:
    """Builds a layer list while tracking what the next layer sees.

    channels: the channels (or features) the next layer receives; linked: whether they come
    from a mirror-linked activation (so ``init="looks_linear"`` applies to the next layer).
    """

    def __init__(self, builder, act, batchnorm, init, rng, channels):
        self.builder, self.unit, self.batchnorm = builder, act, bool(batchnorm)
        self.init, self.rng = init, rng
        self.channels, self.linked = int(channels), False
        self.layers = []
        probe = _activation(builder, act)                     # fail early on a bad unit
        if isinstance(probe, Activation):                     # its output has expansion·C?
            member_outputs(probe, builder)(numpy.linspace(-1, 1, 5))
        self.expansion = probe.expansion
        if init == "looks_linear" and self.expansion != 2:
            raise ValueError(f"{builder}: init='looks_linear' needs a mirror-linked activation "
                             f"(one whose output is [g(z); g(−z)], e.g. 'lkrelu'), "
                             f"got activation {act!r}")

    def layer_init(self):
        """The init of the next weight layer."""
        if self.init == "looks_linear":
            return "looks_linear" if self.linked else FIRST_INIT
        return self.init

    def conv(self, out_channels, kernel_size, stride=1, padding="same"):
        self.layers.append(Conv2D(self.channels, out_channels, kernel_size, stride=stride,
                                  padding=padding, init=self.layer_init(), rng=self.rng))
        self.channels, self.linked = int(out_channels), False

    def dense(self, out_features):
        self.layers.append(Dense(self.channels, out_features, init=self.layer_init(),
                                 rng=self.rng))
        self.channels, self.linked = int(out_features), False

    def act(self):
        """[BatchNorm] + activation; the next layer then sees channels · expansion."""
        if self.batchnorm:
            self.layers.append(BatchNorm(self.channels))
        self.layers.append(_activation(self.builder, self.unit, self.channels))
        self.channels *= self.expansion
        self.linked = self.expansion == 2

    def add(self, layer):
        """A layer that keeps the channels (pooling, dropout, flatten) or sets them later."""
        self.layers.append(layer)


def _activation(builder, spec, channels=None):
    """A new unit from ``spec``: a registered name, a unit class or a zero-argument factory.

    ``channels`` is passed to a unit whose constructor takes it (per-channel PReLU slopes).
    """
    try:
        make = unit_maker(spec, f"{builder}: activation")
    except ValueError as err:
        raise ValueError(f"{builder}: unknown activation {spec!r} ({err})") from err
    takes = inspect.signature(make).parameters
    unit = make(channels=channels) if channels is not None and "channels" in takes else make()
    if not isinstance(unit, Layer):
        raise TypeError(f"{builder}: activation {spec!r} built a {type(unit).__name__}, "
                        "not a unit (an lk.Activation)")
    return unit


def _widened(width, widen, builder):
    if not widen > 0:
        raise ValueError(f"{builder}: widen must be > 0, got {widen!r}")
    return max(1, int(round(width * widen)))


def _conv_out(size, k, s, padding):
    """Output size of a conv/pool along one axis: "same" (TF rule), "valid" or an int padding."""
    if padding == "same":
        before, after = same_padding(size, k, s)
        size = size + before + after
    elif padding != "valid":
        size = size + 2 * int(padding)
    out = (size - k) // s + 1
    if out < 1:
        raise ValueError(f"models: a {k}×{k} window (stride {s}, padding {padding!r}) does not "
                         f"fit an input of size {size}; use a larger input_size")
    return out


# ----------------------------------------------------------------------------- builders
def depth_net(depth=50, width=4, activation="relu", batchnorm=False, in_channels=3,
              num_classes=10, input_size=(32, 32), init="glorot_uniform", rng=None, widen=1.0):
    """The paper's depth experiment: ``depth`` conv layers of ``width`` filters, then a Dense.

    Layers: Conv 7×7 stride 2 "same" (in → w), act;
    (depth − 1) × [Conv 3×3 "same" (w·e → w), act];
    Flatten; Dense(w·e·H'·W' → num_classes),
    with w = round(width · widen), e the activation's expansion, H' = ceil(H / 2),
    W' = ceil(W / 2). BatchNorm (if asked) sits between each conv and its activation.

    x (N, in_channels, H, W) → logits (N, num_classes).
    """
    name = "depth_net"
    if int(depth) < 1:
        raise ValueError(f"{name}: depth must be ≥ 1, got {depth!r}")
    H, W = check_pair(name, "input_size", input_size)
    w = _widened(width, widen, name)
    s = _Stack(name, activation, batchnorm, init, B.as_generator(rng), in_channels)
    s.conv(w, 7, stride=2, padding="same")
    s.act()
    for _ in range(int(depth) - 1):
        s.conv(w, 3, padding="same")
        s.act()
    H, W = _conv_out(H, 7, 2, "same"), _conv_out(W, 7, 2, "same")
    s.add(Flatten())
    s.channels *= H * W
    s.dense(num_classes)
    return Sequential(s.layers)


def width_net(units, activation="relu", batchnorm=False, in_channels=3, num_classes=10,
              input_size=(32, 32), padding="valid", init="glorot_uniform", rng=None, widen=1.0):
    """The paper's width experiment: one 3×3 conv layer of ``units`` filters, act, Dense.

    Layers: Conv 3×3 (in → u, ``padding``: "valid" as Keras' default), act, Flatten,
    Dense(u·e·H'·W' → num_classes), u = round(units · widen).

    x (N, in_channels, H, W) → logits (N, num_classes).
    """
    name = "width_net"
    H, W = check_pair(name, "input_size", input_size)
    u = _widened(units, widen, name)
    s = _Stack(name, activation, batchnorm, init, B.as_generator(rng), in_channels)
    s.conv(u, 3, padding=padding)
    s.act()
    H, W = _conv_out(H, 3, 1, padding), _conv_out(W, 3, 1, padding)
    s.add(Flatten())
    s.channels *= H * W
    s.dense(num_classes)
    return Sequential(s.layers)


def cifar_net(widen=1.0, activation="relu", batchnorm=False, in_channels=3, num_classes=10,
              input_size=(32, 32), dropout=True, init="glorot_uniform", rng=None):
    """The Keras ``cifar10_cnn`` example, which the paper's parameter (√2) experiment used.

    Conv 3×3 32 "same", act, Conv 3×3 32 "valid", act, MaxPool 2, Dropout .25,
    Conv 3×3 64 "same", act, Conv 3×3 64 "valid", act, MaxPool 2, Dropout .25,
    Flatten, Dense 512, act, Dropout .5, Dense num_classes.
    (Keras' second conv of each pair has no padding argument, i.e. "valid"; pooling floors.)
    ``dropout=False`` leaves the Dropout layers out.

    x (N, in_channels, H, W) → logits (N, num_classes); 32×32 gives a 64·6·6 flatten.
    """
    name = "cifar_net"
    H, W = check_pair(name, "input_size", input_size)
    c1, c2, d1 = (_widened(v, widen, name) for v in (32, 64, 512))
    rng = B.as_generator(rng)
    s = _Stack(name, activation, batchnorm, init, rng, in_channels)
    for c, p in ((c1, 0.25), (c2, 0.25)):
        s.conv(c, 3, padding="same")
        s.act()
        s.conv(c, 3, padding="valid")
        s.act()
        s.add(MaxPool2D(2))
        if dropout:
            s.add(Dropout(p, rng=rng))
        H, W = _conv_out(H, 3, 1, "valid") // 2, _conv_out(W, 3, 1, "valid") // 2
        if H < 1 or W < 1:
            raise ValueError(f"{name}: input_size {input_size!r} is too small (needs ≥ 10×10)")
    s.add(Flatten())
    s.channels *= H * W
    s.dense(d1)
    s.act()
    if dropout:
        s.add(Dropout(0.5, rng=rng))
    s.dense(num_classes)
    return Sequential(s.layers)


def all_cnn(activation="relu", batchnorm=False, in_channels=3, num_classes=10, width_scale=1.0,
            dropout=True, init="glorot_uniform", rng=None):
    """All-CNN-C (Springenberg et al., 2015), the paper's AllCNN; pooling replaced by stride 2.

    [Dropout .2 on the input]
    Conv 3×3 96, act, Conv 3×3 96, act, Conv 3×3 96 stride 2, act, [Dropout .5]
    Conv 3×3 192, act, Conv 3×3 192, act, Conv 3×3 192 stride 2, act, [Dropout .5]
    Conv 3×3 192 "valid", act, Conv 1×1 192, act, Conv 1×1 num_classes, GlobalAvgPool.
    3×3 convs are "same" except the one marked; 32×32 → 16 → 8 → 6×6 before the pooling.
    Widths are round(96 · width_scale) and round(192 · width_scale) (shrink it for laptops).
    Unlike the original, no activation follows the class layer: its outputs are the logits
    (a linked activation there would double the class scores; a ReLU would clip them).

    x (N, in_channels, H, W) with H, W ≥ 12 → logits (N, num_classes).
    """
    name = "all_cnn"
    a, b = _widened(96, width_scale, name), _widened(192, width_scale, name)
    rng = B.as_generator(rng)
    s = _Stack(name, activation, batchnorm, init, rng, in_channels)
    if dropout:
        s.add(Dropout(0.2, rng=rng))
    for c in (a, b):
        for stride in (1, 1, 2):
            s.conv(c, 3, stride=stride)
            s.act()
        if dropout:
            s.add(Dropout(0.5, rng=rng))
    s.conv(b, 3, padding="valid")
    s.act()
    s.conv(b, 1)
    s.act()
    s.conv(num_classes, 1)
    s.add(GlobalAvgPool2D())
    return Sequential(s.layers)


def small_resnet(blocks=(1, 1, 1), width=16, activation="relu", batchnorm=False, in_channels=3,
                 num_classes=10, init="glorot_uniform", rng=None, widen=1.0):
    """A small CIFAR-style ResNet of pre-activation blocks (He et al., 2016, "Identity mappings").

    Stem: Conv 3×3 (in → w).  Stage i (i = 0, 1, ...) has ``blocks[i]`` blocks of width w·2^i;
    the first block of every stage after the first halves H and W (stride 2). One block:

        y = x + [BN] act Conv3×3(w_in·e → w, stride) [BN] act Conv3×3(w·e → w) (x)

    with the shortcut the identity, or a 1×1 stride-2 Conv (w_in → w) where the shape changes.
    Head: [BN] act, GlobalAvgPool, Dense(w_last·e → num_classes).  (w = round(width · widen).)

    Why pre-activation: the residual stream carries conv outputs (w channels), and the
    activation — which a linked unit doubles to w·e channels — only feeds the conv after it.
    So identity shortcuts stay shape-consistent for linked and single activations alike.
    blocks=(3, 3, 3) gives the 20-layer CIFAR ResNet; (1, 1, 1) an 8-layer one.

    x (N, in_channels, H, W) → logits (N, num_classes).
    """
    name = "small_resnet"
    blocks = tuple(int(n) for n in blocks)
    if not blocks or min(blocks) < 1:
        raise ValueError(f"{name}: blocks must be a non-empty sequence of counts ≥ 1, "
                         f"got {blocks!r}")
    w = _widened(width, widen, name)
    rng = B.as_generator(rng)
    s = _Stack(name, activation, batchnorm, init, rng, in_channels)
    s.conv(w, 3)
    for stage, count in enumerate(blocks):
        out = w * 2 ** stage
        for i in range(count):
            stride = 2 if (stage > 0 and i == 0) else 1
            w_in = s.channels
            body = _Stack(name, activation, batchnorm, init, rng, w_in)
            body.act()
            body.conv(out, 3, stride=stride)
            body.act()
            body.conv(out, 3)
            shortcut = None
            if stride != 1 or w_in != out:            # fed by the stream, not by a link
                shortcut = Conv2D(w_in, out, 1, stride=stride, padding="valid",
                                  init=FIRST_INIT if init == "looks_linear" else init, rng=rng)
            s.add(Residual(Sequential(body.layers), shortcut))
            s.channels, s.linked = out, False
    s.act()
    s.add(GlobalAvgPool2D())
    s.dense(num_classes)
    return Sequential(s.layers)


# ------------------------------------------------------------------------------ summary
def count_params(model) -> int:
    """The number of parameters (scalars) in ``model.params``.

    PReLU slopes created lazily on the first forward count only once they exist.
    """
    return int(sum(int(v.size) for v in model.params.values()))


def _short(layer) -> str:
    if isinstance(layer, Conv2D):
        (kh, kw), (sh, _) = layer.kernel_size, layer.stride
        return f"Conv{kh}x{kw}/{sh} {layer.in_channels}->{layer.out_channels}"
    if isinstance(layer, Dense):
        return f"Dense {layer.in_features}->{layer.out_features}"
    if isinstance(layer, Sequential):
        return ", ".join(_short(c) for c in layer.layers)
    if layer.children():
        return f"{layer.name}(" + "; ".join(_short(c) for c in layer.children()) + ")"
    return layer.name


def summary(model, input_shape, print_fn=print) -> str:
    """Each top-level layer's output shape and parameter count, and the total; printed and returned.

    input_shape: (C, H, W) or (D,) for one sample (batch 1 is prepended), or a full shape
    starting with the batch size. Runs one inference-mode forward on zeros through each layer
    (so lazily created parameters exist, and every shape is the real one).
    """
    if not isinstance(model, Layer):
        raise TypeError(f"summary: expected a Layer (e.g. a Sequential), "
                        f"got {type(model).__name__}")
    shape = tuple(int(v) for v in input_shape)
    if len(shape) in (1, 3):
        shape = (1,) + shape
    if len(shape) not in (2, 4):
        raise ValueError(f"summary: input_shape must be (C, H, W), (D,), or one of those with a "
                         f"batch axis first; got {tuple(input_shape)!r}")
    layers = model.layers if isinstance(model, Sequential) else [model]
    params = list(model.params.values())
    xp = B.get_array_module(params[0]) if params else B.xp()   # where the model lives
    x = xp.zeros(shape, dtype=model.dtype)
    rows = [("#", "layer", "output shape", "params")]
    for i, layer in enumerate(layers):
        try:
            x = layer.forward(x, training=False)
        except (ValueError, TypeError) as err:
            error = input_error(layers, i, x, err)
            raise type(error)(f"summary (input_shape {tuple(input_shape)}): {error}") from err
        rows.append((str(i), _short(layer), str(tuple(x.shape[1:])), f"{count_params(layer):,}"))
    widths = [max(len(row[k]) for row in rows) for k in range(4)]
    table = [f"{num:>{widths[0]}}  {name:<{widths[1]}}  {out:<{widths[2]}}  {count:>{widths[3]}}"
             for num, name, out, count in rows]
    line = "-" * (sum(widths) + 6)
    text = "\n".join([f"input {shape[1:]}", table[0], line, *table[1:], line,
                      f"total params: {count_params(model):,}"])
    if print_fn is not None:
        print_fn(text)
    return text


__all__ = ["depth_net", "width_net", "cifar_net", "all_cnn", "small_resnet", "summary",
           "count_params", "FIRST_INIT"]
