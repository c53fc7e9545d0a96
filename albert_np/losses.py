"""The losses ALBERT's heads use, each a forward returning (scalar loss, cache) and a backward returning d loss / d logits.

They follow torch.nn's defaults: mean reduction, CrossEntropyLoss ignoring targets equal to `ignore_index`
(the mean is over the rows that are kept, so a batch with every row ignored gives NaN, as torch does).
"""

from __future__ import annotations

from .ops import sigmoid


def cross_entropy_forward(xp, logits, labels, ignore_index=-100):
    # logits [N, C], labels [N] ints -> scalar;  loss = -mean over kept rows of log softmax(logits)[label]
    logp = logits - xp.max(logits, axis=-1, keepdims=True)
    logp -= xp.log(xp.sum(xp.exp(logp), axis=-1, keepdims=True))                  # [N, C], log softmax in place
    keep = labels != ignore_index
    safe = xp.where(keep, labels, xp.zeros_like(labels))                           # any valid row for ignored ones
    picked = xp.take_along_axis(logp, safe[:, None], axis=1)[:, 0]                 # [N]
    weight = xp.astype(keep, logits.dtype)
    count = xp.sum(weight)
    loss = -xp.sum(picked * weight) / count
    return loss, (logp, safe, weight, count)


def cross_entropy_backward(xp, dloss, cache):
    # d loss / d logits = (softmax(logits) - onehot(label)) * kept / count
    logp, safe, weight, count = cache
    classes = xp.arange(logp.shape[1], device=_device(logp))
    d = xp.exp(logp)
    d -= xp.astype(safe[:, None] == classes[None, :], logp.dtype)                  # in place: for a 30k vocab
    d *= (weight * (dloss / count))[:, None]                                         # each [N, C] copy is large
    return d


def mse_forward(xp, pred, target):
    # mean((pred - target)^2) over every element
    diff = pred - target
    return xp.mean(diff * diff), (diff,)


def mse_backward(xp, dloss, cache):
    # d/dpred = 2 (pred - target) / numel
    (diff,) = cache
    return diff * (2.0 * dloss / _numel(diff))


def bce_with_logits_forward(xp, logits, target):
    # mean of max(x, 0) - x y + log(1 + e^-|x|), the overflow-free form of -[y log s(x) + (1-y) log(1 - s(x))]
    loss = xp.maximum(logits, 0.0) - logits * target + xp.log1p(xp.exp(-xp.abs(logits)))
    return xp.mean(loss), (logits, target)


def bce_with_logits_backward(xp, dloss, cache):
    # d/dx = (sigmoid(x) - y) / numel
    logits, target = cache
    return (sigmoid(xp, logits) - target) * (dloss / _numel(logits))


def _numel(x):
    n = 1
    for s in x.shape:
        n *= s
    return n


def _device(x):
    return getattr(x, "device", None)
