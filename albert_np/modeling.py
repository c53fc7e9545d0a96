"""ALBERT: embeddings, the shared-layer encoder, the pooler, and the seven model classes of transformers.

Read it beside transformers' modeling_albert.py: every parameter is a plain array in `model.params`, keyed by
the name it has in a checkpoint. The data flow for one batch (N = batch * seq rows):

    ids -> word + token-type + position embeddings [N, E] -> LayerNorm -> E->H projection [N, H]
        -> num_hidden_layers times: one layer group (inner_group_num AlbertLayers, shared weights)
        -> last_hidden_state [N, H] -> pooler (tanh of a linear map of the first token) [B, H] -> heads

Each forward step keeps a cache (see ops.py); `model.backward()` walks the caches in reverse. A layer group
reused by several layers is one set of arrays, so its gradient is the sum over its uses.
"""

from __future__ import annotations

import math
import os
import warnings

from . import losses, ops
from .backend import get_backend
from .checkpoint import CheckpointError, read_checkpoint_dir, normalize_keys, write_safetensors, WEIGHTS_NAME
from .config import AlbertConfig
from .inputs import prepare_batch, prepare_labels, to_host
from .outputs import (
    AlbertForPreTrainingOutput,
    BaseModelOutputWithPooling,
    MaskedLMOutput,
    MultipleChoiceModelOutput,
    QuestionAnsweringModelOutput,
    SequenceClassifierOutput,
    TokenClassifierOutput,
)

# ---- parameter names and shapes ---------------------------------------------------------------------


def layer_prefix(prefix, group, inner):
    return f"{prefix}encoder.albert_layer_groups.{group}.albert_layers.{inner}."


def albert_param_shapes(cfg, prefix, add_pooling_layer):
    """Name -> shape of every AlbertModel weight, in transformers' `named_parameters()` order."""
    V, E, H, I = cfg.vocab_size, cfg.embedding_size, cfg.hidden_size, cfg.intermediate_size
    e = prefix + "embeddings."
    shapes = {
        e + "word_embeddings.weight": (V, E),
        e + "position_embeddings.weight": (cfg.max_position_embeddings, E),
        e + "token_type_embeddings.weight": (cfg.type_vocab_size, E),
        e + "LayerNorm.weight": (E,),
        e + "LayerNorm.bias": (E,),
        prefix + "encoder.embedding_hidden_mapping_in.weight": (H, E),
        prefix + "encoder.embedding_hidden_mapping_in.bias": (H,),
    }
    for g in range(cfg.num_hidden_groups):
        for j in range(cfg.inner_group_num):
            lp = layer_prefix(prefix, g, j)
            shapes[lp + "full_layer_layer_norm.weight"] = (H,)
            shapes[lp + "full_layer_layer_norm.bias"] = (H,)
            for name in ("query", "key", "value", "dense"):
                shapes[lp + f"attention.{name}.weight"] = (H, H)
                shapes[lp + f"attention.{name}.bias"] = (H,)
            shapes[lp + "attention.LayerNorm.weight"] = (H,)
            shapes[lp + "attention.LayerNorm.bias"] = (H,)
            shapes[lp + "ffn.weight"] = (I, H)
            shapes[lp + "ffn.bias"] = (I,)
            shapes[lp + "ffn_output.weight"] = (H, I)
            shapes[lp + "ffn_output.bias"] = (H,)
    if add_pooling_layer:
        shapes[prefix + "pooler.weight"] = (H, H)
        shapes[prefix + "pooler.bias"] = (H,)
    return shapes


def mlm_head_shapes(cfg):
    E, H = cfg.embedding_size, cfg.hidden_size
    return {
        "predictions.bias": (cfg.vocab_size,),
        "predictions.LayerNorm.weight": (E,),
        "predictions.LayerNorm.bias": (E,),
        "predictions.dense.weight": (E, H),
        "predictions.dense.bias": (E,),
    }


def linear_shapes(name, out_features, in_features):
    return {name + ".weight": (out_features, in_features), name + ".bias": (out_features,)}


def _accumulate(grads, name, g):
    """grads[name] += g; a shared weight collects one term per use."""
    if name in grads:
        grads[name] += g
    else:
        grads[name] = g


# ---- embeddings ---------------------------------------------------------------------------------------


def embeddings_forward(xp, bk, p, pre, cfg, batch, training):
    # ids [N] -> [N, E]: word + token-type + position embeddings, then LayerNorm and dropout
    if batch.input_ids is not None:
        words, word_cache = ops.embedding_forward(xp, batch.input_ids, p[pre + "word_embeddings.weight"])
    else:
        words, word_cache = batch.inputs_embeds, None
    types, type_cache = ops.embedding_forward(xp, batch.token_type_ids, p[pre + "token_type_embeddings.weight"])
    positions, pos_cache = ops.embedding_forward(xp, batch.position_ids, p[pre + "position_embeddings.weight"])
    e = words + types
    e += positions
    e, ln_cache = ops.layernorm_forward(xp, bk, e, p[pre + "LayerNorm.weight"], p[pre + "LayerNorm.bias"], cfg.layer_norm_eps)
    e, keep = ops.dropout_forward(xp, bk, e, cfg.hidden_dropout_prob, training)
    return e, (word_cache, type_cache, pos_cache, ln_cache, keep)


def embeddings_backward(xp, bk, pre, cfg, de, cache, grads):
    # Returns d loss / d inputs_embeds when those were given (else None); table gradients go into `grads`.
    word_cache, type_cache, pos_cache, ln_cache, keep = cache
    de = ops.dropout_backward(xp, de, keep)
    de, dw, db = ops.layernorm_backward(xp, bk, de, ln_cache)
    _accumulate(grads, pre + "LayerNorm.weight", dw)
    _accumulate(grads, pre + "LayerNorm.bias", db)
    _accumulate(grads, pre + "token_type_embeddings.weight", ops.embedding_backward(xp, bk, de, type_cache))
    _accumulate(grads, pre + "position_embeddings.weight", ops.embedding_backward(xp, bk, de, pos_cache))
    if word_cache is None:
        return de
    dwords = ops.embedding_backward(xp, bk, de, word_cache, padding_idx=cfg.pad_token_id)
    _accumulate(grads, pre + "word_embeddings.weight", dwords)
    return None


# ---- one AlbertLayer: attention block, then feed-forward block ----------------------------------------


def fuse_qkv(xp, p, lp, cfg):
    # Stack the query, key and value projections so one [N, H] x [H, 3H] GEMM computes all three. The query
    # rows are multiplied by 1/sqrt(head_dim) here, once per forward, instead of scaling every [B, h, S, S]
    # score matrix: (s q) k^T = s (q k^T). Backward multiplies the query gradients by the same s.
    a = lp + "attention."
    s = query_scale(cfg)
    w = xp.concat((p[a + "query.weight"] * s, p[a + "key.weight"], p[a + "value.weight"]), axis=0)  # [3H, H]
    b = xp.concat((p[a + "query.bias"] * s, p[a + "key.bias"], p[a + "value.bias"]), axis=0)        # [3H]
    return w, b


def query_scale(cfg):
    return 1.0 / math.sqrt(cfg.hidden_size // cfg.num_attention_heads)


def albert_layer_forward(xp, bk, p, lp, qkv, x, batch, cfg, act_forward, training, keep_cache=True):
    # [N, H] -> [N, H]
    #   a = LayerNorm(x + dropout(dense(attention(x))))          (AlbertAttention)
    #   y = LayerNorm(a + ffn_output(act(ffn(a))))                (AlbertLayer; no dropout here, as in transformers)
    a = lp + "attention."
    ctx, probs, attn_cache = ops.attention_forward(
        xp, bk, x, qkv[0], qkv[1], batch.mask_add, batch.batch, batch.seq, cfg.num_attention_heads,
        cfg.attention_probs_dropout_prob, training)
    proj, dense_cache = ops.linear_forward(xp, bk, ctx, p[a + "dense.weight"], p[a + "dense.bias"])
    proj, keep = ops.dropout_forward(xp, bk, proj, cfg.hidden_dropout_prob, training)
    attn_out, ln1_cache = ops.layernorm_forward(xp, bk, proj, p[a + "LayerNorm.weight"], p[a + "LayerNorm.bias"],
                                                cfg.layer_norm_eps, residual=x)
    f, ffn_cache = ops.linear_forward(xp, bk, attn_out, p[lp + "ffn.weight"], p[lp + "ffn.bias"])
    f, act_cache = act_forward(xp, bk, f, out=None if keep_cache else f)  # without a backward, f is not needed again
    f, ffn_out_cache = ops.linear_forward(xp, bk, f, p[lp + "ffn_output.weight"], p[lp + "ffn_output.bias"])
    y, ln2_cache = ops.layernorm_forward(xp, bk, f, p[lp + "full_layer_layer_norm.weight"],
                                         p[lp + "full_layer_layer_norm.bias"], cfg.layer_norm_eps, residual=attn_out)
    cache = (attn_cache, dense_cache, keep, ln1_cache, ffn_cache, act_cache, ffn_out_cache, ln2_cache)
    return y, probs, cache


def albert_layer_backward(xp, bk, lp, dy, cache, act_backward, cfg, grads):
    # The forward read backwards; each residual connection sends its gradient down both of its paths.
    attn_cache, dense_cache, keep, ln1_cache, ffn_cache, act_cache, ffn_out_cache, ln2_cache = cache
    a = lp + "attention."
    df, dw, db = ops.layernorm_backward(xp, bk, dy, ln2_cache)
    _accumulate(grads, lp + "full_layer_layer_norm.weight", dw)
    _accumulate(grads, lp + "full_layer_layer_norm.bias", db)
    dh, dw, db = ops.linear_backward(xp, bk, df, ffn_out_cache)
    _accumulate(grads, lp + "ffn_output.weight", dw)
    _accumulate(grads, lp + "ffn_output.bias", db)
    dh = act_backward(xp, bk, dh, act_cache)
    dattn, dw, db = ops.linear_backward(xp, bk, dh, ffn_cache)
    _accumulate(grads, lp + "ffn.weight", dw)
    _accumulate(grads, lp + "ffn.bias", db)
    dattn += df                                                     # residual: a feeds the FFN and the sum
    dproj, dw, db = ops.layernorm_backward(xp, bk, dattn, ln1_cache)
    _accumulate(grads, a + "LayerNorm.weight", dw)
    _accumulate(grads, a + "LayerNorm.bias", db)
    dx = dproj                                                      # residual: x feeds attention and the sum
    dproj = ops.dropout_backward(xp, dproj, keep)
    dctx, dw, db = ops.linear_backward(xp, bk, dproj, dense_cache)
    _accumulate(grads, a + "dense.weight", dw)
    _accumulate(grads, a + "dense.bias", db)
    dx_attn, dw_qkv, db_qkv = ops.attention_backward(xp, bk, dctx, attn_cache)
    dx = dx + dx_attn
    H = dx.shape[1]
    scales = (query_scale(cfg), 1.0, 1.0)                          # the query rows were pre-scaled in fuse_qkv
    for i, name in enumerate(("query", "key", "value")):          # un-stack the fused projection's gradient
        _accumulate(grads, a + name + ".weight", dw_qkv[i * H:(i + 1) * H, :] * scales[i])
        _accumulate(grads, a + name + ".bias", db_qkv[i * H:(i + 1) * H] * scales[i])
    return dx


# ---- the base model ------------------------------------------------------------------------------------


class AlbertPreTrainedModel:
    """What every ALBERT class shares: weights, loading/saving, the encoder forward and its backward."""

    base_model_prefix = "albert"
    add_pooling_layer = True
    output_names: tuple = ()

    def __init__(self, config: AlbertConfig, dtype="float32", backend="numpy", seed=None, params=None):
        if not isinstance(config, AlbertConfig):
            raise TypeError(f"{type(self).__name__} needs an AlbertConfig, got {type(config).__name__}")
        self.config = config
        self.backend = get_backend(backend, seed=seed)
        self.xp = self.backend.xp
        self.dtype = str(dtype)
        self._xp_dtype = self.backend.dtype(self.dtype)
        self.prefix = "" if type(self) is AlbertModel else self.base_model_prefix + "."
        self.training = False
        self.requires_grad = True
        self._tape = None
        self._act = ops.get_activation(config.hidden_act)
        self._check_head_config()
        shapes = self.param_shapes()
        self.params = {k: self._init_param(k, s) for k, s in shapes.items()} if params is None else params

    # ---- weights ----

    def param_shapes(self) -> dict:
        """Name -> shape of every trainable weight, in transformers' order."""
        return {**albert_param_shapes(self.config, self.prefix, self.add_pooling_layer), **self.head_shapes()}

    def head_shapes(self) -> dict:
        return {}

    def _check_head_config(self):
        pass

    def _init_param(self, name, shape):
        """transformers' _init_weights: N(0, initializer_range) for matrices and tables, LayerNorm 1/0, biases 0."""
        bk, cfg = self.backend, self.config
        if name.endswith(("LayerNorm.weight", "layer_norm.weight")):
            return bk.ones(shape, self._xp_dtype)
        if name.endswith("bias"):
            return bk.zeros(shape, self._xp_dtype)
        w = bk.normal(shape, cfg.initializer_range, self._xp_dtype)
        if name.endswith("word_embeddings.weight") and cfg.pad_token_id is not None:
            w[cfg.pad_token_id, ...] = 0.0  # nn.Embedding zeroes its padding row
        return w

    def parameters(self) -> dict:
        """The live weight arrays by checkpoint name (each shared or tied array once); optimizers update them in place."""
        return self.params

    def state_dict(self) -> dict:
        """{checkpoint key: array}, exactly what save_pretrained writes."""
        return dict(self.params)

    @property
    def albert(self):
        """The encoder as an AlbertModel sharing this model's arrays, like transformers' `model.albert`."""
        if not self.prefix:
            return self
        n = len(self.prefix)
        params = {k[n:]: v for k, v in self.params.items() if k.startswith(self.prefix)}
        return AlbertModel(self.config, dtype=self.dtype, backend=self.backend, params=params,
                           add_pooling_layer=self.add_pooling_layer)

    def num_parameters(self) -> int:
        n = 0
        for shape in self.param_shapes().values():
            size = 1
            for s in shape:
                size *= s
            n += size
        return n

    def train(self, mode: bool = True):
        """Dropout on (training) or off (evaluation, the default), as `torch.nn.Module.train()`."""
        self.training = bool(mode)
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, flag: bool = True):
        """Keep (True, the default) or drop the caches backward() needs; dropping them saves memory in inference."""
        self.requires_grad = bool(flag)
        return self

    # ---- loading and saving ----

    @classmethod
    def from_pretrained(cls, path, dtype="float32", backend="numpy", seed=None, **config_overrides):
        """Load `path/config.json` and `path/model.safetensors` (or its shards) as transformers' from_pretrained does.

        A checkpoint of another head works: unused head weights are listed in a warning, missing head weights
        (and a missing pooler) are initialised with N(0, initializer_range) and listed in a warning, while missing
        or misshapen encoder weights are an error.
        """
        config = AlbertConfig.from_pretrained(path, **config_overrides)
        model = cls(config, dtype=dtype, backend=backend, seed=seed)
        model.load_state_dict(read_checkpoint_dir(path), source=os.fspath(path))
        return model

    def load_state_dict(self, tensors: dict, source="the state dict"):
        """Copy host arrays (checkpoint key -> array) into the model, checking names and shapes."""
        tensors = normalize_keys(tensors, self.prefix)
        expected = self.param_shapes()
        tied = {"predictions.decoder.weight", "predictions.decoder.bias"}  # the decoder reuses word embeddings
        missing = [k for k in expected if k not in tensors]
        unexpected = [k for k in tensors if k not in expected and k not in tied]
        base = albert_param_shapes(self.config, self.prefix, add_pooling_layer=False)
        fatal = [k for k in missing if k in base]
        if fatal:
            raise CheckpointError(
                f"{source} lacks {len(fatal)} weight(s) the ALBERT encoder needs, e.g. {fatal[:3]}; is it an ALBERT "
                f"checkpoint, and does its config.json (num_hidden_groups={self.config.num_hidden_groups}, "
                f"inner_group_num={self.config.inner_group_num}) match the file?"
            )
        for key, shape in expected.items():
            if key in tensors and tuple(tensors[key].shape) != tuple(shape):
                raise CheckpointError(
                    f"{key} in {source} has shape {tuple(tensors[key].shape)} but the config implies {tuple(shape)}; "
                    f"{_shape_hint(key)}"
                )
        for key in expected:
            if key in tensors:
                host = to_host(self.backend, tensors[key], key)
                self.params[key] = self.backend.asarray(host.astype(self.dtype), dtype=self._xp_dtype)
        if missing:
            warnings.warn(
                f"Some weights of {type(self).__name__} were not initialized from {source} and are newly "
                f"initialized: {missing}. Train the model on a down-stream task before using it for predictions.",
                stacklevel=3,
            )
        if unexpected:
            warnings.warn(
                f"Some weights of {source} were not used when initializing {type(self).__name__}: {unexpected}. "
                "This is expected when the checkpoint was saved from another head (e.g. AlbertForPreTraining into "
                "AlbertModel).",
                stacklevel=3,
            )

    def save_pretrained(self, path):
        """Write config.json and model.safetensors (transformers' layout; tied decoder weights left out), atomically."""
        os.makedirs(path, exist_ok=True)
        self.config.architectures = [type(self).__name__]
        self.config._extra["dtype"] = self.dtype
        host = {k: self.backend.to_numpy(v) for k, v in self.params.items()}
        write_safetensors(os.path.join(path, WEIGHTS_NAME), host, metadata={"format": "pt"})
        self.config.save_pretrained(path)

    # ---- running ----

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def _prepare(self, input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds, ndim=2):
        return prepare_batch(self.backend, self.config, self.dtype, input_ids, attention_mask, token_type_ids,
                             position_ids, inputs_embeds, ndim=ndim)

    def _run_albert(self, batch, output_hidden_states, output_attentions):
        """Embeddings, encoder and (if present) pooler. Returns (sequence [N, H], pooled [B, H] or None, hidden, attentions)."""
        xp, bk, p, cfg, pre = self.xp, self.backend, self.params, self.config, self.prefix
        if output_hidden_states is None:
            output_hidden_states = cfg.output_hidden_states
        if output_attentions is None:
            output_attentions = cfg.output_attentions
        B, S, H = batch.batch, batch.seq, cfg.hidden_size
        keep_cache = self.requires_grad
        act_forward = self._act[0]

        e, emb_cache = embeddings_forward(xp, bk, p, pre + "embeddings.", cfg, batch, self.training)
        enc = pre + "encoder."
        h, map_cache = ops.linear_forward(xp, bk, e, p[enc + "embedding_hidden_mapping_in.weight"],
                                              p[enc + "embedding_hidden_mapping_in.bias"])
        hidden_states = [xp.reshape(h, (B, S, H))] if output_hidden_states else None
        attentions = [] if output_attentions else None
        layer_caches, fused = [], {}
        for i in range(cfg.num_hidden_layers):
            group = int(i / (cfg.num_hidden_layers / cfg.num_hidden_groups))  # transformers' formula, kept verbatim
            for j in range(cfg.inner_group_num):
                lp = layer_prefix(pre, group, j)
                if lp not in fused:
                    fused[lp] = fuse_qkv(xp, p, lp, cfg)
                h, probs, cache = albert_layer_forward(xp, bk, p, lp, fused[lp], h, batch, cfg, act_forward, self.training,
                                                   keep_cache)
                if keep_cache:
                    layer_caches.append((lp, cache))
                if output_hidden_states:
                    hidden_states.append(xp.reshape(h, (B, S, H)))
                if output_attentions:
                    attentions.append(probs)

        pooled, pool_cache = None, None
        if self.add_pooling_layer:
            first = xp.reshape(h, (B, S, H))[:, 0, :]                                   # [B, H], the [CLS] token
            z, lin_cache = ops.linear_forward(xp, bk, first, p[pre + "pooler.weight"], p[pre + "pooler.bias"])
            pooled, tanh_cache = ops.tanh_forward(xp, bk, z)
            pool_cache = (lin_cache, tanh_cache)
        self._tape = {"batch": batch, "emb": emb_cache, "map": map_cache, "layers": layer_caches,
                      "pool": pool_cache} if keep_cache else None
        return (h, pooled,
                None if hidden_states is None else tuple(hidden_states),
                None if attentions is None else tuple(attentions))

    def _albert_backward(self, dseq, dpooled, grads):
        """Backward through pooler, encoder and embeddings. dseq: [N, H] or None, dpooled: [B, H] or None."""
        xp, bk, cfg, pre, tape = self.xp, self.backend, self.config, self.prefix, self._tape
        batch = tape["batch"]
        B, S, H = batch.batch, batch.seq, cfg.hidden_size
        dh = self.backend.zeros((B * S, H), self._xp_dtype) if dseq is None else dseq
        if dpooled is not None and tape["pool"] is not None:
            lin_cache, tanh_cache = tape["pool"]
            dz = ops.tanh_backward(xp, bk, dpooled, tanh_cache)
            dfirst, dw, db = ops.linear_backward(xp, bk, dz, lin_cache)
            _accumulate(grads, pre + "pooler.weight", dw)
            _accumulate(grads, pre + "pooler.bias", db)
            dh = xp.reshape(dh, (B, S, H))
            dh = xp.concat((xp.reshape(dh[:, 0, :] + dfirst, (B, 1, H)), dh[:, 1:, :]), axis=1)  # only token 0 feeds the pooler
            dh = xp.reshape(dh, (B * S, H))
        act_backward = self._act[1]
        for lp, cache in reversed(tape["layers"]):
            dh = albert_layer_backward(xp, bk, lp, dh, cache, act_backward, cfg, grads)
        enc = pre + "encoder."
        de, dw, db = ops.linear_backward(xp, bk, dh, tape["map"])
        _accumulate(grads, enc + "embedding_hidden_mapping_in.weight", dw)
        _accumulate(grads, enc + "embedding_hidden_mapping_in.bias", db)
        return embeddings_backward(xp, bk, pre + "embeddings.", cfg, de, tape["emb"], grads)

    def backward(self, grad_outputs: dict | None = None) -> dict:
        """Gradients of the last forward's loss (or of sum(output * grad_outputs[name])) for every weight.

        Returns {checkpoint key: gradient}; a weight shared by several layers, or tied between the embeddings
        and the MLM decoder, gets the sum of its uses. With inputs_embeds in the forward, "inputs_embeds" holds
        d/d inputs_embeds too.
        """
        if self._tape is None:
            raise RuntimeError(
                "backward() needs a forward pass first, run with requires_grad=True (the default): "
                "call the model on a batch, then backward()"
            )
        if grad_outputs is None:
            if self._tape.get("loss") is None:
                raise RuntimeError(
                    f"the last forward computed no loss; pass labels to {type(self).__name__} or give "
                    f"backward() the gradients of its outputs, e.g. backward({{'{self.output_names[0]}': g}})"
                )
            douts = self._loss_grads()
        else:
            douts = self._check_grad_outputs(grad_outputs)
        grads = {}
        dseq, dpooled = self._head_backward(douts, grads)
        dembeds = self._albert_backward(dseq, dpooled, grads)
        out = {k: grads[k] if k in grads else self.xp.zeros_like(v) for k, v in self.params.items()}
        if dembeds is not None:
            out["inputs_embeds"] = self.xp.reshape(dembeds, self._tape["embeds_shape"])
        return out

    def _check_grad_outputs(self, grad_outputs):
        shapes = self._tape["output_shapes"]
        douts = {}
        for name, g in grad_outputs.items():
            if name not in shapes:
                raise ValueError(f"{type(self).__name__} has no differentiable output {name!r}; it has {sorted(shapes)}")
            arr = g if self.backend.is_array(g) else self.backend.asarray(to_host(self.backend, g, name))
            if tuple(arr.shape) != tuple(shapes[name]):
                raise ValueError(f"the gradient for {name!r} has shape {tuple(arr.shape)}, but {name} has shape {tuple(shapes[name])}")
            douts[name] = self.xp.astype(arr, self._xp_dtype)
        return douts

    def _finish_tape(self, batch, inputs_embeds, outputs: dict, **entries):
        """Remember the output shapes and the head/loss caches for backward()."""
        if self._tape is None:
            return
        self._tape["output_shapes"] = {k: tuple(v.shape) for k, v in outputs.items() if v is not None}
        self._tape["embeds_shape"] = (None if inputs_embeds is None
                                      else (*batch.lead_shape, batch.seq, self.config.embedding_size))
        self._tape.update(entries)

    def _token_loss(self, logits, labels, batch, num_classes):
        """CE over every token whose label is not -100 (MLM and token classification); (None, None) without labels."""
        if labels is None:
            return None, None
        y = prepare_labels(self.backend, labels, "labels", (batch.batch * batch.seq,), "class", num_classes)
        return losses.cross_entropy_forward(self.xp, logits, y)

    def _loss_grads(self):
        """d loss / d logits for the heads whose loss is one cross-entropy over `logits`."""
        return {"logits": losses.cross_entropy_backward(self.xp, 1.0, self._tape["loss"])}

    def _zeros_or(self, d, shape):
        return d if d is not None else self.backend.zeros(shape, self._xp_dtype)


def _shape_hint(key):
    if "word_embeddings" in key or key.endswith("predictions.bias"):
        return "vocab_size or embedding_size in config.json does not match the checkpoint"
    if "position_embeddings" in key:
        return "max_position_embeddings in config.json does not match the checkpoint"
    if "token_type" in key:
        return "type_vocab_size in config.json does not match the checkpoint"
    if key.startswith(("classifier", "qa_outputs", "sop_classifier")):
        return "num_labels differs from the checkpoint's head: pass num_labels=... matching the file, or delete the head weights to re-initialise them"
    if "ffn" in key:
        return "intermediate_size or hidden_size in config.json does not match the checkpoint"
    return "hidden_size / embedding_size in config.json do not match the checkpoint"


# ---- heads ---------------------------------------------------------------------------------------------


def mlm_head_forward(xp, bk, p, cfg, act_forward, seq, decoder_weight):
    # [N, H] -> [N, V]: dense H->E, activation, LayerNorm, then the decoder tied to the word embeddings
    h, dense_cache = ops.linear_forward(xp, bk, seq, p["predictions.dense.weight"], p["predictions.dense.bias"])
    h, act_cache = act_forward(xp, bk, h)
    h, ln_cache = ops.layernorm_forward(xp, bk, h, p["predictions.LayerNorm.weight"], p["predictions.LayerNorm.bias"], cfg.layer_norm_eps)
    logits, dec_cache = ops.linear_forward(xp, bk, h, p[decoder_weight], p["predictions.bias"])
    return logits, (dense_cache, act_cache, ln_cache, dec_cache)


def mlm_head_backward(xp, bk, dlogits, cache, act_backward, decoder_weight, grads):
    dense_cache, act_cache, ln_cache, dec_cache = cache
    dh, dw, db = ops.linear_backward(xp, bk, dlogits, dec_cache)
    _accumulate(grads, decoder_weight, dw)                     # the tied decoder adds to the word-embedding gradient
    _accumulate(grads, "predictions.bias", db)
    dh, dw, db = ops.layernorm_backward(xp, bk, dh, ln_cache)
    _accumulate(grads, "predictions.LayerNorm.weight", dw)
    _accumulate(grads, "predictions.LayerNorm.bias", db)
    dh = act_backward(xp, bk, dh, act_cache)
    dseq, dw, db = ops.linear_backward(xp, bk, dh, dense_cache)
    _accumulate(grads, "predictions.dense.weight", dw)
    _accumulate(grads, "predictions.dense.bias", db)
    return dseq


def classifier_forward(xp, bk, p, name, x, p_drop, training):
    # [M, H] -> [M, num_labels]: dropout, then a linear layer
    x, keep = ops.dropout_forward(xp, bk, x, p_drop, training)
    logits, cache = ops.linear_forward(xp, bk, x, p[name + ".weight"], p[name + ".bias"])
    return logits, (keep, cache)


def classifier_backward(xp, bk, dlogits, cache, name, grads):
    keep, lin_cache = cache
    dx, dw, db = ops.linear_backward(xp, bk, dlogits, lin_cache)
    _accumulate(grads, name + ".weight", dw)
    _accumulate(grads, name + ".bias", db)
    return ops.dropout_backward(xp, dx, keep)


class AlbertModel(AlbertPreTrainedModel):
    """The bare encoder: `last_hidden_state` [B, S, H] and `pooler_output` [B, H]."""

    output_names = ("last_hidden_state", "pooler_output")

    def __init__(self, config, dtype="float32", backend="numpy", seed=None, params=None, add_pooling_layer=True):
        self.add_pooling_layer = add_pooling_layer
        super().__init__(config, dtype=dtype, backend=backend, seed=seed, params=params)

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None,
                inputs_embeds=None, output_hidden_states=None, output_attentions=None):
        batch = self._prepare(input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds)
        seq, pooled, hs, att = self._run_albert(batch, output_hidden_states, output_attentions)
        last = self.xp.reshape(seq, (batch.batch, batch.seq, self.config.hidden_size))
        self._finish_tape(batch, inputs_embeds, {"last_hidden_state": last, "pooler_output": pooled}, loss=None)
        return BaseModelOutputWithPooling(last_hidden_state=last, pooler_output=pooled, hidden_states=hs, attentions=att)

    def _head_backward(self, douts, grads):
        d = douts.get("last_hidden_state")
        dseq = None if d is None else self.xp.reshape(d, (-1, self.config.hidden_size))
        return dseq, douts.get("pooler_output")


class AlbertForPreTraining(AlbertPreTrainedModel):
    """MLM head (`prediction_logits`) and sentence-order head (`sop_logits`); loss = MLM CE + SOP CE."""

    output_names = ("prediction_logits", "sop_logits")

    def head_shapes(self):
        return {**mlm_head_shapes(self.config), **linear_shapes("sop_classifier.classifier", self.config.num_labels, self.config.hidden_size)}

    def _check_head_config(self):
        _require_tied(self.config)

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None,
                inputs_embeds=None, labels=None, sentence_order_label=None, output_hidden_states=None,
                output_attentions=None):
        xp, cfg = self.xp, self.config
        batch = self._prepare(input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds)
        seq, pooled, hs, att = self._run_albert(batch, output_hidden_states, output_attentions)
        word = self.prefix + "embeddings.word_embeddings.weight"
        logits, mlm_cache = mlm_head_forward(xp, self.backend, self.params, cfg, self._act[0], seq, word)
        sop, sop_cache = classifier_forward(xp, self.backend, self.params, "sop_classifier.classifier", pooled,
                                            cfg.classifier_dropout_prob, self.training)
        loss = loss_cache = None
        if labels is not None and sentence_order_label is not None:
            if cfg.num_labels != 2:
                raise ValueError(f"sentence-order prediction has 2 classes but config.num_labels is {cfg.num_labels}")
            y = prepare_labels(self.backend, labels, "labels", (batch.batch * batch.seq,), "class", cfg.vocab_size)
            s = prepare_labels(self.backend, sentence_order_label, "sentence_order_label", (batch.batch,), "class", 2)
            mlm_loss, mlm_loss_cache = losses.cross_entropy_forward(xp, logits, y)
            sop_loss, sop_loss_cache = losses.cross_entropy_forward(xp, sop, s)
            loss, loss_cache = mlm_loss + sop_loss, (mlm_loss_cache, sop_loss_cache)
        prediction_logits = xp.reshape(logits, (batch.batch, batch.seq, cfg.vocab_size))
        self._finish_tape(batch, inputs_embeds, {"prediction_logits": prediction_logits, "sop_logits": sop},
                          loss=loss_cache, mlm=mlm_cache, sop=sop_cache)
        return AlbertForPreTrainingOutput(loss=loss, prediction_logits=prediction_logits, sop_logits=sop,
                                          hidden_states=hs, attentions=att)

    def _loss_grads(self):
        mlm_loss_cache, sop_loss_cache = self._tape["loss"]
        return {"prediction_logits": losses.cross_entropy_backward(self.xp, 1.0, mlm_loss_cache),
                "sop_logits": losses.cross_entropy_backward(self.xp, 1.0, sop_loss_cache)}

    def _head_backward(self, douts, grads):
        xp, cfg = self.xp, self.config
        dseq = dpooled = None
        if "prediction_logits" in douts:
            dlogits = xp.reshape(douts["prediction_logits"], (-1, cfg.vocab_size))
            dseq = mlm_head_backward(xp, self.backend, dlogits, self._tape["mlm"], self._act[1],
                                     self.prefix + "embeddings.word_embeddings.weight", grads)
        if "sop_logits" in douts:
            dpooled = classifier_backward(xp, self.backend, douts["sop_logits"], self._tape["sop"], "sop_classifier.classifier", grads)
        return dseq, dpooled


class AlbertForMaskedLM(AlbertPreTrainedModel):
    """Masked-language-model logits [B, S, V]; loss = CE over positions whose label is not -100."""

    add_pooling_layer = False
    output_names = ("logits",)

    def head_shapes(self):
        return mlm_head_shapes(self.config)

    def _check_head_config(self):
        _require_tied(self.config)

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None,
                inputs_embeds=None, labels=None, output_hidden_states=None, output_attentions=None):
        xp, cfg = self.xp, self.config
        batch = self._prepare(input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds)
        seq, _, hs, att = self._run_albert(batch, output_hidden_states, output_attentions)
        word = self.prefix + "embeddings.word_embeddings.weight"
        logits, mlm_cache = mlm_head_forward(xp, self.backend, self.params, cfg, self._act[0], seq, word)
        loss, loss_cache = self._token_loss(logits, labels, batch, cfg.vocab_size)
        logits = xp.reshape(logits, (batch.batch, batch.seq, cfg.vocab_size))
        self._finish_tape(batch, inputs_embeds, {"logits": logits}, loss=loss_cache, mlm=mlm_cache)
        return MaskedLMOutput(loss=loss, logits=logits, hidden_states=hs, attentions=att)

    def _head_backward(self, douts, grads):
        dlogits = self.xp.reshape(douts["logits"], (-1, self.config.vocab_size))
        dseq = mlm_head_backward(self.xp, self.backend, dlogits, self._tape["mlm"], self._act[1],
                                 self.prefix + "embeddings.word_embeddings.weight", grads)
        return dseq, None


class AlbertForSequenceClassification(AlbertPreTrainedModel):
    """Logits [B, num_labels] from the pooled [CLS] vector; MSE, CE or BCE-with-logits chosen like transformers."""

    output_names = ("logits",)

    def head_shapes(self):
        return linear_shapes("classifier", self.config.num_labels, self.config.hidden_size)

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None,
                inputs_embeds=None, labels=None, output_hidden_states=None, output_attentions=None):
        xp, cfg = self.xp, self.config
        batch = self._prepare(input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds)
        _, pooled, hs, att = self._run_albert(batch, output_hidden_states, output_attentions)
        logits, head_cache = classifier_forward(xp, self.backend, self.params, "classifier", pooled,
                                                cfg.classifier_dropout_prob, self.training)
        loss = loss_cache = None
        if labels is not None:
            loss, loss_cache = self._loss(logits, labels, batch.batch)
        self._finish_tape(batch, inputs_embeds, {"logits": logits}, loss=loss_cache, head=head_cache)
        return SequenceClassifierOutput(loss=loss, logits=logits, hidden_states=hs, attentions=att)

    def _loss(self, logits, labels, B):
        """transformers' rule: 1 label -> regression; int labels -> single-label; else multi-label (it sets config.problem_type)."""
        xp, cfg, n = self.xp, self.config, self.config.num_labels
        host = to_host(self.backend, labels, "labels")
        if cfg.problem_type is None:
            if n == 1:
                cfg.problem_type = "regression"
            elif host.dtype.kind == "i" and host.dtype.itemsize in (4, 8):
                cfg.problem_type = "single_label_classification"  # torch.long or torch.int labels
            else:
                cfg.problem_type = "multi_label_classification"
        if cfg.problem_type == "regression":
            y = prepare_labels(self.backend, host, "labels", (B, n), "float", dtype=self.dtype)
            loss, cache = losses.mse_forward(xp, logits, y)
            return loss, ("mse", cache)
        if cfg.problem_type == "single_label_classification":
            y = prepare_labels(self.backend, host, "labels", (B,), "class", n)
            loss, cache = losses.cross_entropy_forward(xp, logits, y)
            return loss, ("ce", cache)
        y = prepare_labels(self.backend, host, "labels", (B, n), "float", dtype=self.dtype)
        loss, cache = losses.bce_with_logits_forward(xp, logits, y)
        return loss, ("bce", cache)

    def _loss_grads(self):
        kind, cache = self._tape["loss"]
        backward = {"mse": losses.mse_backward, "ce": losses.cross_entropy_backward, "bce": losses.bce_with_logits_backward}[kind]
        return {"logits": backward(self.xp, 1.0, cache)}

    def _head_backward(self, douts, grads):
        return None, classifier_backward(self.xp, self.backend, douts["logits"], self._tape["head"], "classifier", grads)


class AlbertForMultipleChoice(AlbertPreTrainedModel):
    """Inputs [B, C, S]; one score per choice from the pooled vector, logits [B, C]; loss = CE over choices."""

    output_names = ("logits",)

    def head_shapes(self):
        return linear_shapes("classifier", 1, self.config.hidden_size)

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None,
                inputs_embeds=None, labels=None, output_hidden_states=None, output_attentions=None):
        xp, cfg = self.xp, self.config
        batch = self._prepare(input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds, ndim=3)
        B, C = batch.lead_shape
        _, pooled, hs, att = self._run_albert(batch, output_hidden_states, output_attentions)   # pooled [B*C, H]
        scores, head_cache = classifier_forward(xp, self.backend, self.params, "classifier", pooled,
                                                cfg.classifier_dropout_prob, self.training)
        logits = xp.reshape(scores, (B, C))
        loss = loss_cache = None
        if labels is not None:
            y = prepare_labels(self.backend, labels, "labels", (B,), "class", C)
            loss, loss_cache = losses.cross_entropy_forward(xp, logits, y)
        self._finish_tape(batch, inputs_embeds, {"logits": logits}, loss=loss_cache, head=head_cache)
        return MultipleChoiceModelOutput(loss=loss, logits=logits, hidden_states=hs, attentions=att)

    def _head_backward(self, douts, grads):
        dscores = self.xp.reshape(douts["logits"], (-1, 1))
        return None, classifier_backward(self.xp, self.backend, dscores, self._tape["head"], "classifier", grads)


class AlbertForTokenClassification(AlbertPreTrainedModel):
    """Logits [B, S, num_labels] for every token; loss = CE over tokens whose label is not -100."""

    add_pooling_layer = False
    output_names = ("logits",)

    def head_shapes(self):
        return linear_shapes("classifier", self.config.num_labels, self.config.hidden_size)

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None,
                inputs_embeds=None, labels=None, output_hidden_states=None, output_attentions=None):
        xp, cfg = self.xp, self.config
        batch = self._prepare(input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds)
        seq, _, hs, att = self._run_albert(batch, output_hidden_states, output_attentions)
        p_drop = cfg.classifier_dropout_prob if cfg.classifier_dropout_prob is not None else cfg.hidden_dropout_prob
        logits, head_cache = classifier_forward(xp, self.backend, self.params, "classifier", seq, p_drop, self.training)
        loss, loss_cache = self._token_loss(logits, labels, batch, cfg.num_labels)
        logits = xp.reshape(logits, (batch.batch, batch.seq, cfg.num_labels))
        self._finish_tape(batch, inputs_embeds, {"logits": logits}, loss=loss_cache, head=head_cache)
        return TokenClassifierOutput(loss=loss, logits=logits, hidden_states=hs, attentions=att)

    def _head_backward(self, douts, grads):
        dlogits = self.xp.reshape(douts["logits"], (-1, self.config.num_labels))
        return classifier_backward(self.xp, self.backend, dlogits, self._tape["head"], "classifier", grads), None


class AlbertForQuestionAnswering(AlbertPreTrainedModel):
    """Span scores `start_logits`/`end_logits` [B, S]; loss = mean of the two CEs, positions past the sequence ignored."""

    add_pooling_layer = False
    output_names = ("start_logits", "end_logits")

    def head_shapes(self):
        return linear_shapes("qa_outputs", self.config.num_labels, self.config.hidden_size)

    def _check_head_config(self):
        if self.config.num_labels != 2:
            raise ValueError(f"AlbertForQuestionAnswering needs num_labels=2 (start and end scores), got {self.config.num_labels}")

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None,
                inputs_embeds=None, start_positions=None, end_positions=None, output_hidden_states=None,
                output_attentions=None):
        xp = self.xp
        batch = self._prepare(input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds)
        B, S = batch.batch, batch.seq
        seq, _, hs, att = self._run_albert(batch, output_hidden_states, output_attentions)
        logits, head_cache = ops.linear_forward(xp, self.backend, seq, self.params["qa_outputs.weight"],
                                                self.params["qa_outputs.bias"])
        start, end = xp.reshape(logits[:, 0], (B, S)), xp.reshape(logits[:, 1], (B, S))
        loss = loss_cache = None
        if start_positions is not None and end_positions is not None:
            # Positions outside the input are clamped to S and then ignored, as in transformers.
            s = xp.clip(prepare_labels(self.backend, start_positions, "start_positions", (B,), "position"), 0, S)
            e = xp.clip(prepare_labels(self.backend, end_positions, "end_positions", (B,), "position"), 0, S)
            start_loss, start_cache = losses.cross_entropy_forward(xp, start, s, ignore_index=S)
            end_loss, end_cache = losses.cross_entropy_forward(xp, end, e, ignore_index=S)
            loss, loss_cache = (start_loss + end_loss) / 2, (start_cache, end_cache)
        self._finish_tape(batch, inputs_embeds, {"start_logits": start, "end_logits": end}, loss=loss_cache, head=head_cache)
        return QuestionAnsweringModelOutput(loss=loss, start_logits=start, end_logits=end, hidden_states=hs, attentions=att)

    def _loss_grads(self):
        start_cache, end_cache = self._tape["loss"]
        return {"start_logits": losses.cross_entropy_backward(self.xp, 0.5, start_cache),
                "end_logits": losses.cross_entropy_backward(self.xp, 0.5, end_cache)}

    def _head_backward(self, douts, grads):
        xp = self.xp
        B, S = self._tape["batch"].batch, self._tape["batch"].seq
        ds = self._zeros_or(douts.get("start_logits"), (B, S))
        de = self._zeros_or(douts.get("end_logits"), (B, S))
        dlogits = xp.stack((xp.reshape(ds, (-1,)), xp.reshape(de, (-1,))), axis=1)   # [N, 2]
        dseq, dw, db = ops.linear_backward(xp, self.backend, dlogits, self._tape["head"])
        _accumulate(grads, "qa_outputs.weight", dw)
        _accumulate(grads, "qa_outputs.bias", db)
        return dseq, None


def _require_tied(cfg):
    if not cfg.tie_word_embeddings:
        raise ValueError(
            "albert_np ties the MLM decoder to the word embeddings (tie_word_embeddings=True, as every published "
            "ALBERT checkpoint does); this config sets tie_word_embeddings=False"
        )


ALL_MODEL_CLASSES = (
    AlbertModel,
    AlbertForPreTraining,
    AlbertForMaskedLM,
    AlbertForSequenceClassification,
    AlbertForMultipleChoice,
    AlbertForTokenClassification,
    AlbertForQuestionAnswering,
)
