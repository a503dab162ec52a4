"""Exercise 10 — Softmax cross-entropy.

L = mean_n [ log Σ_k exp(z[n, k]) − z[n, y_n] ] for logits z and integer labels y. Write
``backward``: return dL/dz.

Shapes: logits z (N, K), labels (N,) → L, a scalar; backward() → dz (N, K).

Hints:
1. d/dz_k log Σ_j exp(z_j) = exp(z_k) / Σ_j exp(z_j) = p_k, the softmax that forward saves.
2. −z[n, y_n] contributes −1 at k = y_n only, in each row.
3. L is a mean over the N samples: dz = (p − onehot(y)) / N.

Check: python exercises/check.py 10
Answer (read it after trying): site/annotated/losses.html#SoftmaxCrossEntropy.backward
"""
import linkedref as lk
import linkedref.backend as B


class SoftmaxCrossEntropy(lk.SoftmaxCrossEntropy):
    def forward(self, logits, labels):
        xp = B.get_array_module(logits)
        labels = xp.asarray(labels)                                  # N
        shifted = logits - logits.max(axis=1, keepdims=True)        # N, K: no overflow in exp
        lse = xp.log(xp.exp(shifted).sum(axis=1))                   # N
        p = xp.exp(shifted - lse[:, None])                          # N, K: softmax
        self.cache = (p, labels)
        picked = shifted[xp.arange(logits.shape[0]), labels]         # N: z[n, y_n] − max
        return (lse - picked).mean()

    def backward(self):
        p, labels = self.cache                                       # N, K and N
        raise NotImplementedError("Exercise 10: return dz = dL/dlogits, of shape p.shape")
