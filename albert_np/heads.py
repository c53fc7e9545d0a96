"""The task heads on top of the encoder, as plain forward/backward functions (the same convention as layers.py).

`p` holds the weights by checkpoint name; `trace`/`trace_grad` (None, or dicts) get each head's intermediates
and their gradients under transformers' module paths: "predictions.dense", "predictions.activation",
"predictions.LayerNorm", "predictions.decoder" (MLM), "sop_classifier", "classifier", "qa_outputs".
"""

from __future__ import annotations

from dataclasses import dataclass

from . import ops
from .layers import accumulate, record


@dataclass
class MLMHeadCache:
    dense: ops.LinearCache               # [N, H] -> [N, E]
    activation: ops.ActivationCache      # [N, E]
    layer_norm: ops.LayerNormCache       # [N, E]
    decoder: ops.LinearCache             # [N, E] -> [N, V], the weight tied to the word embeddings
    lead: tuple                          # (B, S)


def mlm_head_forward(bk, p, cfg, act, seq, decoder_weight, lead, trace=None):
    # [N, H] -> [N, V]: dense H->E, activation, LayerNorm, then the decoder tied to the word embeddings
    E, V = cfg.embedding_size, cfg.vocab_size
    h, dense_cache = ops.linear_forward(bk, seq, p["predictions.dense.weight"], p["predictions.dense.bias"])
    record(trace, "predictions.dense", h, lead + (E,))
    h, act_cache = act.forward(bk, h)
    record(trace, "predictions.activation", h, lead + (E,))
    h, ln_cache = ops.layernorm_forward(bk, h, p["predictions.LayerNorm.weight"], p["predictions.LayerNorm.bias"],
                                        cfg.layer_norm_eps)
    record(trace, "predictions.LayerNorm", h, lead + (E,))
    logits, dec_cache = ops.linear_forward(bk, h, p[decoder_weight], p["predictions.bias"])
    record(trace, "predictions.decoder", logits, lead + (V,))
    return logits, MLMHeadCache(dense_cache, act_cache, ln_cache, dec_cache, lead)


def mlm_head_backward(bk, dlogits, cache, act, decoder_weight, grads, trace_grad=None):
    # d logits [N, V] -> d sequence [N, H]. dlogits is an array, or the loss's RowGradient (zero outside the
    # positions with a label), whose decoder backward multiplies only those rows
    c, lead = cache, cache.lead
    rows_only = isinstance(dlogits, ops.RowGradient)
    if trace_grad is not None:
        record(trace_grad, "predictions.decoder", dlogits.dense(bk) if rows_only else dlogits,
               lead + (dlogits.shape[1],))
    if rows_only:
        dh, dw, db = ops.linear_backward_rows(bk, dlogits, c.decoder)
    else:
        dh, dw, db = ops.linear_backward(bk, dlogits, c.decoder)
    accumulate(grads, decoder_weight, dw)                      # the tied decoder adds to the word-embedding gradient
    accumulate(grads, "predictions.bias", db)
    record(trace_grad, "predictions.LayerNorm", dh, lead + (dh.shape[1],))
    dh, dw, db = ops.layernorm_backward(bk, dh, c.layer_norm)
    accumulate(grads, "predictions.LayerNorm.weight", dw)
    accumulate(grads, "predictions.LayerNorm.bias", db)
    record(trace_grad, "predictions.activation", dh, lead + (dh.shape[1],))
    dh = act.backward(bk, dh, c.activation)
    record(trace_grad, "predictions.dense", dh, lead + (dh.shape[1],))
    dseq, dw, db = ops.linear_backward(bk, dh, c.dense)
    accumulate(grads, "predictions.dense.weight", dw)
    accumulate(grads, "predictions.dense.bias", db)
    return dseq


@dataclass
class ClassifierCache:
    dropout: ops.DropoutCache            # on the input [M, H]
    linear: ops.LinearCache              # [M, H] -> [M, num_labels]
    shape: tuple                         # the traced output's shape, e.g. (B, num_labels) or (B, S, num_labels)


def classifier_forward(bk, p, name, x, p_drop, training, shape, trace=None, trace_name=None):
    # [M, H] -> [M, num_labels]: dropout, then a linear layer (`name` is its weight prefix)
    x, drop_cache = ops.dropout_forward(bk, x, p_drop, training)
    logits, cache = ops.linear_forward(bk, x, p[name + ".weight"], p[name + ".bias"])
    record(trace, trace_name or name, logits, shape)
    return logits, ClassifierCache(drop_cache, cache, shape)


def classifier_backward(bk, dlogits, cache, name, grads, trace_grad=None, trace_name=None):
    record(trace_grad, trace_name or name, dlogits, cache.shape)
    dx, dw, db = ops.linear_backward(bk, dlogits, cache.linear)
    accumulate(grads, name + ".weight", dw)
    accumulate(grads, name + ".bias", db)
    return ops.dropout_backward(bk, dx, cache.dropout)
