"""Winograd F(2×2, 3×3): a stride-1 3×3 correlation from 16 products per 2×2 outputs, not 36.

Lavin & Gray (2016), "Fast Algorithms for Convolutional Neural Networks". For one channel, a
4×4 tile d of the input and a 3×3 filter g give the tile's 2×2 valid correlation as

    Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A                  (⊙: elementwise, 16 products)

with the constant matrices below. Over channels the sum moves inside: for each of the 16 tile
positions ξ, M[ξ] = V[ξ] @ U[ξ], V[ξ] (tiles, C) the transformed inputs, U[ξ] (C, O) the
transformed filters, so the work is 16 GEMMs of (tiles × C) @ (C × O) instead of im2col's one of
(positions × 9C) @ (9C × O): 16/4 = 4 products per output and channel pair instead of 9.

Layout: the kernels hold a chunk of the batch as (H, W, n, C), samples and channels innermost,
so every step of the transforms is one elementwise operation on long contiguous runs (NumPy's
speed), and each of the 16 GEMMs reads its V[ξ] as one (tiles·n, C) matrix. Entering and leaving
that layout costs one transposing copy each way (``conv._winograd`` does both).

Rounding: the transforms add and subtract inputs (Bᵀ, Aᵀ) and halve filter sums (G) before the
products, so float32 results differ from im2col's by more than the last bit; the bound measured
on the tutorial nets' weight scales is in ``conv._winograd``'s docstring and in the tests.
"""
from __future__ import annotations

from .. import backend as B

BT = ((1, 0, -1, 0), (0, 1, 1, 0), (0, -1, 1, 0), (0, 1, 0, -1))     # input transform Bᵀ (4×4)
G = ((1, 0, 0), (0.5, 0.5, 0.5), (0.5, -0.5, 0.5), (0, 0, 1))       # filter transform G (4×3)
AT = ((1, 1, 1, 0), (0, 1, -1, -1))                                  # output transform Aᵀ (2×4)


def filter_transform(w):
    """U (16, C, O) from w (O, C, 3, 3): U[4a + b, c, o] = (G w[o, c] Gᵀ)[a, b]."""
    xp = B.get_array_module(w)
    g = xp.asarray(G, dtype=w.dtype)
    u = xp.matmul(xp.matmul(g, w), g.T)                              # O, C, 4, 4
    return xp.ascontiguousarray(u.transpose(2, 3, 1, 0)).reshape(16, w.shape[1], w.shape[0])


def input_transform(X, tiles, out, rows):
    """V = Bᵀ d B for every 4×4 tile d of X (Hp, Wp, n, C), the tiles 2 apart: tile (i, j) is
    X[2i:2i+4, 2j:2j+4]. ``tiles`` = (tH, tW); ``out``: an array (4, 4, tH, tW, n, C) to fill
    (V, returned). Bᵀ's rows each add or subtract two inputs, first along the rows into ``rows``
    (an array like ``out``), then along the columns."""
    tH, tW = tiles

    def d(a, b):                              # the (a, b) pixel of every tile: (tH, tW, n, C)
        return X[a:a + 2 * tH:2, b:b + 2 * tW:2]

    for b in range(4):                        # rows[a', b] = Σ_a Bᵀ[a', a] d(a, b)
        _apply_bt([d(a, b) for a in range(4)], [rows[k, b] for k in range(4)])
    for a in range(4):                        # out[a, b'] = Σ_b rows[a, b] Bᵀ[b', b]
        _apply_bt([rows[a, b] for b in range(4)], [out[a, k] for k in range(4)])
    return out


def _apply_bt(d, out):
    """out[k] = Σ_i Bᵀ[k, i] d[i] for the four arrays d (Bᵀ's nonzeros are ±1, two per row)."""
    xp = B.get_array_module(out[0])
    xp.subtract(d[0], d[2], out=out[0])
    xp.add(d[1], d[2], out=out[1])
    xp.subtract(d[2], d[1], out=out[2])
    xp.subtract(d[1], d[3], out=out[3])


def output_transform(M, out, half):
    """Y = Aᵀ M A for every tile: M (4, 4, tH, tW, n, O) the 16 products' sums, out (tH, 2,
    tW, 2, n, O) to fill: out[i, r, j, s] is output pixel (2i + r, 2j + s). ``half``: an array
    (2, 4, tH, tW, n, O) for Aᵀ M. Returns out."""
    xp = B.get_array_module(M)
    xp.add(M[0], M[1], out=half[0])
    half[0] += M[2]                                                    # row 0 of Aᵀ: 1 1 1 0
    xp.subtract(M[1], M[2], out=half[1])
    half[1] -= M[3]                                                    # row 1 of Aᵀ: 0 1 −1 −1
    for r in range(2):                                                 # (Aᵀ M) A, per column
        h = half[r]
        xp.add(h[0], h[1], out=out[:, r, :, 0])
        out[:, r, :, 0] += h[2]
        xp.subtract(h[1], h[2], out=out[:, r, :, 1])
        out[:, r, :, 1] -= h[3]
    return out
