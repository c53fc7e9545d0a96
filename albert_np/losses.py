"""The losses ALBERT's heads use, with the ops' convention: `loss, cache = f_forward(bk, ...)`, `dlogits = f_backward(bk, dloss, cache)`.

They follow torch.nn's defaults: mean reduction, CrossEntropyLoss ignoring targets equal to `ignore_index`
(the mean is over the rows that are counted, so a batch with every row ignored gives NaN, as torch does).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from .ops import RowGradient, sigmoid


@dataclass
class CrossEntropyCache:
    logp: object     # [n, C] log softmax of the logits of the n counted rows (label != ignore_index)
    rows: object     # [n] ints: where those rows are among the logits' N
    labels: object   # [n] ints: their labels
    shape: tuple     # (N, C): the logits' shape, which the gradient has


def log_softmax_rows(xp, x):
    # [..., C] -> [..., C];  x - max - log(sum(exp(x - max))), in place after the first subtraction
    logp = x - xp.max(x, axis=-1, keepdims=True)
    logp -= xp.log(xp.sum(xp.exp(logp), axis=-1, keepdims=True))
    return logp


def cross_entropy_backward_rows(xp, classes, scale, logp, labels):
    # (softmax - onehot(label)) * scale, per row: logp [n, C], labels [n, 1] ints, scale a scalar
    d = xp.exp(logp)
    d -= xp.astype(labels == classes, logp.dtype)
    d *= scale
    return d


def cross_entropy_forward(bk, logits, labels, ignore_index=-100):
    # logits [N, C], labels [N] ints -> scalar;  loss = -mean over counted rows of log softmax(logits)[label]
    # Only the counted rows are normalised (for an MLM, the 15% of positions with a label): an ignored row
    # adds nothing to the loss and gets a zero gradient, whatever its logits. The log softmax goes through
    # bk.rowwise, so its exp is a block-sized temporary, not another [n, C] array.
    xp = bk.xp
    rows = xp.nonzero(labels != ignore_index)[0]                                  # [n]
    picked_labels = xp.take(labels, rows)                                         # [n]
    logp = bk.rowwise(partial(log_softmax_rows, xp), xp.take(logits, rows, axis=0))  # [n, C]
    picked = xp.take_along_axis(logp, picked_labels[:, None], axis=1)[:, 0]        # [n]
    loss = -xp.sum(picked) / rows.shape[0]      # 0 / 0 = NaN when every row is ignored, as in torch
    return loss, CrossEntropyCache(logp, rows, picked_labels, tuple(logits.shape))


def cross_entropy_backward(bk, dloss, cache):
    # d loss / d logits [N, C]: the counted rows' gradient (below), zeros on the others
    return cross_entropy_row_gradient(bk, dloss, cache).dense(bk)


def cross_entropy_row_gradient(bk, dloss, cache):
    # d loss / d logits = (softmax(logits) - onehot(label)) / n on the n counted rows, 0 on the others, as an
    # ops.RowGradient (rows, values, shape); in row blocks, so the one-hot rows and their bool comparison are
    # block-sized, not two more [n, C] arrays
    xp, c = bk.xp, cache
    classes = bk.arange(c.shape[1])
    scale = dloss / max(c.logp.shape[0], 1)     # with no counted row, d is [0, C] and the gradient all zeros (torch's too)
    d = bk.rowwise(partial(cross_entropy_backward_rows, xp, classes, scale), c.logp, c.labels[:, None])
    return RowGradient(c.rows, d, c.shape)


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
