"""Helpers shared by the activation tests: inputs off every kink, and a reference sigmoid."""
import numpy as np

from linkedref.gradcheck import away_from_kinks


def steered_inputs(shape, rng):
    """Off the kinks at 0 and off |z| ≈ 1.2785, where Swish's slope is 0 (its curvature there
    looks like a kink to the checker, and a 1-element input would have nothing left to check)."""
    x = away_from_kinks(shape, rng)
    near = np.abs(np.abs(x) - 1.2785) < 0.05
    x[near] = np.sign(x[near]) * 1.4
    return x


def sigmoid(z):
    """Float64 reference sigmoid, independent of the library's formula."""
    return np.exp(-np.logaddexp(0.0, -z))
