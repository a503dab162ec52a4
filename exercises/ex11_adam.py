"""Exercise 11 — Adam's update, in Keras 2's form (the paper's optimizer).

At step t = 1, 2, ... with gradient g:  m ← β1·m + (1 − β1)·g,  v ← β2·v + (1 − β2)·g², and
p ← p − lr_t·m / (√v + ε), where lr_t = lr·√(1 − β2^t) / (1 − β1^t) folds the bias correction into
the step size. Write ``adam_update``: return the new p, m and v (new arrays; leave the inputs
unchanged).

Shapes: p, g, m, v all of one shape; t an int ≥ 1; the rest floats.

Hints:
1. m and v start at 0 and are updated before p is: the first step already uses m = (1 − β1)·g.
2. t counts from 1 at the first step, so 1 − β1^t is never 0.
3. ε is added to √v, not to √v̂ = √(v / (1 − β2^t)) as in PyTorch's form; the two differ
   while v is small.

Check: python exercises/check.py 11
Answer (read it after trying): site/annotated/optim.html#Adam
"""


def adam_update(p, g, m, v, t, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8):
    """One Adam step; returns (p, m, v)."""
    raise NotImplementedError("Exercise 11: return the new (p, m, v)")
