"""Host-side preprocessing: standardize, shift_scale, random_flip_shift, upsample2x."""
import numpy as np
import pytest

from linkedref.data import (
    fit_channel_stats,
    random_flip_shift,
    shift_scale,
    standardize,
    upsample2x,
)


def test_standardize_uses_training_statistics_only(rng):
    scales = np.array([2.0, 5.0, 0.5])[None, :, None, None]                  # 1, 3, 1, 1
    x_train = (rng.standard_normal((50, 3, 4, 4)) * scales + 7).astype(np.float32)
    x_test = (rng.standard_normal((20, 3, 4, 4)) * 9 - 30).astype(np.float32)     # other stats
    a, b, stats = standardize(x_train, x_test)
    assert a.dtype == b.dtype == np.float32 and a.shape == x_train.shape
    assert stats.mean.shape == stats.std.shape == (1, 3, 1, 1)
    np.testing.assert_allclose(a.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(a.std(axis=(0, 2, 3)), 1, atol=1e-4)
    mean = x_train.mean(axis=(0, 2, 3), dtype=np.float64)[None, :, None, None]
    std = x_train.std(axis=(0, 2, 3), dtype=np.float64)[None, :, None, None]
    np.testing.assert_allclose(b, (x_test - mean) / std, rtol=1e-5)
    assert abs(b.mean()) > 1                       # the test set was not standardised by itself
    np.testing.assert_array_equal(stats.apply(x_test), b)


def test_standardize_vectors_and_constant_features(rng):
    x = rng.standard_normal((30, 4))
    x[:, 2] = 3.0                                  # a constant feature maps to 0, not to inf
    a, none, stats = standardize(x)
    assert none is None and stats.mean.shape == (1, 4) and a.dtype == np.float64
    assert np.all(np.isfinite(a)) and np.all(a[:, 2] == 0)


def test_standardize_rejects_bad_input(rng):
    with pytest.raises(TypeError, match="fit_channel_stats.*floating"):
        standardize(np.zeros((3, 2), np.uint8))
    _, _, stats = standardize(rng.random((5, 3, 2, 2)))
    with pytest.raises(ValueError, match="ChannelStats.apply.*fitted on shape \\(N, 3"):
        stats.apply(rng.random((5, 2, 2, 2)))
    assert fit_channel_stats(rng.random((5, 3))).std.shape == (1, 3)


def test_shift_scale(rng):
    x = rng.random((4, 1, 3, 3)).astype(np.float32)
    y = shift_scale(x, shift=-100.0, scale=255.0)
    assert y.dtype == np.float32 and y.shape == x.shape
    np.testing.assert_allclose(y, x * 255 - 100, rtol=1e-6)
    shifts = np.array([1.0, 2.0])[None, :, None, None]                       # 1, 2, 1, 1
    per_channel = shift_scale(rng.random((2, 2, 1, 1)), shifts, 0.0)
    assert per_channel[:, :, 0, 0].tolist() == [[1.0, 2.0], [1.0, 2.0]]


def shifted(img, dy, dx):
    """Reference: shift one (C, H, W) image by (dy, dx) with zero fill, one pixel at a time."""
    out = np.zeros_like(img)
    C, H, W = img.shape
    for i in range(H):
        for j in range(W):
            if 0 <= i - dy < H and 0 <= j - dx < W:
                out[:, i, j] = img[:, i - dy, j - dx]
    return out


def test_random_flip_shift_against_a_loop_reference(rng):
    x = rng.random((40, 2, 10, 7)).astype(np.float32)   # H != W catches swapped axes
    out = random_flip_shift(x, np.random.default_rng(5), max_shift=0.2)
    assert out.shape == x.shape and out.dtype == x.dtype
    seen_flip = seen_shift = False
    for n in range(len(x)):                               # every output is one of the candidates
        matches = [(f, dy, dx) for f in (False, True) for dy in range(-2, 3) for dx in range(-1, 2)
                   if np.array_equal(out[n], shifted(x[n, :, :, ::-1] if f else x[n], dy, dx))]
        assert len(matches) == 1, n
        seen_flip |= matches[0][0]
        seen_shift |= matches[0][1:] != (0, 0)
    assert seen_flip and seen_shift


def test_random_flip_shift_is_seeded_and_leaves_input_alone(rng):
    x = rng.random((8, 3, 6, 6))
    before = x.copy()
    a = random_flip_shift(x, np.random.default_rng(1))
    np.testing.assert_array_equal(a, random_flip_shift(x, 1))          # int seed == Generator
    assert not np.array_equal(a, random_flip_shift(x, 2))
    np.testing.assert_array_equal(x, before)


def test_random_flip_shift_options(rng):
    x = rng.random((16, 1, 5, 5))
    np.testing.assert_array_equal(random_flip_shift(x, 0, flip=False, max_shift=0), x)
    flipped = random_flip_shift(x, 0, flip=True, max_shift=0)
    for n in range(len(x)):
        assert np.array_equal(flipped[n], x[n]) or np.array_equal(flipped[n], x[n, :, :, ::-1])
    with pytest.raises(ValueError, match="random_flip_shift: expected 4D"):
        random_flip_shift(x[:, 0], 0)
    with pytest.raises(ValueError, match="max_shift"):
        random_flip_shift(x, 0, max_shift=1.5)


def test_upsample2x():
    x = np.arange(12, dtype=np.float32).reshape(1, 3, 2, 2)
    y = upsample2x(x)
    assert y.shape == (1, 3, 4, 4) and y.dtype == np.float32
    np.testing.assert_array_equal(y[0, 1], [[4, 4, 5, 5], [4, 4, 5, 5], [6, 6, 7, 7], [6, 6, 7, 7]])
    np.testing.assert_array_equal(y[:, :, ::2, ::2], x)
    with pytest.raises(ValueError, match="upsample2x"):
        upsample2x(x[0])
