"""AlbertPreTrainedModel: what the seven model classes (modeling.py) share: weights, loading, the tape, backward().

Every parameter is a plain array in `model.params`, keyed by the name it has in a checkpoint. A forward leaves a `Tape` (the named caches of every stage) for `backward()`, one per model and thread, so two
threads training one model each differentiate their own forward. Under `albert_np.no_grad()` no tape is kept.
With `output_trace=True` the output's `trace` holds every intermediate by transformers' module path, and after
`backward()` `model.trace_grads` holds the loss's gradient with respect to each (docs/trace.md).
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import MutableMapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Callable

from . import layers, losses, ops
from .backend import get_backend
from .checkpoint import (
    albert_param_shapes, load_weights, normalize_keys, read_checkpoint_dir, write_model_dir,
    write_model_files,
)
from .config import AlbertConfig
from .grad_mode import is_grad_enabled
from .inputs import Batch, prepare_batch, prepare_labels, to_host

_LOADING_KEYWORDS = ("dtype", "backend", "seed")


@dataclass
class LossTerm:
    """One term of the loss: backward turns d loss / d term into d loss / d output."""
    output: str              # the output it differentiates: "logits", "sop_logits", "start_logits", ...
    backward: Callable       # losses.*_backward(bk, dloss, cache)
    weight: float            # d loss / d term: 1.0, or 0.5 for the mean of question answering's two CEs
    cache: object            # the loss's cache record


@dataclass
class Tape:
    """What one forward leaves for backward() (one per model and thread), llm.c's ActivationTensors in spirit."""
    model: str                          # the class that ran the forward ("AlbertModel" for model.albert)
    prefix: str                         # its weight-name prefix ("albert." in a head model, "" in AlbertModel)
    batch: Batch
    embeddings: layers.EmbeddingsCache
    encoder: layers.EncoderCache
    pooler: layers.PoolerCache | None   # None without a pooling layer
    head: object = None                 # the head's cache record (heads.py), None for AlbertModel
    loss: list | None = None            # a LossTerm per differentiable output the loss reaches; None without labels
    output_shapes: dict | None = None   # differentiable output name -> shape
    embeds_shape: tuple | None = None   # inputs_embeds' shape when they were given (backward returns their gradient)
    trace_names: list | None = None     # the forward's trace names (output_trace=True): backward fills model.trace_grads


class PrefixedParams(MutableMapping):
    """The weights of `parent` whose names start with `prefix`, under their names without it (model.albert's view)."""

    def __init__(self, parent: dict, prefix: str):
        self._parent, self._prefix = parent, prefix

    def __getitem__(self, key):
        return self._parent[self._prefix + key]

    def __setitem__(self, key, value):
        self._parent[self._prefix + key] = value

    def __delitem__(self, key):
        del self._parent[self._prefix + key]

    def __iter__(self):
        n = len(self._prefix)
        return (k[n:] for k in list(self._parent) if k.startswith(self._prefix))

    def __len__(self):
        return sum(1 for _ in self)


class AlbertPreTrainedModel:
    """What every ALBERT class shares: weights, loading/saving, the encoder forward and its backward."""

    base_model_prefix = "albert"
    is_base_model = False        # True for AlbertModel, whose weight names have no "albert." prefix
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
        self.prefix = "" if self.is_base_model else self.base_model_prefix + "."
        self._shared = SimpleNamespace(training=False, keep_tape=True)   # shared with model.albert
        self._local = threading.local()                                   # this thread's tape; shared with model.albert
        self._albert = None
        self.activation = ops.get_activation(config.hidden_act)
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
        """The encoder as one AlbertModel sharing this model's arrays, train/eval mode and per-thread tape.

        As transformers' `model.albert`. After `model(...)`, `model.albert.backward({"last_hidden_state": g})`
        differentiates the encoder part of that forward; a forward of `model.albert` replaces the tape of both.
        """
        if not self.prefix:
            return self
        if self._albert is None:
            from .modeling import AlbertModel

            view = AlbertModel(self.config, dtype=self.dtype, backend=self.backend,
                               params=PrefixedParams(self.params, self.prefix), add_pooling_layer=self.add_pooling_layer)
            view._shared, view._local = self._shared, self._local
            self._albert = view
        return self._albert

    def num_parameters(self) -> int:
        n = 0
        for shape in self.param_shapes().values():
            size = 1
            for s in shape:
                size *= s
            n += size
        return n

    @property
    def training(self) -> bool:
        return self._shared.training

    def train(self, mode: bool = True):
        """Dropout on (training) or off (evaluation, the default), as `torch.nn.Module.train()`."""
        self._shared.training = bool(mode)
        return self

    def eval(self):
        return self.train(False)

    @property
    def requires_grad(self) -> bool:
        """Whether a forward on this thread now keeps a tape: False under no_grad() or after the deprecated
        requires_grad_(False)."""
        return self._shared.keep_tape and is_grad_enabled()

    def requires_grad_(self, flag: bool = True):
        """Deprecated: use `with albert_np.no_grad():`. requires_grad_(False) makes every forward keep no tape.

        In torch, requires_grad_(False) freezes the weights instead; this old meaning is kept only so existing
        code runs, with a DeprecationWarning.
        """
        warnings.warn("model.requires_grad_(False) is deprecated: it does not freeze weights as in torch, it only "
                      "stops forwards from keeping a tape; use `with albert_np.no_grad(): model(...)` instead",
                      DeprecationWarning, stacklevel=2)
        self._shared.keep_tape = bool(flag)
        return self

    # ---- loading and saving ----

    @classmethod
    def from_pretrained(cls, path, *args, **kwargs):
        """Load `path/config.json` and `path/model.safetensors` (or its shards) as transformers' from_pretrained does.

        Keywords: dtype ("float32" or "float64"), backend, seed, and config fields to override (e.g.
        num_labels=3); any other keyword is a TypeError, as in transformers. A checkpoint of another head works:
        unused head weights are listed in a warning, missing head weights (and a missing pooler) are initialised
        with N(0, initializer_range) and listed in a warning, while missing or misshapen encoder weights are an error.
        """
        if args:
            raise TypeError(f"{cls.__name__}.from_pretrained() takes the folder as its only positional argument; "
                            f"pass the rest by keyword (dtype=..., backend=..., seed=...), got {len(args)} more")
        loading = {k: kwargs.pop(k) for k in _LOADING_KEYWORDS if k in kwargs}
        _check_config_keywords(cls.__name__, path, kwargs)
        config = AlbertConfig.from_pretrained(path, **kwargs)
        model = cls(config, **loading)
        model.load_state_dict(read_checkpoint_dir(path), source=os.fspath(path))
        return model

    def load_state_dict(self, tensors: dict, source="the state dict"):
        """Copy host arrays (checkpoint key -> array) into the model, checking names and shapes (checkpoint.py)."""
        def convert(key, array):
            host = to_host(self.backend, array, key)
            return self.backend.asarray(host.astype(self.dtype), dtype=self._xp_dtype)

        required = set(albert_param_shapes(self.config, self.prefix, add_pooling_layer=False))
        load_weights(self.params, normalize_keys(tensors, self.prefix), self.param_shapes(), required, convert,
                     source, self.config, type(self).__name__)

    def save_pretrained(self, path):
        """Write config.json and model.safetensors into folder `path` (transformers' layout; tied decoder weights
        left out) as one commit: other files there are left alone, and a failed save leaves the old pair whole."""
        write_model_dir(path, *self._files_to_save())

    def write_pretrained_files(self, folder):
        """save_pretrained's two files written into the existing `folder` without a commit of their own: for the
        staging folder of a bigger commit (train.save_checkpoint adds the tokenizer and the trainer state)."""
        write_model_files(folder, *self._files_to_save())

    def _files_to_save(self):
        self.config.architectures = [type(self).__name__]
        self.config._extra["dtype"] = self.dtype
        return {k: self.backend.to_numpy(v) for k, v in self.params.items()}, self.config

    # ---- running ----

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    @property
    def _tape(self) -> Tape | None:
        return getattr(self._local, "tape", None)

    def _prepare(self, input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds, ndim=2):
        self._local.tape = None                       # a failed forward leaves nothing stale to differentiate
        return prepare_batch(self.backend, self.config, self.dtype, input_ids, attention_mask, token_type_ids,
                             position_ids, inputs_embeds, ndim=ndim)

    def _run_albert(self, batch, output_hidden_states, output_attentions, trace):
        """Embeddings, encoder and (if present) pooler; starts this thread's tape. Returns (seq [N, H], pooled, hs, att)."""
        bk, p, cfg, pre = self.backend, self.params, self.config, self.prefix
        if output_hidden_states is None:
            output_hidden_states = cfg.output_hidden_states
        if output_attentions is None:
            output_attentions = cfg.output_attentions
        save = is_grad_enabled() and self._shared.keep_tape
        self._local.no_tape_reason = None if save else ("no_grad" if not is_grad_enabled() else "requires_grad")
        e, emb_cache = layers.embeddings_forward(bk, p, pre + "embeddings.", cfg, batch, self.training, trace)
        h, hs, att, enc_cache = layers.encoder_forward(bk, p, pre, e, batch, cfg, self.activation, self.training, save,
                                                       output_hidden_states, output_attentions, trace)
        pooled = pool_cache = None
        if self.add_pooling_layer:
            pooled, pool_cache = layers.pooler_forward(bk, p, pre, h, batch, trace)
        self._local.pending = Tape(type(self).__name__, pre, batch, emb_cache, enc_cache, pool_cache) if save else None
        return h, pooled, hs, att

    def _finish(self, output_cls, batch, inputs_embeds, trace, head=None, loss=None, loss_terms=None, **outputs):
        """Keep the tape (when grads are on) with the head's caches, and build the output record."""
        tape, self._local.pending = self._local.pending, None
        if loss is not None:
            outputs["loss"] = loss
        if trace is not None:
            outputs["trace"] = trace
        if tape is not None:
            tape.head, tape.loss = head, loss_terms
            tape.output_shapes = {k: tuple(v.shape) for k, v in outputs.items() if k in self.output_names and v is not None}
            tape.embeds_shape = (None if inputs_embeds is None
                                 else (*batch.lead_shape, batch.seq_len, self.config.embedding_size))
            tape.trace_names = None if trace is None else list(trace)
            self._local.tape = tape
        return output_cls(**outputs)

    def backward(self, grad_outputs: dict | None = None) -> dict:
        """Gradients of this thread's last forward's loss (or of sum(output * grad_outputs[name])) for every weight.

        Returns {checkpoint key: gradient}; a weight shared by several layers, or tied between the embeddings
        and the MLM decoder, gets the sum of its uses. With inputs_embeds in the forward, "inputs_embeds" holds
        d/d inputs_embeds too. After a forward with output_trace=True, `model.trace_grads` holds d loss / d each
        traced tensor.
        """
        tape = self._tape
        if tape is None:
            raise RuntimeError(self._no_tape_message())
        if tape.model != type(self).__name__ and not self.is_base_model:
            raise RuntimeError(f"this thread's last forward was {tape.model}'s (model.albert), not "
                               f"{type(self).__name__}'s: call the model itself, then backward()")
        if grad_outputs is None:
            if tape.loss is None or tape.model != type(self).__name__:
                raise RuntimeError(
                    f"the last forward computed no loss; pass labels to {type(self).__name__} or give "
                    f"backward() the gradients of its outputs, e.g. backward({{'{self.output_names[0]}': g}})"
                )
            douts = {t.output: t.backward(self.backend, t.weight, t.cache) for t in tape.loss}
        else:
            douts = self._check_grad_outputs(grad_outputs, tape)
        grads, trace_grad = {}, ({} if tape.trace_names is not None else None)
        dseq, dpooled = self._head_backward(douts, tape, grads, trace_grad)
        del douts                                # an MLM's [N, V] logit gradients: freed before the encoder's backward
        dembeds = self._albert_backward(tape, dseq, dpooled, grads, trace_grad)
        if tape.prefix != self.prefix:           # model.albert differentiating its parent's forward
            n = len(tape.prefix)
            grads = {self.prefix + k[n:]: v for k, v in grads.items() if k.startswith(tape.prefix)}
        out = {k: grads[k] if k in grads else self.xp.zeros_like(v) for k, v in self.params.items()}
        if dembeds is not None:
            out["inputs_embeds"] = self.xp.reshape(dembeds, tape.embeds_shape)
        if trace_grad is not None:
            self._local.trace_grads = {k: trace_grad[k] for k in tape.trace_names if k in trace_grad}  # forward order
        return out

    @property
    def trace_grads(self) -> dict:
        """{trace name: d loss / d that tensor} from this thread's last backward() of a forward with output_trace=True."""
        tg = getattr(self._local, "trace_grads", None)
        if tg is None:
            raise RuntimeError("no traced backward on this thread yet: run the model with output_trace=True, then "
                               "backward(); model.trace_grads then holds the gradient of every traced tensor")
        return tg

    def _no_tape_message(self):
        reason = getattr(self._local, "no_tape_reason", None)
        if reason == "no_grad":
            return ("backward() has no tape: this thread's last forward ran under albert_np.no_grad(), which keeps "
                    "no caches; run the forward outside no_grad(), then backward()")
        if reason == "requires_grad":
            return ("backward() has no tape: the model was set to requires_grad=False (deprecated), so its forwards "
                    "keep no caches; call requires_grad_(True) or use no_grad() only for inference")
        return ("backward() needs a forward pass first on this thread (each thread has its own tape): "
                "call the model on a batch, then backward()")

    def _albert_backward(self, tape, dseq, dpooled, grads, trace_grad):
        """Backward through pooler, encoder and embeddings. dseq: [N, H] or None, dpooled: [B, H] or None."""
        bk, pre, batch = self.backend, tape.prefix, tape.batch
        if dpooled is not None and tape.pooler is not None:
            dseq = layers.pooler_backward(bk, pre, dpooled, dseq, tape.pooler, grads, trace_grad)
        if dseq is None:
            dseq = bk.zeros((batch.batch_size * batch.seq_len, self.config.hidden_size), self._xp_dtype)
        de = layers.encoder_backward(bk, pre, dseq, tape.encoder, self.activation, self.config, grads, trace_grad)
        return layers.embeddings_backward(bk, pre + "embeddings.", de, tape.embeddings, grads, trace_grad)

    def _output_shapes(self, tape):
        return tape.output_shapes

    def _check_grad_outputs(self, grad_outputs, tape):
        shapes = self._output_shapes(tape)
        douts = {}
        for name, g in grad_outputs.items():
            if name not in shapes:
                raise ValueError(f"{type(self).__name__} has no differentiable output {name!r}; it has {sorted(shapes)}")
            arr = g if self.backend.is_array(g) else self.backend.asarray(to_host(self.backend, g, name))
            if tuple(arr.shape) != tuple(shapes[name]):
                raise ValueError(f"the gradient for {name!r} has shape {tuple(arr.shape)}, but {name} has shape {tuple(shapes[name])}")
            douts[name] = self.xp.astype(arr, self._xp_dtype)
        return douts

    def _token_loss(self, logits, labels, batch, num_classes, output):
        """CE over every token whose label is not -100 (MLM and token classification); (None, None) without labels."""
        if labels is None:
            return None, None
        y = prepare_labels(self.backend, labels, "labels", (batch.batch_size * batch.seq_len,), "class", num_classes)
        loss, cache = losses.cross_entropy_forward(self.backend, logits, y)
        return loss, [LossTerm(output, losses.cross_entropy_backward, 1.0, cache)]


def _check_config_keywords(cls_name, path, overrides):
    """from_pretrained's extra keywords must be config fields (as in transformers), else a TypeError naming them."""
    if "torch_dtype" in overrides:
        raise TypeError(f"{cls_name}.from_pretrained() got torch_dtype={overrides['torch_dtype']!r}; albert_np "
                        "(like transformers 5) calls it dtype: pass dtype='float32' or dtype='float64'")
    known = set(AlbertConfig.from_pretrained(path).to_dict()) | {"num_labels", "id2label", "label2id"}
    unknown = sorted(k for k in overrides if k not in known)
    if unknown:
        raise TypeError(
            f"{cls_name}.from_pretrained() got an unexpected keyword argument {unknown[0]!r}; it accepts "
            f"{', '.join(_LOADING_KEYWORDS)} and config fields to override (e.g. num_labels=3, hidden_dropout_prob=0.0)"
        )
