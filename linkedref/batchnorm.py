"""Batch normalisation (Ioffe & Szegedy, 2015) for (N, C) vectors and (N, C, H, W) images.

Statistics are taken per channel (axis 1) over every other axis: over N for (N, C), over
N, H, W for NCHW. With M = the number of values per channel (N or N·H·W):

    training:   μ = mean(x),  σ² = mean((x − μ)²)  (biased, as in the paper and Keras)
                x̂ = (x − μ) / sqrt(σ² + eps),   y = γ x̂ + β
                running_mean ← momentum·running_mean + (1 − momentum)·μ
                running_var  ← momentum·running_var  + (1 − momentum)·σ²·M/(M − 1)
                (the *unbiased* batch variance updates the running one, as Keras 2 and PyTorch do)
    inference:  x̂ = (x − running_mean) / sqrt(running_var + eps),   y = γ x̂ + β

Defaults momentum = 0.99, eps = 1e-3 are Keras's (the paper's framework); PyTorch's would be
momentum 0.9 in this convention (0.1 in its own) and eps 1e-5.
"""
from __future__ import annotations

from . import backend as B
from .activations import per_channel, reduce_axes
from .layer import Layer, check_size


class BatchNorm(Layer):
    """Per-channel batch normalisation.  x: (N, C) or (N, C, H, W) → y: same shape.

    params: gamma (C,) = 1, beta (C,) = 0.  buffers: running_mean (C,) = 0, running_var (C,) = 1.
    cache: (training, x̂ (shape of x), 1/sqrt(σ² + eps) (shape (1, C[, 1, 1]))).
    """

    def __init__(self, num_features: int, momentum: float = 0.99, eps: float = 1e-3):
        super().__init__()
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"BatchNorm: momentum must be in [0, 1], got {momentum}")
        if not eps > 0:
            raise ValueError(f"BatchNorm: eps must be > 0, got {eps}")
        self.num_features = check_size("BatchNorm", "num_features", num_features)
        self.momentum, self.eps = float(momentum), float(eps)
        xp, C = B.xp(), self.num_features
        self.params = {"gamma": xp.ones(C, dtype=self.dtype), "beta": xp.zeros(C, dtype=self.dtype)}
        self.grads = {k: xp.zeros_like(v) for k, v in self.params.items()}
        self.buffers = {"running_mean": xp.zeros(C, dtype=self.dtype),
                        "running_var": xp.ones(C, dtype=self.dtype)}

    def forward(self, x, training: bool = False):
        """x (N, C[, H, W]) → y (same shape); batch statistics when training, else running ones."""
        self.check_input(x, ndims=(2, 4), channels=self.num_features)
        xp, axes = B.get_array_module(x), reduce_axes(x.ndim)
        gamma = per_channel(self.params["gamma"], x.ndim)                 # 1, C[, 1, 1]
        beta = per_channel(self.params["beta"], x.ndim)                   # 1, C[, 1, 1]
        if training:
            M = x.size // x.shape[1]
            if M < 2:
                raise ValueError(f"{self.name}: training needs more than one value per channel "
                                 f"to compute batch statistics, got input shape "
                                 f"{tuple(x.shape)}; use a batch of 2 or more, or training=False")
            mean = x.mean(axis=axes, keepdims=True)                       # 1, C[, 1, 1]
            xc = x - mean                                                 # N, C[, H, W]
            var = (xc * xc).mean(axis=axes, keepdims=True)                # 1, C[, 1, 1] biased
            inv_std = 1.0 / xp.sqrt(var + self.eps)                       # 1, C[, 1, 1]
            xhat = xc * inv_std                                           # N, C[, H, W]
            self._update_running(mean.reshape(-1), var.reshape(-1) * (M / (M - 1)))
        else:
            mean = per_channel(self.buffers["running_mean"], x.ndim)
            inv_std = 1.0 / xp.sqrt(per_channel(self.buffers["running_var"], x.ndim) + self.eps)
            xhat = (x - mean) * inv_std
        y = gamma * xhat + beta                                           # N, C[, H, W]
        self.save_for_backward((training, xhat, inv_std), output_shape=y.shape)
        return y

    def _update_running(self, mean, var):
        """running ← momentum·running + (1 − momentum)·batch (mean, var: (C,))."""
        m = self.momentum
        for key, batch in (("running_mean", mean), ("running_var", var)):
            self.buffers[key] = m * self.buffers[key] + (1 - m) * batch

    def backward(self, dy, need_dx=True):
        """dy (N, C[, H, W]) → dx (same shape); sets grads gamma (C,) and beta (C,)."""
        training, xhat, inv_std = self.saved(dy)
        axes = reduce_axes(dy.ndim)
        # y = γ x̂ + β  ⇒  dL/dβ = Σ dy,  dL/dγ = Σ dy·x̂  (sums over all axes but 1)
        dbeta = dy.sum(axis=axes)                                               # C
        dgamma = (dy * xhat).sum(axis=axes)                                     # C
        self.grads["beta"], self.grads["gamma"] = dbeta, dgamma
        gamma = per_channel(self.params["gamma"], dy.ndim)                      # 1, C[, 1, 1]
        if not training:
            # x̂ = (x − running_mean)·s with constant statistics ⇒ dL/dx = dy·γ·s (one scale)
            return dy * (gamma * inv_std)                                       # N, C[, H, W]
        # Training: μ and σ² depend on x. Write g = dL/dx̂ = γ·dy, s = (σ² + eps)^(-1/2),
        # x̂_i = (x_i − μ)·s, M values per channel. Then
        #   ∂μ/∂x_i = 1/M,  ∂σ²/∂x_i = 2(x_i − μ)/M  ⇒  ∂s/∂x_i = −s³(x_i − μ)/M = −s²·x̂_i/M,
        #   ∂x̂_j/∂x_i = s·(δ_ij − 1/M) − x̂_j·s·x̂_i/M, so
        #   dL/dx_i = Σ_j g_j ∂x̂_j/∂x_i = (s/M)·(M·g_i − Σ_j g_j − x̂_i·Σ_j g_j·x̂_j).
        # The sums are already known: Σ g = γ·dL/dβ and Σ g·x̂ = γ·dL/dγ, so with g = γ·dy
        #   dL/dx = γ·s·(dy − (dL/dβ + x̂·dL/dγ)/M)
        M = dy.size // dy.shape[1]
        mean_dy = per_channel(dbeta / M, dy.ndim)                               # 1, C[, 1, 1]
        mean_dy_xhat = per_channel(dgamma / M, dy.ndim)                         # 1, C[, 1, 1]
        return (dy - mean_dy - xhat * mean_dy_xhat) * (gamma * inv_std)         # N, C[, H, W]

    def __repr__(self):
        return f"BatchNorm({self.num_features}, momentum={self.momentum}, eps={self.eps})"
