"""Winograd F(4×4, 3×3): a stride-1 3×3 correlation from 36 products per 4×4 outputs, not 144.

Lavin & Gray (2016), "Fast Algorithms for Convolutional Neural Networks". For one channel, take
the input tile d (6×6 pixels) and the filter g (3×3); the tile's 4×4 valid correlation is

    Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A          (⊙ elementwise: 36 products)

with the constant matrices below. Over channels the sum moves inside the products. For each of
the 36 tile positions ξ it is one matrix product, M[ξ] = U[ξ] @ V[ξ], of the transformed filters
U[ξ] (O × C) and the transformed inputs V[ξ] (C × tiles). So the work is 36 GEMMs of
(O × C) @ (C × tiles), where im2col does one of (O × 9C) @ (9C × positions): 36/16 = 2.25
products per output and channel pair instead of 9.

Layout: a chunk of the batch's tiles is held as (6, 6, C, tiles), the tile's two axes first, so
that each transform is two GEMMs with a small constant matrix and no transposes between
(``_both_axes``); BLAS then does the transforms' arithmetic, not NumPy's elementwise passes.
Entering that layout costs one gathering copy (tiles overlap by 2), leaving it one transposing
copy (``conv._winograd`` does both).

dW runs the same algorithm backwards. Y is linear in U = G g Gᵀ, so for the tiles' output
gradients dY: dU = Σ_tiles (A dY Aᵀ) ⊙ (Bᵀ d B) — for each ξ a GEMM (O × tiles) @ (tiles × C) —
and dg = Gᵀ dU G (``output_gradient_transform``, ``filter_gradient``).

Rounding: Aᵀ has entries up to 8, Bᵀ up to 5; G has sixths, twelfths and 24ths. So float32
results differ from im2col's by more than the last bit (``conv.WINOGRAD_F32_BOUND``).
"""
from __future__ import annotations

from .. import backend as B

BT = ((4, 0, -5, 0, 1, 0),                          # input transform Bᵀ (6×6)
      (0, -4, -4, 1, 1, 0),
      (0, 4, -4, -1, 1, 0),
      (0, -2, -1, 2, 1, 0),
      (0, 2, -1, -2, 1, 0),
      (0, 4, 0, -5, 0, 1))
G = ((1 / 4, 0, 0),                                 # filter transform G (6×3)
     (-1 / 6, -1 / 6, -1 / 6),
     (-1 / 6, 1 / 6, -1 / 6),
     (1 / 24, 1 / 12, 1 / 6),
     (1 / 24, -1 / 12, 1 / 6),
     (0, 0, 1))
AT = ((1, 1, 1, 1, 1, 0),                           # output transform Aᵀ (4×6)
      (0, 1, -1, 2, -2, 0),
      (0, 1, 1, 4, 4, 0),
      (0, 1, -1, 8, -8, 1))


def filter_transform(w):
    """U (36, O, C) from w (O, C, 3, 3): U[6a + b, o, c] = (G w[o, c] Gᵀ)[a, b].

    Computed in float64 (G's sixths, twelfths and 24ths rounded once), then cast to w's dtype."""
    xp = B.get_array_module(w)
    O, C = w.shape[:2]
    g = xp.asarray(G, dtype=xp.float64)
    u = xp.matmul(xp.matmul(g, w.astype(xp.float64)), g.T)           # O, C, 6, 6
    return xp.ascontiguousarray(u.transpose(2, 3, 0, 1), dtype=w.dtype).reshape(36, O, C)


def _both_axes(m, d, out, half):
    """m d mᵀ for every tile: d (k, k, rest), m (j, k), into ``out`` (j, j, rest); ``half``
    (j, k, rest) a work array.

        half[a, q] = Σ_p m[a, p] d[p, q]       (one GEMM, m @ d as (k, k·rest))
        out[a, b]  = Σ_q m[b, q] half[a, q]    (a GEMM for each a)
    """
    xp = B.get_array_module(d)
    xp.matmul(m, d.reshape(m.shape[1], -1), out=half.reshape(m.shape[0], -1))
    return xp.matmul(m, half, out=out)


def input_transform(d, out, half):
    """V = Bᵀ d B for every tile: d (6, 6, C·T) the tiles' pixels, V (6, 6, C·T) into ``out``;
    ``half`` (6, 6, C·T) a work array."""
    return _both_axes(B.get_array_module(d).asarray(BT, dtype=d.dtype), d, out, half)


def output_transform(M, out, half):
    """Y = Aᵀ M A for every tile and output channel: M (6, 6, O·T), Y (4, 4, O·T) into ``out``;
    ``half`` (4, 6, O·T) a work array."""
    return _both_axes(B.get_array_module(M).asarray(AT, dtype=M.dtype), M, out, half)


def output_gradient_transform(dY, out, half):
    """dM = A dY Aᵀ for every tile and output channel: dY (4, 4, O·T) the gradient of Y, dM
    (6, 6, O·T) into ``out``, the gradient of M (``output_transform``'s input); ``half``
    (6, 4, O·T) a work array. A = (Aᵀ)ᵀ (6×4)."""
    return _both_axes(B.get_array_module(dY).asarray(AT, dtype=dY.dtype).T, dY, out, half)


def filter_gradient(dU):
    """dw (O, C, 3, 3) from dU (36, O, C), the gradient of ``filter_transform``'s U:
    dw[o, c] = Gᵀ dU[:, o, c] G (dU's 36 as 6 × 6), computed in float64, cast back."""
    xp = B.get_array_module(dU)
    O, C = dU.shape[1:]
    g = xp.asarray(G, dtype=xp.float64)
    du = dU.astype(xp.float64).reshape(6, 6, O, C).transpose(2, 3, 0, 1)    # O, C, 6, 6
    return xp.ascontiguousarray(xp.matmul(xp.matmul(g.T, du), g), dtype=dU.dtype)
