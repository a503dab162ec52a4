"""Exercise 4 — The linking condition: which sets of activations are linkages?

A set of activations g_1 … g_d applied to one z is a linkage when, for every z, at least one
member has a non-zero derivative g_i'(z): then the unit's weights always receive a gradient, and
the unit cannot die. A slope that vanishes, |g_i'(z)| ≤ tol, counts as zero: it passes as little
gradient. (1) Fill ``IS_LINKAGE`` with True or False for each candidate. (2) Write
``is_linkage(members, z)``: True when the condition holds at every point of the grid z, with each
g_i' taken by central differences of forward values, (g(z + ε) − g(z − ε)) / 2ε. The checker
uses ``lk.check_linkage``'s default grid, wide enough to reach the tails where a member flattens.

Shapes: members, a list of d functions, each float64 array → array of the same shape; z (n,) a
grid of points; is_linkage returns a bool.

Hints:
1. Two copies of one ReLU are flat at the same places: for z < 0 both slopes are 0.
2. A single member whose slope vanishes anywhere — ReLU for z < 0, tanh or SELU far out in a
   tail — is not a linkage; the mirror pair covers both tails. relu(z) and relu(z − 1) are flat
   together for z < 0.
3. Stack the slopes as an (n, d) array; the condition is (|slope| > tol).any(axis=1).all(),
   with tol = 1e-6 and ε = 1e-5.

Check: python exercises/check.py 4
Answer (read it after trying): site/annotated/linkage.html#check_linkage
"""
import numpy as np

CANDIDATES = {
    "relu(z), relu(-z)": [lambda z: np.maximum(z, 0), lambda z: np.maximum(-z, 0)],
    "relu(z), relu(z) (two copies)": [lambda z: np.maximum(z, 0), lambda z: np.maximum(z, 0)],
    "max(0, z), min(0, z)": [lambda z: np.maximum(z, 0), lambda z: np.minimum(z, 0)],
    "relu(z), relu(z - 1)": [lambda z: np.maximum(z, 0), lambda z: np.maximum(z - 1, 0)],
    "tanh(z) alone": [np.tanh],
    "relu(z) alone": [lambda z: np.maximum(z, 0)],
}

# Replace each None by True (a linkage) or False (not one).
IS_LINKAGE = {name: None for name in CANDIDATES}


def is_linkage(members, z, tol=1e-6, eps=1e-5):
    """True when, at every z in the grid, some member has |g_i'(z)| > tol."""
    raise NotImplementedError("Exercise 4: return True or False")
