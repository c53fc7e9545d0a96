"""Every operation ALBERT is made of, each a forward function and its backward side by side.

One convention for every pair:

    y, cache = op_forward(bk, x, ...)        # cache: a small named record of what the backward needs
    dx, ... = op_backward(bk, dy, cache)     # gradients with respect to the inputs (and weights)

`bk` is the Backend: `bk.xp` is the array namespace (only Array-API names are used), and `bk` has the few extras
the standard lacks (erf, scatter-add) and shares work among threads on NumPy: `bk.matmul` for products,
`bk.rowwise(f, ...)` for a row function `f` (the math, written once below as a plain top-level function),
`bk.batchwise` for attention. Weights follow torch's layout (`Linear.weight` is [out, in]) so they are the
checkpoint's arrays unchanged. Activations are kept 2-D, [N, features] with N = batch * sequence, so every
linear layer is one GEMM.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from typing import Callable, NamedTuple

SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
GELU_TANH_COEF = 0.044715        # the cubic term of the tanh GELU approximation: t = sqrt(2/pi) (x + 0.044715 x^3)
FAST_GELU_SQRT_2_OVER_PI = 0.7978845608  # transformers' FastGELUActivation uses this rounded sqrt(2/pi), so we do too

# ---- linear ----------------------------------------------------------------------------------------


@dataclass
class RowGradient:
    """A gradient that is zero outside some rows: the cross-entropy's, on an MLM's ~15% of positions with a label.

    A backward that can use it (`linear_backward_rows`, the MLM decoder's) works on these rows only; `dense`
    gives the whole [N, C] array.
    """
    rows: object     # [n] distinct ints: where the nonzero rows are among the N
    values: object   # [n, C] the gradient on those rows
    shape: tuple     # (N, C) the whole gradient's shape

    def dense(self, bk):
        return bk.set_rows(bk.zeros(self.shape, self.values.dtype), self.rows, self.values)


@dataclass
class LinearCache:
    x: object        # [N, I] the input
    w: object        # [O, I] the weight


def linear_forward(bk, x, w, b):
    # [N, I] -> [N, O];  y = x W^T + b  (w: [O, I], b: [O])
    return bk.matmul(x, w.T, bias=b), LinearCache(x, w)  # the bias is added block by block, after each block's GEMM


def linear_backward(bk, dy, cache):
    # dx = dy W;  dW = dy^T x;  db = sum_n dy
    dx = bk.matmul(dy, cache.w)
    return (dx,) + linear_backward_weights(bk, dy, cache.x)


def linear_backward_rows(bk, dy, cache):
    # dy: a RowGradient, d loss / d y [N, O] that is zero outside dy.rows (an MLM's decoder, 15% of N):
    # dx = dy W on those rows, 0 elsewhere;  dW = dy^T x[rows];  db = sum_n dy.  The zero rows add nothing, so
    # the products skip them
    dx = RowGradient(dy.rows, bk.matmul(dy.values, cache.w), (cache.x.shape[0], cache.w.shape[1])).dense(bk)
    return (dx,) + linear_backward_weights(bk, dy.values, bk.xp.take(cache.x, dy.rows, axis=0))


def linear_backward_weights(bk, dy, x):
    # (dW, db) = (dy^T x, sum_n dy): for a layer whose input the cache does not keep, rebuilt by the caller
    return bk.matmul(dy.T, x), bk.xp.sum(dy, axis=0)


# ---- LayerNorm --------------------------------------------------------------------------------------


@dataclass
class LayerNormCache:
    inputs: tuple    # (x,) or (x, residual), each [N, D]: the normalised sum s is rebuilt from them
    mean: object     # [N, 1]
    rstd: object     # [N, 1] 1 / sqrt(var + eps)
    w: object        # [D]


def mean_of_product(xp, a, b):
    # [..., D], [..., D] -> [..., 1];  mean(a * b, axis=-1) as a stack of [1, D] x [D, 1] products: one pass,
    # without the [..., D] product in memory
    return xp.matmul(a[..., None, :], b[..., :, None])[..., 0] / a.shape[-1]


def layernorm_rows(xp, w, b, eps, x, *residual):
    # y = (s - mean) / sqrt(var + eps) * w + b, s = x (+ residual); y is built in place, s - mean -> xhat -> y
    if residual:
        y = x + residual[0]
        mean = xp.mean(y, axis=-1, keepdims=True)
        y -= mean
    else:
        mean = xp.mean(x, axis=-1, keepdims=True)
        y = x - mean
    var = mean_of_product(xp, y, y)
    rstd = 1.0 / xp.sqrt(var + eps)
    y *= rstd
    y *= w
    y += b
    return y, mean, rstd


def layernorm_backward_rows(xp, w, dy, mean, rstd, x, *residual):
    # with xhat = (s - mean) rstd and g = dy w:  ds = rstd (g - mean(g) - xhat mean(g xhat));  also dy * xhat for dw
    xhat = (x + residual[0] if residual else x) - mean
    xhat *= rstd
    g = dy * w
    ds = g - xp.mean(g, axis=-1, keepdims=True)
    ds -= xhat * mean_of_product(xp, g, xhat)
    ds *= rstd
    return ds, dy * xhat


def layernorm_forward(bk, x, w, b, eps, residual=None):
    # [N, D] -> [N, D], statistics over the last axis; a residual is summed in the same pass. The cache keeps the
    # inputs and the two per-row statistics; the backward rebuilds xhat from them, one [N, D] array less in memory.
    inputs = (x,) if residual is None else (x, residual)
    y, mean, rstd = bk.rowwise(partial(layernorm_rows, bk.xp, w, b, eps), *inputs)
    return y, LayerNormCache(inputs, mean, rstd, w)


def layernorm_backward(bk, dy, cache):
    # dw = sum_n dy * xhat;  db = sum_n dy;  ds has three terms (s reaches xhat directly, via the mean and the
    # variance). Returns (ds, dw, db); with a residual, ds is the gradient of both x and the residual.
    c = cache
    ds, dy_xhat = bk.rowwise(partial(layernorm_backward_rows, bk.xp, c.w), dy, c.mean, c.rstd, *c.inputs)
    return ds, bk.xp.sum(dy_xhat, axis=0), bk.xp.sum(dy, axis=0)


# ---- embeddings -------------------------------------------------------------------------------------


@dataclass
class EmbeddingCache:
    ids: object              # [N] ints
    table_shape: tuple       # (V, E)
    padding_idx: int | None  # the row that gets no gradient (nn.Embedding(padding_idx=...)), or None


def embedding_forward(bk, ids, table, padding_idx=None):
    # ids [N] -> [N, E];  row lookup
    return bk.xp.take(table, ids, axis=0), EmbeddingCache(ids, tuple(table.shape), padding_idx)


def embedding_backward(bk, dy, cache):
    # dTable[v] = sum of dy over the positions whose id is v (a scatter-add; repeated ids accumulate).
    # Like torch's nn.Embedding(padding_idx=...), the padding row gets no gradient from the lookup.
    if cache.padding_idx is not None:
        dy = bk.xp.where((cache.ids == cache.padding_idx)[:, None], 0.0, dy)
    dtable = bk.zeros(cache.table_shape, dy.dtype)
    return bk.index_add(dtable, cache.ids, dy)


# ---- dropout ----------------------------------------------------------------------------------------


@dataclass
class DropoutCache:
    keep: object     # bool like x: True where the element is kept, ~ Bernoulli(1 - p); None when dropout is the
                     # identity (eval, p = 0). Kept as bool, a quarter of a float32 mask; the factors are rebuilt
    p: float = 0.0


def dropout_keep(bk, shape, dtype, p, training):
    # keep ~ Bernoulli(1 - p) as bool, or None when not training or p == 0 (dropout is the identity)
    if not training or not p:
        return None
    return bk.uniform(shape, dtype) >= p


def dropout_scale(xp, keep, dtype, p):
    # the factor of each element: keep / (1 - p), 0 or 1 / (1 - p), the same bits in the forward and the backward
    return xp.astype(keep, dtype) / (1.0 - p)


def dropout_forward(bk, x, p, training):
    # y = x * keep / (1 - p): each element kept with probability 1 - p and scaled so the expectation is x
    keep = dropout_keep(bk, x.shape, x.dtype, p, training)
    return (x if keep is None else x * dropout_scale(bk.xp, keep, x.dtype, p)), DropoutCache(keep, p)


def dropout_backward(bk, dy, cache):
    # the same mask, reused: dx = dy * keep / (1 - p)
    return dy if cache.keep is None else dy * dropout_scale(bk.xp, cache.keep, dy.dtype, cache.p)


# ---- activations ------------------------------------------------------------------------------------
# Each backward returns dx = dy * f'(x). The cache is the input x (the output for tanh): what f'(x) needs is
# recomputed from it, which costs one pass in the backward and saves keeping a second [N, I] array per layer.
# `backward_with_output` also returns the forward's output y, rebuilt bit for bit from the cache in the same
# pass (for the gelus and silu from the very terms f'(x) needs), so the FFN need not keep y for its next
# layer's weight gradient either: one [N, I] array less per layer in a training step.
# A forward given out=x writes its output over its input, which saves allocating an [N, I] array when no backward
# follows (inference); its cache is then not valid for a backward.


@dataclass
class ActivationCache:
    x: object = None     # [N, I] the input (every activation but tanh)
    y: object = None     # [N, I] the output (tanh only: its derivative is 1 - y^2)
    cdf: object = None   # [N, I] Phi(x) (exact gelu only: erf is too dear to recompute)


def gelu_new_denominator(xp, x):
    # e = 1 + e^(-2t) = 1 / sigmoid(2t),  t = sqrt(2/pi) (x + GELU_TANH_COEF x^3).
    # -2t is capped at 80 so e^(-2t) cannot overflow; there y = x / e is -0 either way.
    u = x * x
    u *= -2.0 * SQRT_2_OVER_PI * GELU_TANH_COEF
    u -= 2.0 * SQRT_2_OVER_PI
    u *= x                                   # u = -2 sqrt(2/pi) (x + c x^3) = -2t
    e = xp.exp(xp.minimum(u, 80.0))
    e += 1.0
    return e


def gelu_new_rows(xp, x):
    # tanh GELU (ALBERT v2, GPT-2): y = 0.5 x (1 + tanh(t)) = x sigmoid(2t) = x / (1 + e^(-2t)), fewer passes
    # (and on the AMD Zen 3 NumPy's float32 exp runs twice as fast as its tanh)
    return x / gelu_new_denominator(xp, x)


def gelu_new_backward_rows(xp, dy, x):
    d = gelu_new_derivative(x, gelu_new_denominator(xp, x))
    d *= dy
    return d


def gelu_new_backward_output_rows(xp, dy, x):
    # (dx, y): the backward and the forward's output x / e from one e
    e = gelu_new_denominator(xp, x)
    d = gelu_new_derivative(x, e)
    d *= dy
    return d, x / e


def gelu_new_derivative(x, e):
    # With e = gelu_new_denominator(x) and th = tanh(t) = 2 sigmoid(2t) - 1 = 2 / e - 1:
    #   dy/dx = 0.5 (1 + th) + 0.5 x (1 - th^2) sqrt(2/pi) (1 + 3 c x^2),  c = GELU_TANH_COEF
    # built in place below, one factor at a time: three [rows, I] arrays are made (th, inner, d).
    th = 2.0 / e
    th -= 1.0
    inner = x * x
    inner *= 3 * GELU_TANH_COEF
    inner += 1.0
    inner *= SQRT_2_OVER_PI                  # inner = sqrt(2/pi) (1 + 3 c x^2) = dt/dx
    d = th * th
    d *= -1.0
    d += 1.0                                 # 1 - th^2
    d *= x
    d *= inner
    d += th
    d += 1.0
    d *= 0.5                                 # d = 0.5 (1 + th + x (1 - th^2) dt/dx)
    return d


def gelu_fast_tanh(xp, x):
    # th = tanh(0.7978845608 x (1 + 0.044715 x^2))
    return xp.tanh(x * FAST_GELU_SQRT_2_OVER_PI * (1.0 + GELU_TANH_COEF * x * x))


def gelu_fast_rows(xp, x):
    # y = 0.5 x (1 + th)
    return 0.5 * x * (1.0 + gelu_fast_tanh(xp, x))


def gelu_fast_backward_rows(xp, dy, x):
    return gelu_fast_backward_output_rows(xp, dy, x)[0]


def gelu_fast_backward_output_rows(xp, dy, x):
    # dy/dx = 0.5 (1 + th) + 0.5 x (1 - th^2) * 0.7978845608 (1 + 3 * 0.044715 x^2);  also y = 0.5 x (1 + th)
    th = gelu_fast_tanh(xp, x)
    dt = FAST_GELU_SQRT_2_OVER_PI * (1.0 + 3 * GELU_TANH_COEF * x * x)
    return dy * (0.5 * (1.0 + th) + 0.5 * x * (1.0 - th * th) * dt), 0.5 * x * (1.0 + th)


def gelu_rows(bk, x):
    # exact GELU (ALBERT v1): y = x Phi(x), Phi(x) = 0.5 (1 + erf(x / sqrt(2))); Phi is returned for the backward
    cdf = 0.5 * (1.0 + bk.erf(x * (1.0 / math.sqrt(2.0))))
    return x * cdf, cdf


def gelu_backward_rows(xp, dy, x, cdf):
    # dy/dx = Phi(x) + x phi(x), phi the standard normal density
    pdf = xp.exp(-0.5 * x * x) * (1.0 / math.sqrt(2.0 * math.pi))
    return dy * (cdf + x * pdf)


def relu_rows(xp, x):
    return xp.maximum(x, 0.0)


def relu_backward_rows(xp, dy, x):
    # dy/dx = 1 where x > 0, else 0 (torch's convention at 0)
    return xp.where(x > 0, dy, 0.0)


def sigmoid(xp, x):
    # 1 / (1 + e^-x), written so neither branch overflows
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def silu_rows(xp, x):
    # SiLU / swish: y = x sigmoid(x)
    return x * sigmoid(xp, x)


def silu_backward_rows(xp, dy, x):
    return silu_backward_output_rows(xp, dy, x)[0]


def silu_backward_output_rows(xp, dy, x):
    # dy/dx = s + x s (1 - s),  s = sigmoid(x);  also y = x s
    s = sigmoid(xp, x)
    return dy * (s * (1.0 + x * (1.0 - s))), x * s


def tanh_backward_rows(xp, dy, y):
    # dy/dx = 1 - y^2
    return dy * (1.0 - y * y)


def gelu_new_forward(bk, x, out=None):
    return bk.rowwise(partial(gelu_new_rows, bk.xp), x, out=out), ActivationCache(x=x)


def gelu_new_backward(bk, dy, cache):
    return bk.rowwise(partial(gelu_new_backward_rows, bk.xp), dy, cache.x)


def gelu_new_backward_output(bk, dy, cache):
    return bk.rowwise(partial(gelu_new_backward_output_rows, bk.xp), dy, cache.x)


def gelu_fast_forward(bk, x, out=None):
    return bk.rowwise(partial(gelu_fast_rows, bk.xp), x, out=out), ActivationCache(x=x)


def gelu_fast_backward(bk, dy, cache):
    return bk.rowwise(partial(gelu_fast_backward_rows, bk.xp), dy, cache.x)


def gelu_fast_backward_output(bk, dy, cache):
    return bk.rowwise(partial(gelu_fast_backward_output_rows, bk.xp), dy, cache.x)


def gelu_forward(bk, x, out=None):
    y, cdf = bk.rowwise(partial(gelu_rows, bk), x, out=out)
    return y, ActivationCache(x=x, cdf=cdf)


def gelu_backward(bk, dy, cache):
    return bk.rowwise(partial(gelu_backward_rows, bk.xp), dy, cache.x, cache.cdf)


def gelu_backward_output(bk, dy, cache):
    return gelu_backward(bk, dy, cache), cache.x * cache.cdf                  # y = x Phi(x), as gelu_rows


def relu_forward(bk, x, out=None):
    return bk.rowwise(partial(relu_rows, bk.xp), x, out=out), ActivationCache(x=x)


def relu_backward(bk, dy, cache):
    return bk.rowwise(partial(relu_backward_rows, bk.xp), dy, cache.x)


def relu_backward_output(bk, dy, cache):
    return relu_backward(bk, dy, cache), bk.rowwise(partial(relu_rows, bk.xp), cache.x)


def silu_forward(bk, x, out=None):
    return bk.rowwise(partial(silu_rows, bk.xp), x, out=out), ActivationCache(x=x)


def silu_backward(bk, dy, cache):
    return bk.rowwise(partial(silu_backward_rows, bk.xp), dy, cache.x)


def silu_backward_output(bk, dy, cache):
    return bk.rowwise(partial(silu_backward_output_rows, bk.xp), dy, cache.x)


def tanh_forward(bk, x, out=None):
    y = bk.rowwise(bk.xp.tanh, x, out=out)
    return y, ActivationCache(y=y)


def tanh_backward(bk, dy, cache):
    return bk.rowwise(partial(tanh_backward_rows, bk.xp), dy, cache.y)


def tanh_backward_output(bk, dy, cache):
    return tanh_backward(bk, dy, cache), cache.y                               # tanh keeps its output anyway


class Activation(NamedTuple):
    forward: Callable               # (bk, x, out=None) -> (y, ActivationCache)
    backward: Callable              # (bk, dy, ActivationCache) -> dx
    backward_with_output: Callable  # (bk, dy, ActivationCache) -> (dx, y), y bit for bit the forward's output


ACTIVATIONS = {
    "gelu_new": Activation(gelu_new_forward, gelu_new_backward, gelu_new_backward_output),
    # the same tanh formula, fused in torch
    "gelu_pytorch_tanh": Activation(gelu_new_forward, gelu_new_backward, gelu_new_backward_output),
    "gelu_fast": Activation(gelu_fast_forward, gelu_fast_backward, gelu_fast_backward_output),
    "gelu": Activation(gelu_forward, gelu_backward, gelu_backward_output),
    "relu": Activation(relu_forward, relu_backward, relu_backward_output),
    "silu": Activation(silu_forward, silu_backward, silu_backward_output),
    "swish": Activation(silu_forward, silu_backward, silu_backward_output),
    "tanh": Activation(tanh_forward, tanh_backward, tanh_backward_output),
}


def get_activation(name) -> Activation:
    """The (forward, backward) pair for a config's `hidden_act`, or a clear error naming the choices."""
    if name not in ACTIVATIONS:
        raise ValueError(
            f"hidden_act {name!r} is not supported by albert_np; use one of {sorted(ACTIVATIONS)} "
            "(every activation of a published ALBERT config is among them)"
        )
    return ACTIVATIONS[name]


# ---- softmax ----------------------------------------------------------------------------------------


@dataclass
class SoftmaxCache:
    probs: object    # [..., K] the output


def softmax_rows(xp, x):
    # [..., K] -> [..., K];  exp(x - max) / sum exp(x - max), the max subtracted so exp cannot overflow
    e = xp.exp(x - xp.max(x, axis=-1, keepdims=True))
    e *= 1.0 / xp.sum(e, axis=-1, keepdims=True)
    return e


def softmax_backward_rows(xp, dp, p):
    # dx = p * (dp - sum(dp * p)), the Jacobian diag(p) - p p^T applied to dp
    return p * (dp - xp.sum(dp * p, axis=-1, keepdims=True))


def softmax_forward(bk, x):
    p = bk.rowwise(partial(softmax_rows, bk.xp), x)
    return p, SoftmaxCache(p)


def softmax_backward(bk, dp, cache):
    return bk.rowwise(partial(softmax_backward_rows, bk.xp), dp, cache.probs)


# ---- self-attention ---------------------------------------------------------------------------------


@dataclass
class AttentionCache:
    qkv: LinearCache         # the fused projection: x [N, H], w [3H, H]
    q: object                # [B, h, S, d] queries, already times 1/sqrt(d) (see layers.fuse_qkv)
    k: object                # [B, h, S, d]
    v: object                # [B, h, S, d]
    probs: object            # [B, h, S, S] softmax(scores), before dropout (transformers' `attentions`), or None:
                             # the backward then rebuilds them from q, k and mask_add (a model's tape does that)
    mask_add: object         # [B, 1, 1, S] or None, as given to attention_forward
    dropout: DropoutCache    # keep [B, h, S, S] bool or None; the backward rebuilds probs after dropout from it
    scores: object           # [B, h, S, S] q k^T / sqrt(d), before the mask is added; kept only when traced
    batch_size: int
    seq_len: int
    heads: int


@dataclass
class AttentionGrads:
    """The gradients of attention's inner tensors, for a traced backward: each [B, h, S, *] like its tensor."""
    q: object
    k: object
    v: object
    probs: object            # d loss / d probs (before dropout)
    scores: object


def attention_probs(xp, q, k, mask_add, with_scores):
    # (softmax(q k^T + mask_add), q k^T or None) for a block [b, h, S, d]: the forward's, and the backward's
    # when the cache does not keep the probabilities (the same calls, so the same bits)
    scores = xp.matmul(q, xp.permute_dims(k, (0, 1, 3, 2)))                   # [b, h, S, S], q k^T / sqrt(d)
    raw = scores
    # Adding a huge negative number before the softmax gives padding keys a weight of exactly 0 while keeping
    # every row finite (a fully padded row becomes uniform, as in transformers, instead of NaN). A batch
    # without padding has no mask (None), as in transformers, and skips the pass.
    if mask_add is not None and with_scores:
        scores = scores + mask_add                                            # raw stays q k^T / sqrt(d)
    elif mask_add is not None:
        scores += mask_add
    return softmax_rows(xp, scores), (raw if with_scores else None)


def attention_rows(xp, with_probs, with_scores, p_drop, q, k, v, mask_add, keep):
    # one block of sequences, [b, h, S, d] each: everything from the scores to the context stays in cache;
    # returns (ctx, probs if with_probs, raw scores if with_scores)
    probs, raw = attention_probs(xp, q, k, mask_add, with_scores)
    probs_dropped = probs if keep is None else probs * dropout_scale(xp, keep, probs.dtype, p_drop)
    ctx = xp.permute_dims(xp.matmul(probs_dropped, v), (0, 2, 1, 3))         # [b, S, h, d]
    return (ctx,) + ((probs,) if with_probs else ()) + ((raw,) if with_scores else ())


def attention_backward_rows(xp, with_inner, p_drop, dctx, q, k, v, probs, mask_add, keep):
    # probs after dropout rebuilt bit for bit, block by block, instead of kept: one [B, h, S, S] array less;
    # the probs themselves too when the cache has none (while the block's q and k are in cache)
    if probs is None:
        probs = attention_probs(xp, q, k, mask_add, False)[0]
    scale = None if keep is None else dropout_scale(xp, keep, probs.dtype, p_drop)
    probs_dropped = probs if scale is None else probs * scale
    dprobs_dropped = xp.matmul(dctx, xp.permute_dims(v, (0, 1, 3, 2)))
    dv = xp.matmul(xp.permute_dims(probs_dropped, (0, 1, 3, 2)), dctx)
    dprobs = dprobs_dropped if scale is None else dprobs_dropped * scale
    dscores = softmax_backward_rows(xp, dprobs, probs)                       # the mask add is a constant
    dq = xp.matmul(dscores, k)
    dk = xp.matmul(xp.permute_dims(dscores, (0, 1, 3, 2)), q)
    dqkv = xp.permute_dims(xp.stack((dq, dk, dv), axis=0), (1, 3, 0, 2, 4))  # [b, S, 3, h, d]
    return (dqkv, dprobs, dscores) if with_inner else dqkv


def attention_forward(bk, x, w_qkv, b_qkv, mask_add, batch_size, seq_len, heads, p_drop, training, with_scores=False,
                      with_probs=True):
    """Multi-head scaled dot-product self-attention up to (not including) the output projection.

    x: [N, H] with N = batch_size * seq_len; w_qkv: [3H, H] (query, key, value weights stacked, so one GEMM
    makes all three, the query rows already multiplied by 1/sqrt(head_dim): see layers.fuse_qkv); mask_add:
    [B, 1, 1, S], 0 where a key may be attended and the dtype's most negative number where it is padding, or
    None when nothing is padded. Returns the context [N, H] and the cache, whose `probs` are the attentions;
    with_probs=False leaves them None (each block's are made and dropped: no [B, h, S, S] array is gathered)
    and the backward rebuilds them. with_scores also keeps q k^T before the mask (for a trace).
    """
    xp = bk.xp
    hidden = x.shape[1]
    d = hidden // heads
    qkv, qkv_cache = linear_forward(bk, x, w_qkv, b_qkv)                                       # [N, 3H]
    qkv = xp.permute_dims(xp.reshape(qkv, (batch_size, seq_len, 3, heads, d)), (2, 0, 3, 1, 4))  # [3, B, h, S, d]
    q, k, v = qkv[0, ...], qkv[1, ...], qkv[2, ...]
    # The dropout mask is drawn whole, before the sequences are shared among threads, so that it does not
    # depend on which thread draws first.
    keep = dropout_keep(bk, (batch_size, heads, seq_len, seq_len), x.dtype, p_drop, training)
    ctx, *rest = bk.batchwise(partial(attention_rows, xp, with_probs, with_scores, p_drop), q, k, v, mask_add, keep)
    probs = rest.pop(0) if with_probs else None
    scores = rest.pop(0) if with_scores else None
    ctx = xp.reshape(ctx, (batch_size * seq_len, hidden))                                       # [N, H]
    return ctx, AttentionCache(qkv_cache, q, k, v, probs, mask_add, DropoutCache(keep, p_drop), scores,
                               batch_size, seq_len, heads)


def attention_backward(bk, dctx, cache, with_inner=False):
    """Backward of ctx = dropout(softmax(q k^T + mask)) v, then of the fused q/k/v projection (q pre-scaled).

    Returns (dx [N, H], dW_qkv [3H, H], db_qkv [3H], inner): inner is an AttentionGrads when with_inner, else None.
    """
    xp, c = bk.xp, cache
    hidden = dctx.shape[1]
    d = hidden // c.heads
    dctx = xp.permute_dims(xp.reshape(dctx, (c.batch_size, c.seq_len, c.heads, d)), (0, 2, 1, 3))  # [B, h, S, d]
    out = bk.batchwise(partial(attention_backward_rows, xp, with_inner, c.dropout.p), dctx, c.q, c.k, c.v, c.probs,
                       c.mask_add, c.dropout.keep)
    dqkv, dprobs, dscores = out if with_inner else (out, None, None)
    inner = None
    if with_inner:
        per_head = xp.permute_dims(dqkv, (2, 0, 3, 1, 4))                                        # [3, B, h, S, d]
        inner = AttentionGrads(per_head[0, ...], per_head[1, ...], per_head[2, ...], dprobs, dscores)
    dqkv = xp.reshape(dqkv, (c.batch_size * c.seq_len, 3 * hidden))
    dx, dw, db = linear_backward(bk, dqkv, c.qkv)
    return dx, dw, db, inner
