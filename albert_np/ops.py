"""Every operation ALBERT is made of, each a forward function and its backward side by side.

A forward returns its output and a small tuple `cache` holding what the backward needs; the backward takes the
gradient of the loss with respect to the output and returns the gradients with respect to the inputs and weights.
Weights follow torch's layout (`Linear.weight` is [out, in]) so they are the checkpoint's arrays unchanged.
Activations are kept 2-D, [N, features] with N = batch * sequence, so every linear layer is one GEMM.
Only Array-API names of the namespace `xp` are used; `bk` is the Backend for the few extras (erf, scatter-add)
and for the work it shares among threads on NumPy (`bk.matmul`, `bk.rowwise`, `bk.batchwise`).
"""

from __future__ import annotations

import math

# ---- linear ----------------------------------------------------------------------------------------


def linear_forward(xp, bk, x, w, b):
    # [N, I] -> [N, O];  y = x W^T + b  (w: [O, I], b: [O])
    return bk.matmul(x, w.T, bias=b), (x, w)  # the bias is added block by block, right after each block's GEMM


def linear_backward(xp, bk, dy, cache):
    # dx = dy W;  dW = dy^T x;  db = sum_n dy
    x, w = cache
    dx = bk.matmul(dy, w)
    dw = bk.matmul(dy.T, x)
    db = xp.sum(dy, axis=0)
    return dx, dw, db


# ---- LayerNorm --------------------------------------------------------------------------------------
# Rows are independent, so the row math runs through `bk.rowwise` (cache-sized blocks, several threads on NumPy).


def layernorm_forward(xp, bk, x, w, b, eps, residual=None):
    # [N, D] -> [N, D];  y = (s - mean) / sqrt(var + eps) * w + b with s = x (+ residual), statistics over the
    # last axis. The residual sum is formed inside the same pass. The cache keeps the inputs and the two
    # per-row statistics; the backward rebuilds xhat = (s - mean) * rstd from them, one [N, D] array less in memory.
    def rows(x, *r):
        # y goes s - mean -> xhat -> y in place: every new block-sized array is an allocation, often fresh pages
        if r:
            y = x + r[0]
            mean = xp.mean(y, axis=-1, keepdims=True)
            y -= mean
        else:
            mean = xp.mean(x, axis=-1, keepdims=True)
            y = x - mean
        var = xp.mean(y * y, axis=-1, keepdims=True)
        rstd = 1.0 / xp.sqrt(var + eps)
        y *= rstd
        y *= w
        y += b
        return y, mean, rstd

    inputs = (x,) if residual is None else (x, residual)
    y, mean, rstd = bk.rowwise(rows, *inputs)
    return y, (inputs, mean, rstd, w)


def layernorm_backward(xp, bk, dy, cache):
    # dw = sum_n dy * xhat;  db = sum_n dy.  With g = dy * w, the input gradient has three terms because s
    # reaches xhat directly, through the mean, and through the variance:
    #   ds = rstd * (g - mean(g) - xhat * mean(g * xhat))
    # Returns (ds, dw, db); with a residual, ds is the gradient of both x and the residual.
    inputs, mean, rstd, w = cache

    def rows(dy, mean, rstd, x, *r):
        xhat = (x + r[0] if r else x) - mean
        xhat *= rstd
        g = dy * w
        ds = g - xp.mean(g, axis=-1, keepdims=True)
        ds -= xhat * xp.mean(g * xhat, axis=-1, keepdims=True)
        ds *= rstd
        return ds, dy * xhat

    ds, dy_xhat = bk.rowwise(rows, dy, mean, rstd, *inputs)
    return ds, xp.sum(dy_xhat, axis=0), xp.sum(dy, axis=0)


# ---- embeddings -------------------------------------------------------------------------------------


def embedding_forward(xp, ids, table):
    # ids [N] -> [N, E];  row lookup
    return xp.take(table, ids, axis=0), (ids, table.shape)


def embedding_backward(xp, bk, dy, cache, padding_idx=None):
    # dTable[v] = sum of dy over the positions whose id is v (a scatter-add; repeated ids accumulate).
    # Like torch's nn.Embedding(padding_idx=...), the padding row gets no gradient from the lookup.
    ids, shape = cache
    if padding_idx is not None:
        dy = xp.where((ids == padding_idx)[:, None], 0.0, dy)
    dtable = bk.zeros(shape, dy.dtype)
    return bk.index_add(dtable, ids, dy)


# ---- dropout ----------------------------------------------------------------------------------------


def dropout_mask(xp, bk, shape, dtype, p, training):
    # mask / (1 - p) with mask ~ Bernoulli(1 - p), or None when not training or p == 0 (dropout is the identity)
    if not training or not p:
        return None
    return xp.astype(bk.uniform(shape, dtype) >= p, dtype) / (1.0 - p)


def dropout_forward(xp, bk, x, p, training):
    # y = x * mask / (1 - p): each element kept with probability 1 - p and scaled so the expectation is x
    keep = dropout_mask(xp, bk, x.shape, x.dtype, p, training)
    return (x, None) if keep is None else (x * keep, keep)


def dropout_backward(xp, dy, keep):
    # the same mask, reused: dx = dy * mask / (1 - p)
    return dy if keep is None else dy * keep


# ---- activations ------------------------------------------------------------------------------------
# Each forward returns (y, cache); each backward returns dx = dy * f'(x). The cache is the input x (the output
# for tanh): what f'(x) needs is recomputed from it, which costs one pass in the backward and saves keeping a
# second [N, I] array per layer. Both directions run through `bk.rowwise` (elementwise, so rows are independent).
# A forward given out=x writes its output over its input, which saves allocating an [N, I] array when no backward
# follows (inference); its cache is then not valid for a backward.

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_FAST_GELU_C = 0.7978845608  # transformers' FastGELUActivation uses this rounded constant, so we do too


def _gelu_new_denominator(xp, x):
    # e = 1 + e^(-2t) = 1 / sigmoid(2t),  t = sqrt(2/pi) (x + 0.044715 x^3).
    # -2t is capped at 80 so e^(-2t) cannot overflow; there y = x / e is -0 either way.
    u = x * x
    u *= -2.0 * _SQRT_2_OVER_PI * 0.044715
    u -= 2.0 * _SQRT_2_OVER_PI
    u *= x                                   # u = -2t
    e = xp.exp(xp.minimum(u, 80.0))
    e += 1.0
    return e


def gelu_new_forward(xp, bk, x, out=None):
    # tanh GELU (ALBERT v2, GPT-2): y = 0.5 x (1 + tanh(t)).
    # Computed as y = x / (1 + e^(-2t)), the same number since 0.5 (1 + tanh t) = sigmoid(2t), in fewer passes
    # (exp is also cheaper than tanh).
    return bk.rowwise(lambda x: x / _gelu_new_denominator(xp, x), x, out=out), (x,)


def gelu_new_backward(xp, bk, dy, cache):
    # With th = tanh(t) = 2 sigmoid(2t) - 1:
    #   dy/dx = 0.5 (1 + th) + 0.5 x (1 - th^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2)
    def rows(dy, x):
        th = 2.0 / _gelu_new_denominator(xp, x) - 1.0
        inner = x * x
        inner *= 3 * 0.044715
        inner += 1.0
        inner *= _SQRT_2_OVER_PI
        d = 1.0 - th * th
        d *= x
        d *= inner
        d += th
        d += 1.0
        d *= 0.5
        return dy * d

    return bk.rowwise(rows, dy, cache[0])


def _gelu_fast_tanh(xp, x):
    # th = tanh(0.7978845608 x (1 + 0.044715 x^2))
    return xp.tanh(x * _FAST_GELU_C * (1.0 + 0.044715 * x * x))


def gelu_fast_forward(xp, bk, x, out=None):
    # y = 0.5 x (1 + th)
    return bk.rowwise(lambda x: 0.5 * x * (1.0 + _gelu_fast_tanh(xp, x)), x, out=out), (x,)


def gelu_fast_backward(xp, bk, dy, cache):
    # dy/dx = 0.5 (1 + th) + 0.5 x (1 - th^2) * 0.7978845608 (1 + 3 * 0.044715 x^2)
    def rows(dy, x):
        th = _gelu_fast_tanh(xp, x)
        return dy * (0.5 * (1.0 + th) + 0.5 * x * (1.0 - th * th) * _FAST_GELU_C * (1.0 + 3 * 0.044715 * x * x))

    return bk.rowwise(rows, dy, cache[0])


def gelu_forward(xp, bk, x, out=None):
    # exact GELU (ALBERT v1): y = x Phi(x) = 0.5 x (1 + erf(x / sqrt(2))).
    # Phi(x) is kept for the backward (erf costs dozens of passes, too many to recompute).
    def rows(x):
        cdf = 0.5 * (1.0 + bk.erf(x * (1.0 / math.sqrt(2.0))))
        return x * cdf, cdf

    y, cdf = bk.rowwise(rows, x, out=out)
    return y, (x, cdf)


def gelu_backward(xp, bk, dy, cache):
    # dy/dx = Phi(x) + x phi(x), phi the standard normal density
    def rows(dy, x, cdf):
        pdf = xp.exp(-0.5 * x * x) * (1.0 / math.sqrt(2.0 * math.pi))
        return dy * (cdf + x * pdf)

    return bk.rowwise(rows, dy, *cache)


def relu_forward(xp, bk, x, out=None):
    # y = max(x, 0)
    return bk.rowwise(lambda x: xp.maximum(x, 0.0), x, out=out), (x,)


def relu_backward(xp, bk, dy, cache):
    # dy/dx = 1 where x > 0, else 0 (torch's convention at 0)
    return bk.rowwise(lambda dy, x: xp.where(x > 0, dy, 0.0), dy, cache[0])


def sigmoid(xp, x):
    # 1 / (1 + e^-x), written so neither branch overflows
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def silu_forward(xp, bk, x, out=None):
    # SiLU / swish: y = x sigmoid(x)
    return bk.rowwise(lambda x: x * sigmoid(xp, x), x, out=out), (x,)


def silu_backward(xp, bk, dy, cache):
    # dy/dx = s + x s (1 - s),  s = sigmoid(x)
    def rows(dy, x):
        s = sigmoid(xp, x)
        return dy * (s * (1.0 + x * (1.0 - s)))

    return bk.rowwise(rows, dy, cache[0])


def tanh_forward(xp, bk, x, out=None):
    # y = tanh(x)
    y = bk.rowwise(xp.tanh, x, out=out)
    return y, (y,)


def tanh_backward(xp, bk, dy, cache):
    # dy/dx = 1 - y^2
    return bk.rowwise(lambda dy, y: dy * (1.0 - y * y), dy, cache[0])


ACTIVATIONS = {
    "gelu_new": (gelu_new_forward, gelu_new_backward),
    "gelu_pytorch_tanh": (gelu_new_forward, gelu_new_backward),  # the same tanh formula, fused in torch
    "gelu_fast": (gelu_fast_forward, gelu_fast_backward),
    "gelu": (gelu_forward, gelu_backward),
    "relu": (relu_forward, relu_backward),
    "silu": (silu_forward, silu_backward),
    "swish": (silu_forward, silu_backward),
    "tanh": (tanh_forward, tanh_backward),
}


def get_activation(name):
    """The (forward, backward) pair for a config's `hidden_act`, or a clear error naming the choices."""
    if name not in ACTIVATIONS:
        raise ValueError(
            f"hidden_act {name!r} is not supported by albert_np; use one of {sorted(ACTIVATIONS)} "
            "(every activation of a published ALBERT config is among them)"
        )
    return ACTIVATIONS[name]


# ---- softmax ----------------------------------------------------------------------------------------


def softmax(xp, x):
    # [..., K] -> [..., K];  exp(x - max) / sum exp(x - max), the max subtracted so exp cannot overflow
    e = xp.exp(x - xp.max(x, axis=-1, keepdims=True))
    e *= 1.0 / xp.sum(e, axis=-1, keepdims=True)
    return e


def softmax_grad(xp, dp, p):
    # dx = p * (dp - sum(dp * p)), the Jacobian diag(p) - p p^T applied to dp
    return p * (dp - xp.sum(dp * p, axis=-1, keepdims=True))


def softmax_forward(xp, bk, x):
    return bk.rowwise(lambda x: softmax(xp, x), x)


def softmax_backward(xp, bk, dp, p):
    return bk.rowwise(lambda dp, p: softmax_grad(xp, dp, p), dp, p)


# ---- self-attention ---------------------------------------------------------------------------------


def attention_forward(xp, bk, x, w_qkv, b_qkv, mask_add, batch, seq, heads, p_drop, training):
    """Multi-head scaled dot-product self-attention up to (not including) the output projection.

    x: [N, H] with N = batch * seq; w_qkv: [3H, H] (query, key, value weights stacked, so one GEMM makes all
    three, the query rows already multiplied by 1/sqrt(head_dim): see fuse_qkv); mask_add: [B, 1, 1, S], 0 where
    a key may be attended and the dtype's most negative number where it is padding, or None when nothing is
    padded. Returns the context [N, H], the attention probabilities [B, heads, S, S], and the cache.
    """
    hidden = x.shape[1]
    d = hidden // heads
    qkv, qkv_cache = linear_forward(xp, bk, x, w_qkv, b_qkv)                      # [N, 3H]
    qkv = xp.permute_dims(xp.reshape(qkv, (batch, seq, 3, heads, d)), (2, 0, 3, 1, 4))  # [3, B, h, S, d]
    q, k, v = qkv[0, ...], qkv[1, ...], qkv[2, ...]
    # The dropout mask is drawn whole, before the sequences are shared among threads, so that it does not
    # depend on which thread draws first.
    keep = dropout_mask(xp, bk, (batch, heads, seq, seq), x.dtype, p_drop, training)

    def attend(q, k, v, mask_add, keep):
        # one block of sequences, [b, h, S, d] each: everything from the scores to the context stays in cache
        scores = xp.matmul(q, xp.permute_dims(k, (0, 1, 3, 2)))                   # [b, h, S, S], q k^T / sqrt(d)
        # Adding a huge negative number before the softmax gives padding keys a weight of exactly 0 while
        # keeping every row finite (a fully padded row becomes uniform, as in transformers, instead of NaN).
        # A batch without padding has no mask (None), as in transformers, and skips the pass.
        if mask_add is not None:
            scores += mask_add
        probs = softmax(xp, scores)
        probs_dropped = probs if keep is None else probs * keep
        ctx = xp.permute_dims(xp.matmul(probs_dropped, v), (0, 2, 1, 3))         # [b, S, h, d]
        return (ctx, probs) if keep is None else (ctx, probs, probs_dropped)

    ctx, probs, *dropped = bk.batchwise(attend, q, k, v, mask_add, keep)
    probs_dropped = dropped[0] if dropped else probs
    ctx = xp.reshape(ctx, (batch * seq, hidden))                                  # [N, H]
    return ctx, probs, (qkv_cache, q, k, v, probs, probs_dropped, keep, batch, seq, heads)


def attention_backward(xp, bk, dctx, cache):
    # Backward of ctx = dropout(softmax(q k^T + mask)) v, then of the fused q/k/v projection (q pre-scaled).
    # Like the forward, one block of sequences at a time.
    qkv_cache, q, k, v, probs, probs_dropped, keep, batch, seq, heads = cache
    hidden = dctx.shape[1]
    d = hidden // heads
    dctx = xp.permute_dims(xp.reshape(dctx, (batch, seq, heads, d)), (0, 2, 1, 3))  # [B, h, S, d]

    def attend_backward(dctx, q, k, v, probs, probs_dropped, keep):
        dprobs = xp.matmul(dctx, xp.permute_dims(v, (0, 1, 3, 2)))                  # d(probs_dropped)
        dv = xp.matmul(xp.permute_dims(probs_dropped, (0, 1, 3, 2)), dctx)
        dprobs = dropout_backward(xp, dprobs, keep)
        dscores = softmax_grad(xp, dprobs, probs)                                   # the mask is a constant
        dq = xp.matmul(dscores, k)
        dk = xp.matmul(xp.permute_dims(dscores, (0, 1, 3, 2)), q)
        return xp.permute_dims(xp.stack((dq, dk, dv), axis=0), (1, 3, 0, 2, 4))    # [b, S, 3, h, d]

    dqkv = bk.batchwise(attend_backward, dctx, q, k, v, probs, probs_dropped, keep)
    dqkv = xp.reshape(dqkv, (batch * seq, 3 * hidden))
    return linear_backward(xp, bk, dqkv, qkv_cache)                                 # dx, dW_qkv, db_qkv
