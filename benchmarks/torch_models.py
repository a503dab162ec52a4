"""PyTorch twins of linkedref's depth_net, width_net and cifar_net, for the benchmarks only.

Same layer sizes, same order, NCHW, float32:
- the linked unit is ``torch.cat([g(z), g(-z)], 1)`` (unit half first, then the mirror);
- BatchNorm sits between each conv/dense and its activation, with Keras' eps (1e-3) and
  momentum (0.99 in Keras' convention = 0.01 in PyTorch's);
- "same" padding: PyTorch pads symmetrically, so by default the 7×7 stride-2 first conv of
  depth_net uses padding 3 where TF/Keras pads (2, 3): same output shape and FLOPs, which is all
  the timing benchmarks need. ``depth_net(..., padding="keras")`` pads exactly as linkedref
  (a ``ZeroPad2d`` before the conv), for ``torch_parity.py``.

torch is imported lazily (inside the functions), so importing this module never needs it.
"""
from __future__ import annotations


def _widened(width, widen):
    return max(1, int(round(width * widen)))


def _modules():
    import torch
    from torch import nn

    class Linked(nn.Module):
        """f(z) = cat(g(z), g_mirror(−z)) on the channel axis (g = ReLU: CReLU). g_mirror is a
        separate module, so LK-PReLU's two halves have separate slopes, as in linkedref."""

        expansion = 2

        def __init__(self, g, g_mirror):
            super().__init__()
            self.g, self.g_mirror = g, g_mirror

        def forward(self, z):
            return torch.cat([self.g(z), self.g_mirror(-z)], 1)

    return torch, nn, Linked


def _activation(name, channels):
    """(module, expansion) for "relu", "prelu", "selu", "swish", "elu", "tanh", "sigmoid",
    "leaky_relu" and their "lk" versions; PReLU has one slope per channel, as in linkedref."""
    torch, nn, Linked = _modules()
    single = {"relu": nn.ReLU, "selu": nn.SELU, "swish": nn.SiLU, "elu": nn.ELU,
              "tanh": nn.Tanh, "sigmoid": nn.Sigmoid,
              "leaky_relu": lambda: nn.LeakyReLU(0.01),
              "prelu": lambda: nn.PReLU(num_parameters=channels, init=0.25)}
    key = name.lower()
    if key.startswith("lk") and key[2:] in single:
        return Linked(single[key[2:]](), single[key[2:]]()), 2
    if key in single:
        return single[key](), 1
    raise ValueError(f"torch_models: unknown activation {name!r}")


class _Stack:
    def __init__(self, act_name, batchnorm, channels):
        self.act_name, self.batchnorm, self.channels = act_name, batchnorm, channels
        self.layers = []

    def conv(self, out, k, stride=1, padding=0):
        """padding: an int (both sides), or (top, bottom, left, right) for a ZeroPad2d first."""
        _, nn, _ = _modules()
        if isinstance(padding, tuple):
            top, bottom, left, right = padding
            if top == bottom and left == right:
                padding = (top, left)
            else:
                self.layers.append(nn.ZeroPad2d((left, right, top, bottom)))
                padding = 0
        self.layers.append(nn.Conv2d(self.channels, out, k, stride=stride, padding=padding))
        self.channels = out

    def dense(self, out):
        _, nn, _ = _modules()
        self.layers.append(nn.Linear(self.channels, out))
        self.channels = out

    def act(self, ndim=4):
        _, nn, _ = _modules()
        if self.batchnorm:
            bn = nn.BatchNorm2d if ndim == 4 else nn.BatchNorm1d
            self.layers.append(bn(self.channels, eps=1e-3, momentum=0.01))
        module, e = _activation(self.act_name, self.channels)
        self.layers.append(module)
        self.channels *= e


def _keras_same(size, k, s):
    """TF/Keras "same" padding (before, after) along one axis (as linkedref.conv.same_padding)."""
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def depth_net(depth=50, width=4, activation="relu", batchnorm=False, in_channels=3,
              num_classes=10, input_size=(32, 32), widen=1.0, padding="symmetric"):
    """Twin of linkedref.models.depth_net: 7×7/2 conv, (depth−1) 3×3 convs, Flatten, Linear.

    padding: "symmetric" (3 on every side of the first conv; PyTorch's way) or "keras" (exactly
    linkedref's "same": (2, 3) on an even input).
    """
    _, nn, _ = _modules()
    w = _widened(width, widen)
    s = _Stack(activation, batchnorm, in_channels)
    if padding == "keras":
        first = _keras_same(input_size[0], 7, 2) + _keras_same(input_size[1], 7, 2)
    elif padding == "symmetric":
        first = 3
    else:
        raise ValueError(f"torch_models.depth_net: padding must be 'symmetric' or 'keras', "
                         f"got {padding!r}")
    s.conv(w, 7, stride=2, padding=first)
    s.act()
    for _ in range(depth - 1):
        s.conv(w, 3, padding=1)
        s.act()
    H, W = (-(-v // 2) for v in input_size)
    s.layers.append(nn.Flatten())
    s.channels *= H * W
    s.dense(num_classes)
    return nn.Sequential(*s.layers)


def width_net(units, activation="relu", batchnorm=False, in_channels=3, num_classes=10,
              input_size=(32, 32), padding="valid", widen=1.0):
    """Twin of linkedref.models.width_net: one 3×3 conv ("valid" or "same"), act, Linear."""
    _, nn, _ = _modules()
    u = _widened(units, widen)
    s = _Stack(activation, batchnorm, in_channels)
    if padding not in ("valid", "same"):
        raise ValueError(f"torch_models.width_net: padding must be 'valid' or 'same', "
                         f"got {padding!r}")
    s.conv(u, 3, padding=1 if padding == "same" else 0)
    s.act()
    H, W = input_size if padding == "same" else (v - 2 for v in input_size)
    s.layers.append(nn.Flatten())
    s.channels *= H * W
    s.dense(num_classes)
    return nn.Sequential(*s.layers)


def cifar_net(widen=1.0, activation="relu", batchnorm=False, in_channels=3, num_classes=10,
              input_size=(32, 32), dropout=True):
    """Twin of linkedref.models.cifar_net (the Keras cifar10_cnn example)."""
    _, nn, _ = _modules()
    c1, c2, d1 = (_widened(v, widen) for v in (32, 64, 512))
    s = _Stack(activation, batchnorm, in_channels)
    H, W = input_size
    for c in (c1, c2):
        s.conv(c, 3, padding=1)
        s.act()
        s.conv(c, 3, padding=0)
        s.act()
        s.layers.append(nn.MaxPool2d(2))
        if dropout:
            s.layers.append(nn.Dropout(0.25))
        H, W = (H - 2) // 2, (W - 2) // 2
    s.layers.append(nn.Flatten())
    s.channels *= H * W
    s.dense(d1)
    s.act(ndim=2)
    if dropout:
        s.layers.append(nn.Dropout(0.5))
    s.dense(num_classes)
    return nn.Sequential(*s.layers)


def count_params(model) -> int:
    return sum(p.numel() for p in model.parameters())
