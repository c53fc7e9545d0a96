"""The losses ALBERT's heads use, with the ops' convention: `loss, cache = f_forward(bk, ...)`, `dlogits = f_backward(bk, dloss, cache)`.

They follow torch.nn's defaults: mean reduction, CrossEntropyLoss ignoring targets equal to `ignore_index`
(the mean is over the rows that are counted, so a batch with every row ignored gives NaN, as torch does).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from .ops import sigmoid


@dataclass
class CrossEntropyCache:
    logp: object     # [N, C] log softmax of the logits
    safe: object     # [N] the labels, ignored rows replaced by 0 (any valid class)
    counted: object  # [N] 1.0 where the row counts in the loss, 0.0 where its label is ignore_index
    count: object    # scalar: the number of counted rows


def log_softmax_rows(xp, x):
    # [..., C] -> [..., C];  x - max - log(sum(exp(x - max))), in place after the first subtraction
    logp = x - xp.max(x, axis=-1, keepdims=True)
    logp -= xp.log(xp.sum(xp.exp(logp), axis=-1, keepdims=True))
    return logp


def cross_entropy_backward_rows(xp, classes, logp, safe, scale):
    # (softmax - onehot(label)) * scale, per row: logp [n, C], safe [n, 1] ints, scale [n, 1]
    d = xp.exp(logp)
    d -= xp.astype(safe == classes, logp.dtype)
    d *= scale
    return d


def cross_entropy_forward(bk, logits, labels, ignore_index=-100):
    # logits [N, C], labels [N] ints -> scalar;  loss = -mean over counted rows of log softmax(logits)[label]
    # The log softmax goes through bk.rowwise: for an MLM's [N, 30000] logits, its exp is then a block-sized
    # temporary instead of a third [N, C] array beside the logits and their log softmax.
    xp = bk.xp
    logp = bk.rowwise(partial(log_softmax_rows, xp), logits)                      # [N, C]
    counted = labels != ignore_index
    safe = xp.where(counted, labels, xp.zeros_like(labels))
    picked = xp.take_along_axis(logp, safe[:, None], axis=1)[:, 0]                 # [N]
    weight = xp.astype(counted, logits.dtype)
    count = xp.sum(weight)
    loss = -xp.sum(picked * weight) / count
    return loss, CrossEntropyCache(logp, safe, weight, count)


def cross_entropy_backward(bk, dloss, cache):
    # d loss / d logits = (softmax(logits) - onehot(label)) * counted / count, in row blocks: the one-hot rows
    # and their bool comparison are block-sized, not two more [N, C] arrays (123 MB and 31 MB for an MLM)
    xp, c = bk.xp, cache
    classes = bk.arange(c.logp.shape[1])
    scale = (c.counted * (dloss / c.count))[:, None]                                 # [N, 1]
    return bk.rowwise(partial(cross_entropy_backward_rows, xp, classes), c.logp, c.safe[:, None], scale)


@dataclass
class MSECache:
    diff: object     # pred - target, any shape


def mse_forward(bk, pred, target):
    # mean((pred - target)^2) over every element
    diff = pred - target
    return bk.xp.mean(diff * diff), MSECache(diff)


def mse_backward(bk, dloss, cache):
    # d/dpred = 2 (pred - target) / numel
    return cache.diff * (2.0 * dloss / _numel(cache.diff))


@dataclass
class BCECache:
    logits: object   # [B, C]
    target: object   # [B, C] floats in [0, 1]


def bce_with_logits_forward(bk, logits, target):
    # mean of max(x, 0) - x y + log(1 + e^-|x|), the overflow-free form of -[y log s(x) + (1-y) log(1 - s(x))]
    xp = bk.xp
    loss = xp.maximum(logits, 0.0) - logits * target + xp.log1p(xp.exp(-xp.abs(logits)))
    return xp.mean(loss), BCECache(logits, target)


def bce_with_logits_backward(bk, dloss, cache):
    # d/dx = (sigmoid(x) - y) / numel
    return (sigmoid(bk.xp, cache.logits) - cache.target) * (dloss / _numel(cache.logits))


def _numel(x):
    n = 1
    for s in x.shape:
        n *= s
    return n
