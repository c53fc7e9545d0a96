"""ALBERT's encoder as plain functions: embeddings, one AlbertLayer, the encoder loop, the pooler.

Each stage is a forward and its backward side by side, like the ops they are made of (ops.py):

    y, cache = stage_forward(bk, p, ..., x, ...)      # cache: a named record (dataclass) of the ops' caches
    dx = stage_backward(bk, ..., dy, cache, grads)     # weight gradients are added into `grads` by checkpoint name

`p` is the dict of weights by checkpoint name and `pre` the name prefix of the stage ("albert." inside a head
model, "" in AlbertModel). Activations are [N, features] with N = batch * seq. Every forward also takes `trace`
(None, or a dict it adds its intermediates to under transformers' module paths, e.g.
"encoder.layer.0.attention.probs", see docs/trace.md), and every backward a matching `trace_grad` dict that gets
d loss / d each traced tensor under the same names.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from . import ops
from .checkpoint import layer_prefix


def accumulate(grads, name, g):
    """grads[name] += g; a shared weight collects one term per use."""
    if name in grads:
        grads[name] += g
    else:
        grads[name] = g


def record(trace, name, x, shape):
    """trace[name] = x viewed as `shape` (the [B, S, ...] layout transformers has), when tracing."""
    if trace is not None:
        trace[name] = x if shape is None else x.__array_namespace__().reshape(x, shape)


# ---- embeddings ---------------------------------------------------------------------------------------


@dataclass
class EmbeddingsCache:
    word: ops.EmbeddingCache | None      # None when inputs_embeds were given instead of input_ids
    token_type: ops.EmbeddingCache
    position: ops.EmbeddingCache
    layer_norm: ops.LayerNormCache       # over the sum [N, E]
    dropout: ops.DropoutCache
    batch_size: int
    seq_len: int


def embeddings_forward(bk, p, pre, cfg, batch, training, trace=None):
    # ids [N] -> [N, E]: word + token-type + position embeddings, then LayerNorm and dropout
    bse = (batch.batch_size, batch.seq_len, cfg.embedding_size)
    if batch.input_ids is not None:
        words, word_cache = ops.embedding_forward(bk, batch.input_ids, p[pre + "word_embeddings.weight"],
                                                  padding_idx=cfg.pad_token_id)
        record(trace, "embeddings.word_embeddings", words, bse)
    else:
        words, word_cache = batch.inputs_embeds, None
    types, type_cache = ops.embedding_forward(bk, batch.token_type_ids, p[pre + "token_type_embeddings.weight"])
    positions, pos_cache = ops.embedding_forward(bk, batch.position_ids, p[pre + "position_embeddings.weight"])
    record(trace, "embeddings.token_type_embeddings", types, bse)
    record(trace, "embeddings.position_embeddings", positions, bse)
    e = words + types
    e += positions
    e, ln_cache = ops.layernorm_forward(bk, e, p[pre + "LayerNorm.weight"], p[pre + "LayerNorm.bias"], cfg.layer_norm_eps)
    record(trace, "embeddings.LayerNorm", e, bse)
    e, drop_cache = ops.dropout_forward(bk, e, cfg.hidden_dropout_prob, training)
    record(trace, "embeddings", e, bse)
    return e, EmbeddingsCache(word_cache, type_cache, pos_cache, ln_cache, drop_cache, batch.batch_size, batch.seq_len)


def embeddings_backward(bk, pre, de, cache, grads, trace_grad=None):
    # Returns d loss / d inputs_embeds [N, E] when those were given (else None); the tables' gradients go to `grads`.
    bse = (cache.batch_size, cache.seq_len, de.shape[1])
    record(trace_grad, "embeddings", de, bse)
    de = ops.dropout_backward(bk, de, cache.dropout)
    record(trace_grad, "embeddings.LayerNorm", de, bse)
    de, dw, db = ops.layernorm_backward(bk, de, cache.layer_norm)
    accumulate(grads, pre + "LayerNorm.weight", dw)
    accumulate(grads, pre + "LayerNorm.bias", db)
    for name in ("position_embeddings", "token_type_embeddings", "word_embeddings"):
        if name != "word_embeddings" or cache.word is not None:
            record(trace_grad, "embeddings." + name, de, bse)        # the sum's gradient reaches each of its terms
    accumulate(grads, pre + "token_type_embeddings.weight", ops.embedding_backward(bk, de, cache.token_type))
    accumulate(grads, pre + "position_embeddings.weight", ops.embedding_backward(bk, de, cache.position))
    if cache.word is None:
        return de
    accumulate(grads, pre + "word_embeddings.weight", ops.embedding_backward(bk, de, cache.word))
    return None


# ---- one AlbertLayer: attention block, then feed-forward block ----------------------------------------


def query_scale(cfg):
    return 1.0 / math.sqrt(cfg.hidden_size // cfg.num_attention_heads)


def fuse_qkv(bk, p, lp, cfg):
    # Stack the query, key and value projections so one [N, H] x [H, 3H] GEMM computes all three. The query
    # rows are multiplied by 1/sqrt(head_dim) here, once per forward, instead of scaling every [B, h, S, S]
    # score matrix: (s q) k^T = s (q k^T). Backward multiplies the query gradients by the same s.
    xp, a, s = bk.xp, lp + "attention.", query_scale(cfg)
    w = xp.concat((p[a + "query.weight"] * s, p[a + "key.weight"], p[a + "value.weight"]), axis=0)  # [3H, H]
    b = xp.concat((p[a + "query.bias"] * s, p[a + "key.bias"], p[a + "value.bias"]), axis=0)        # [3H]
    return w, b


@dataclass
class AlbertLayerCache:
    attention: ops.AttentionCache        # q, k, v [B, h, S, d], ... (probs not kept: rebuilt in the backward)
    dense: ops.LinearCache               # context [N, H] -> [N, H]
    dropout: ops.DropoutCache            # on the dense output
    attention_layer_norm: ops.LayerNormCache  # over x + dense output [N, H]
    ffn: ops.LinearCache                 # [N, H] -> [N, I]
    activation: ops.ActivationCache      # [N, I]
    ffn_output: ops.LinearCache          # [N, I] -> [N, H]; its input x not kept: the backward rebuilds it
    full_layer_layer_norm: ops.LayerNormCache  # over attention output + ffn output [N, H]


def _heads_to_tokens(bk, x, batch, hidden):
    # [B, h, S, d] -> [B, S, H]: the layout of the query/key/value Linear outputs in transformers
    return bk.xp.reshape(bk.xp.permute_dims(x, (0, 2, 1, 3)), (batch.batch_size, batch.seq_len, hidden))


def albert_layer_forward(bk, p, lp, qkv, x, batch, cfg, act, training, save_for_backward=True, trace=None, name="",
                         output_attentions=False):
    # [N, H] -> [N, H]; returns (y, attention probs [B, h, S, S] or None unless output_attentions or traced, cache)
    #   a = LayerNorm(x + dropout(dense(attention(x))))          (AlbertAttention)
    #   y = LayerNorm(a + ffn_output(act(ffn(a))))                (AlbertLayer; no dropout here, as in transformers)
    a, t = lp + "attention.", name + "attention."
    B, S, H, I = batch.batch_size, batch.seq_len, cfg.hidden_size, cfg.intermediate_size
    ctx, attn_cache = ops.attention_forward(
        bk, x, qkv[0], qkv[1], batch.mask_add, B, S, cfg.num_attention_heads, cfg.attention_probs_dropout_prob,
        training, with_scores=trace is not None, with_probs=output_attentions or trace is not None)
    if trace is not None:
        c = attn_cache
        record(trace, t + "query", _heads_to_tokens(bk, c.q, batch, H) * (1.0 / query_scale(cfg)), None)
        record(trace, t + "key", _heads_to_tokens(bk, c.k, batch, H), None)
        record(trace, t + "value", _heads_to_tokens(bk, c.v, batch, H), None)
        record(trace, t + "scores", c.scores, None)
        record(trace, t + "probs", c.probs, None)
        record(trace, t + "context", ctx, (B, S, H))
    probs = attn_cache.probs                                      # [B, h, S, S]: returned for output_attentions
    attn_cache.probs = None       # not kept on the tape: the backward rebuilds them from q and k, as torch's SDPA
    proj, dense_cache = ops.linear_forward(bk, ctx, p[a + "dense.weight"], p[a + "dense.bias"])
    record(trace, t + "dense", proj, (B, S, H))
    proj, drop_cache = ops.dropout_forward(bk, proj, cfg.hidden_dropout_prob, training)
    attn_out, ln1_cache = ops.layernorm_forward(bk, proj, p[a + "LayerNorm.weight"], p[a + "LayerNorm.bias"],
                                                cfg.layer_norm_eps, residual=x)
    record(trace, t + "LayerNorm", attn_out, (B, S, H))
    f, ffn_cache = ops.linear_forward(bk, attn_out, p[lp + "ffn.weight"], p[lp + "ffn.bias"])
    record(trace, name + "ffn", f, (B, S, I))
    overwrite = not save_for_backward and trace is None           # then nothing needs f again: reuse its memory
    f, act_cache = act.forward(bk, f, out=f if overwrite else None)
    record(trace, name + "ffn_act", f, (B, S, I))
    f, ffn_out_cache = ops.linear_forward(bk, f, p[lp + "ffn_output.weight"], p[lp + "ffn_output.bias"])
    ffn_out_cache.x = None        # act(ffn) [N, I]: act.backward_with_output rebuilds it from the activation's cache
    record(trace, name + "ffn_output", f, (B, S, H))
    y, ln2_cache = ops.layernorm_forward(bk, f, p[lp + "full_layer_layer_norm.weight"],
                                         p[lp + "full_layer_layer_norm.bias"], cfg.layer_norm_eps, residual=attn_out)
    record(trace, name + "full_layer_layer_norm", y, (B, S, H))
    cache = AlbertLayerCache(attn_cache, dense_cache, drop_cache, ln1_cache, ffn_cache, act_cache, ffn_out_cache,
                             ln2_cache)
    return y, probs, cache


def albert_layer_backward(bk, lp, dy, cache, act, cfg, grads, trace_grad=None, name=""):
    # The forward read backwards; each residual connection sends its gradient down both of its paths.
    c, a, t = cache, lp + "attention.", name + "attention."
    B, S = c.attention.batch_size, c.attention.seq_len
    H, I = cfg.hidden_size, cfg.intermediate_size
    record(trace_grad, name + "full_layer_layer_norm", dy, (B, S, H))
    df, dw, db = ops.layernorm_backward(bk, dy, c.full_layer_layer_norm)
    accumulate(grads, lp + "full_layer_layer_norm.weight", dw)
    accumulate(grads, lp + "full_layer_layer_norm.bias", db)
    record(trace_grad, name + "ffn_output", df, (B, S, H))
    dh = bk.matmul(df, c.ffn_output.w)                              # d act(ffn) [N, I]
    record(trace_grad, name + "ffn_act", dh, (B, S, I))
    dh, y = act.backward_with_output(bk, dh, c.activation)         # y = act(ffn), the FFN output layer's input
    dw, db = ops.linear_backward_weights(bk, df, y)
    del y
    accumulate(grads, lp + "ffn_output.weight", dw)
    accumulate(grads, lp + "ffn_output.bias", db)
    record(trace_grad, name + "ffn", dh, (B, S, I))
    dattn, dw, db = ops.linear_backward(bk, dh, c.ffn)
    accumulate(grads, lp + "ffn.weight", dw)
    accumulate(grads, lp + "ffn.bias", db)
    dattn += df                                                     # residual: a feeds the FFN and the sum
    record(trace_grad, t + "LayerNorm", dattn, (B, S, H))
    dproj, dw, db = ops.layernorm_backward(bk, dattn, c.attention_layer_norm)
    accumulate(grads, a + "LayerNorm.weight", dw)
    accumulate(grads, a + "LayerNorm.bias", db)
    dx = dproj                                                      # residual: x feeds attention and the sum
    dproj = ops.dropout_backward(bk, dproj, c.dropout)
    record(trace_grad, t + "dense", dproj, (B, S, H))
    dctx, dw, db = ops.linear_backward(bk, dproj, c.dense)
    accumulate(grads, a + "dense.weight", dw)
    accumulate(grads, a + "dense.bias", db)
    record(trace_grad, t + "context", dctx, (B, S, H))
    dx_attn, dw_qkv, db_qkv, inner = ops.attention_backward(bk, dctx, c.attention, with_inner=trace_grad is not None)
    if inner is not None:
        record(trace_grad, t + "query", _heads_to_tokens(bk, inner.q, c.attention, H) * query_scale(cfg), None)
        record(trace_grad, t + "key", _heads_to_tokens(bk, inner.k, c.attention, H), None)
        record(trace_grad, t + "value", _heads_to_tokens(bk, inner.v, c.attention, H), None)
        record(trace_grad, t + "scores", inner.scores, None)
        record(trace_grad, t + "probs", inner.probs, None)
    dx = dx + dx_attn
    scales = (query_scale(cfg), 1.0, 1.0)                          # the query rows were pre-scaled in fuse_qkv
    for i, proj in enumerate(("query", "key", "value")):          # un-stack the fused projection's gradient
        accumulate(grads, a + proj + ".weight", dw_qkv[i * H:(i + 1) * H, :] * scales[i])
        accumulate(grads, a + proj + ".bias", db_qkv[i * H:(i + 1) * H] * scales[i])
    return dx


# ---- the encoder: E -> H projection, then num_hidden_layers passes through the shared layer groups ------


@dataclass
class EncoderCache:
    mapping_in: ops.LinearCache                          # embeddings [N, E] -> [N, H]
    layers: list = field(default_factory=list)           # (weight prefix, AlbertLayerCache) per executed layer


def executed_layers(cfg, pre):
    """The weight prefix of every AlbertLayer in the order the encoder runs them; trace index i = position here."""
    out = []
    for i in range(cfg.num_hidden_layers):
        group = int(i / (cfg.num_hidden_layers / cfg.num_hidden_groups))  # transformers' formula, kept verbatim
        out += [layer_prefix(pre, group, j) for j in range(cfg.inner_group_num)]
    return out


def encoder_forward(bk, p, pre, e, batch, cfg, act, training, save_for_backward=True, output_hidden_states=False,
                    output_attentions=False, trace=None):
    # [N, E] -> [N, H]; returns (h, hidden_states tuple or None, attentions tuple or None, cache)
    B, S, H = batch.batch_size, batch.seq_len, cfg.hidden_size
    enc = pre + "encoder."
    h, map_cache = ops.linear_forward(bk, e, p[enc + "embedding_hidden_mapping_in.weight"],
                                      p[enc + "embedding_hidden_mapping_in.bias"])
    record(trace, "encoder.embedding_hidden_mapping_in", h, (B, S, H))
    hidden_states = [bk.xp.reshape(h, (B, S, H))] if output_hidden_states else None
    attentions = [] if output_attentions else None
    cache, fused = EncoderCache(map_cache), {}
    for i, lp in enumerate(executed_layers(cfg, pre)):
        if lp not in fused:
            fused[lp] = fuse_qkv(bk, p, lp, cfg)
        h, probs, layer_cache = albert_layer_forward(bk, p, lp, fused[lp], h, batch, cfg, act, training,
                                                     save_for_backward, trace, f"encoder.layer.{i}.", output_attentions)
        if save_for_backward:
            cache.layers.append((lp, layer_cache))
        if output_hidden_states:
            hidden_states.append(bk.xp.reshape(h, (B, S, H)))
        if output_attentions:
            attentions.append(probs)
    return (h, None if hidden_states is None else tuple(hidden_states),
            None if attentions is None else tuple(attentions), cache)


def encoder_backward(bk, pre, dh, cache, act, cfg, grads, trace_grad=None):
    # d loss / d encoder output [N, H] -> d loss / d embeddings [N, E]
    for i in reversed(range(len(cache.layers))):
        lp, layer_cache = cache.layers[i]
        dh = albert_layer_backward(bk, lp, dh, layer_cache, act, cfg, grads, trace_grad, f"encoder.layer.{i}.")
    B, S = cache.layers[0][1].attention.batch_size, cache.layers[0][1].attention.seq_len
    record(trace_grad, "encoder.embedding_hidden_mapping_in", dh, (B, S, cfg.hidden_size))
    de, dw, db = ops.linear_backward(bk, dh, cache.mapping_in)
    accumulate(grads, pre + "encoder.embedding_hidden_mapping_in.weight", dw)
    accumulate(grads, pre + "encoder.embedding_hidden_mapping_in.bias", db)
    return de


# ---- the pooler: tanh of a linear map of the first token ---------------------------------------------


@dataclass
class PoolerCache:
    dense: ops.LinearCache               # first token [B, H] -> [B, H]
    activation: ops.ActivationCache      # tanh, [B, H]
    batch_size: int
    seq_len: int


def pooler_forward(bk, p, pre, h, batch, trace=None):
    # [N, H] -> [B, H]: the [CLS] token of each sequence, through a linear layer and tanh
    B, S, H = batch.batch_size, batch.seq_len, h.shape[1]
    first = bk.xp.reshape(h, (B, S, H))[:, 0, :]                                   # [B, H]
    z, dense_cache = ops.linear_forward(bk, first, p[pre + "pooler.weight"], p[pre + "pooler.bias"])
    record(trace, "pooler", z, None)
    pooled, tanh_cache = ops.tanh_forward(bk, z)
    record(trace, "pooler_activation", pooled, None)
    return pooled, PoolerCache(dense_cache, tanh_cache, B, S)


def pooler_backward(bk, pre, dpooled, dseq, cache, grads, trace_grad=None):
    # d pooled [B, H] (+ d sequence [N, H] or None from elsewhere) -> d sequence [N, H]; only token 0 feeds the pooler
    xp, B, S = bk.xp, cache.batch_size, cache.seq_len
    record(trace_grad, "pooler_activation", dpooled, None)
    dz = ops.tanh_backward(bk, dpooled, cache.activation)
    record(trace_grad, "pooler", dz, None)
    dfirst, dw, db = ops.linear_backward(bk, dz, cache.dense)
    accumulate(grads, pre + "pooler.weight", dw)
    accumulate(grads, pre + "pooler.bias", db)
    H = dfirst.shape[1]
    if dseq is None:
        dseq = bk.zeros((B * S, H), dfirst.dtype)
    dseq = xp.reshape(dseq, (B, S, H))
    dseq = xp.concat((xp.reshape(dseq[:, 0, :] + dfirst, (B, 1, H)), dseq[:, 1:, :]), axis=1)
    return xp.reshape(dseq, (B * S, H))
