"""AlbertPreTrainedModel: what the seven model classes (modeling.py) share: weights, loading, the tape, backward().

Every parameter is a plain array in `model.params`, keyed by the name it has in a checkpoint. A forward leaves a `Tape` (the named caches of every stage) for `backward()`, one per model and thread, so two
threads training one model each differentiate their own forward. Under `albert_np.no_grad()` no tape is kept.
With `output_trace=True` the output's `trace` holds every intermediate by transformers' module path, and after
`backward()` `model.trace_grads` holds the loss's gradient with respect to each (docs/trace.md).
"""

from __future__ import annotations

import math
import os
import threading
import types
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Callable, TypeVar

from . import layers, losses, ops
from ._types import Array, ArrayLike, PathLike
from .backend import Backend, get_backend
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
    backward: Callable       # losses.*_backward(bk, dloss, cache), or cross_entropy_row_gradient for an MLM
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


_Model = TypeVar("_Model", bound="AlbertPreTrainedModel")


class AlbertPreTrainedModel:
    """What every ALBERT class shares: weights, loading/saving, the encoder forward and its backward."""

    base_model_prefix = "albert"
    is_base_model = False        # True for AlbertModel, whose weight names have no "albert." prefix
    add_pooling_layer = True
    output_names: tuple = ()

    def __init__(self, config: AlbertConfig, dtype: str = "float32", backend: Any = "numpy",
                 seed: int | None = None, params: dict | None = None):
        if not isinstance(config, AlbertConfig):
            raise TypeError(f"{type(self).__name__} needs an AlbertConfig, got {type(config).__name__}")
        self.config = config
        self.backend = get_backend(backend, seed=seed)
        self.xp = self.backend.xp
        self.dtype = str(dtype)
        self._xp_dtype = self.backend.dtype(self.dtype)
        self.prefix = "" if self.is_base_model else self.base_model_prefix + "."
        self._shared = SimpleNamespace(training=False)   # shared with model.albert
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
    def albert(self) -> AlbertPreTrainedModel:
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

    def num_parameters(self, only_trainable: bool = False, exclude_embeddings: bool = False) -> int:
        """The number of weights, as transformers' num_parameters(): each shared or tied array once (the MLM
        decoder is the word-embedding table). exclude_embeddings=True leaves out the three embedding tables
        (word, position, token type), transformers' nn.Embedding weights. only_trainable changes nothing:
        albert_np has no way to freeze a weight (the optimizers update every array in model.params)."""
        _check_flag("num_parameters", "only_trainable", only_trainable)
        _check_flag("num_parameters", "exclude_embeddings", exclude_embeddings)
        return sum(math.prod(shape) for name, shape in self.param_shapes().items()
                   if not (exclude_embeddings and name.endswith(_EMBEDDING_TABLES)))

    def named_parameters(self, prefix: str = "", remove_duplicate: bool = True) -> Iterator[tuple[str, Any]]:
        """(checkpoint key, array) for every weight, in transformers' named_parameters() order, as torch's: an
        array shared under two names is given once (remove_duplicate=True); `prefix` is put before each name.
        The arrays are the live ones (as model.params), not copies."""
        seen = set()
        for name, array in self.params.items():
            if remove_duplicate:
                if id(array) in seen:
                    continue
                seen.add(id(array))
            yield (prefix + "." + name if prefix else name), array

    # ---- the word embeddings ----

    def get_input_embeddings(self) -> Array:
        """The word-embedding table [vocab_size, embedding_size]: the array itself, not a copy (albert_np has
        no nn.Module; transformers returns the nn.Embedding holding this table)."""
        return self.params[self.prefix + _WORD_EMBEDDINGS]

    def set_input_embeddings(self, value: ArrayLike) -> None:
        """Replace the word-embedding table by `value` (an array of any backend, or nested lists) of shape
        [vocab_size, embedding_size], converted to the model's backend and dtype. The MLM heads' decoder is
        tied to it, so it changes too. For another number of tokens use resize_token_embeddings()."""
        self._check_owns_weights("set_input_embeddings")
        key = self.prefix + _WORD_EMBEDDINGS
        host = to_host(self.backend, value, "set_input_embeddings(value)")
        want = tuple(self.params[key].shape)
        if host.shape != want:
            raise ValueError(
                f"set_input_embeddings(value) got shape {host.shape}, but the table is {want} (vocab_size "
                f"{want[0]}, embedding_size {want[1]}); for another vocabulary size call "
                f"resize_token_embeddings(new_num_tokens) first")
        self.params[key] = self.backend.asarray(host.astype(self.dtype), dtype=self._xp_dtype)
        self._drop_tapes()

    def get_output_embeddings(self) -> Array | None:
        """The MLM decoder's weight in AlbertForMaskedLM and AlbertForPreTraining: the word-embedding table
        itself (tied); None in the classes without a language-model head, as in transformers."""
        return self.get_input_embeddings() if _MLM_BIAS in self.params else None

    def resize_token_embeddings(self, new_num_tokens: int | None = None, pad_to_multiple_of: int | None = None,
                                mean_resizing: bool = True) -> Array:
        """Grow or shrink the vocabulary to `new_num_tokens` rows, as transformers' resize_token_embeddings.

        Rows are kept or cut at the end. New rows, as in transformers: mean_resizing=True (its default) draws
        them from a normal with the old rows' mean and 1e-9 times their covariance (just the mean when that is
        not positive definite); mean_resizing=False draws N(0, initializer_range), transformers' _init_weights.
        The draws come from the model's generator (its `seed`). The MLM decoder stays tied to the table and its
        bias (predictions.bias) grows with zeros. config.vocab_size is updated. pad_to_multiple_of rounds the
        size up; new_num_tokens=None with it pads the current size. Returns the new table
        (get_input_embeddings()). An optimizer built before holds the old table: build it after resizing.
        """
        if new_num_tokens is not None and (not _is_int(new_num_tokens) or new_num_tokens < 1):
            raise ValueError(f"resize_token_embeddings(new_num_tokens={new_num_tokens!r}): give a positive number "
                             "of tokens, e.g. len(tokenizer) after adding tokens to it")
        if pad_to_multiple_of is not None and (not _is_int(pad_to_multiple_of) or pad_to_multiple_of < 1):
            raise ValueError(f"resize_token_embeddings(pad_to_multiple_of={pad_to_multiple_of!r}): give a positive "
                             "integer (e.g. 64) or None")
        _check_flag("resize_token_embeddings", "mean_resizing", mean_resizing)
        self._check_owns_weights("resize_token_embeddings")
        old_table = self.get_input_embeddings()
        old_n = int(old_table.shape[0])
        if pad_to_multiple_of is not None:
            n = old_n if new_num_tokens is None else new_num_tokens
            new_num_tokens = -(-n // pad_to_multiple_of) * pad_to_multiple_of
        if new_num_tokens is None or new_num_tokens == old_n:
            return old_table
        try:   # special-token ids the shrunk vocabulary would lose: the config could not be loaded again
            AlbertConfig.from_dict({**self.config.to_dict(), "vocab_size": new_num_tokens})
        except ValueError as e:
            raise ValueError(f"resize_token_embeddings(new_num_tokens={new_num_tokens}) leaves a config no model "
                             f"can be built from: {e}; keep more tokens or change those ids first") from None
        bk, xp, n_copied = self.backend, self.xp, min(old_n, new_num_tokens)
        f64 = bk.dtype("float64")
        table = xp.astype(old_table, f64)
        rows = [table[:n_copied, ...]]
        if new_num_tokens > old_n:
            added, width = new_num_tokens - old_n, int(table.shape[1])
            if mean_resizing:
                mean = xp.mean(table, axis=0)
                centered = table - mean
                covariance = xp.matmul(xp.permute_dims(centered, (1, 0)), centered) / old_n
                new_rows = xp.broadcast_to(mean[None, :], (added, width))
                root = _cholesky_or_none(xp, 1e-9 * covariance)
                if root is not None:   # else not positive definite: the mean alone, as transformers does
                    new_rows = new_rows + xp.matmul(bk.normal((added, width), 1.0, f64), xp.permute_dims(root, (1, 0)))
                rows.append(new_rows)
            else:
                rows.append(bk.normal((added, width), self.config.initializer_range, f64))
        self.params[self.prefix + _WORD_EMBEDDINGS] = xp.astype(xp.concat(rows, axis=0), self._xp_dtype)
        if _MLM_BIAS in self.params:
            bias = self.params[_MLM_BIAS][:n_copied]
            if new_num_tokens > old_n:
                bias = xp.concat([bias, bk.zeros((new_num_tokens - old_n,), self._xp_dtype)], axis=0)
            self.params[_MLM_BIAS] = bias
        self.config.vocab_size = new_num_tokens
        self._drop_tapes()
        return self.get_input_embeddings()

    # ---- backend and dtype ----

    def to(self: _Model, *targets: Any, backend: Any = None, dtype: Any = None) -> _Model:
        """Move every weight to another array library and/or cast it, as torch's `module.to(device or dtype)`;
        returns the model itself.

        Each positional target is a backend ("numpy", "cupy", an Array-API namespace module such as
        array_api_strict, or an albert_np.Backend) or a dtype ("float32", "float64", or NumPy's np.float32 /
        np.float64); `backend=` and `dtype=` name them explicitly. The weights end up as
        from_pretrained(backend=..., dtype=...) would have made them. The random generator's state carries
        over (CuPy's device generator, which draws dropout masks there, is seeded from it), and so does the
        thread count. Every thread's tape is dropped (its arrays live on the old backend): run a forward
        before the next backward(). Optimizers hold the old arrays: build them after moving, as in torch.
        """
        for target in targets:
            kind, value = _classify_target(target)
            if (backend if kind == "backend" else dtype) is not None:
                raise TypeError(f"model.to() got two {kind}s ({value!r} and "
                                f"{backend if kind == 'backend' else dtype!r}); give one")
            if kind == "backend":
                backend = value
            else:
                dtype = value
        if dtype is not None:
            kind, dtype = _classify_target(dtype)
            if kind != "dtype":
                raise TypeError(f"model.to(dtype={dtype!r}): dtype must be 'float32' or 'float64'")
        if backend is not None:
            kind, backend = _classify_target(backend)
            if kind != "backend":
                raise TypeError(f"model.to(backend={backend!r}): backend must be 'numpy', 'cupy', an Array-API "
                                "namespace module or an albert_np.Backend")
        self._check_owns_weights("to")
        old = self.backend
        new = old if backend is None else get_backend(backend)
        if new is not old and (new.xp, new.device) == (old.xp, old.device):
            new = old    # the same library and device: nothing moves
        elif new is not old and not isinstance(backend, Backend):   # a Backend given is used as it is
            new.take_generator(old)
            new.num_threads, new.block_bytes = old.num_threads, old.block_bytes
        dtype = self.dtype if dtype is None else dtype
        if new is old and dtype == self.dtype:
            return self
        xp_dtype = new.dtype(dtype)
        for key in list(self.params):
            self.params[key] = new.asarray(old.to_numpy(self.params[key]).astype(dtype), dtype=xp_dtype)
        views = [self] + ([self._albert] if self._albert is not None else [])
        for m in views:
            m.backend, m.xp, m.dtype, m._xp_dtype = new, new.xp, dtype, xp_dtype
        self._drop_tapes()
        return self

    def _check_owns_weights(self, method):
        if isinstance(self.params, PrefixedParams):
            raise RuntimeError(f"model.albert.{method}() would change only the encoder's part of its parent's "
                               f"weights; call {method}() on the model itself (its model.albert follows)")

    def _drop_tapes(self):
        """Forget every thread's tape (after the weights changed shape, backend or dtype)."""
        self._local = threading.local()
        if self._albert is not None:
            self._albert._local = self._local

    @property
    def training(self) -> bool:
        return self._shared.training

    def train(self: _Model, mode: bool = True) -> _Model:
        """Dropout on (training) or off (evaluation, the default), as `torch.nn.Module.train()`."""
        self._shared.training = bool(mode)
        return self

    def eval(self: _Model) -> _Model:
        return self.train(False)

    @property
    def requires_grad(self) -> bool:
        """Whether a forward on this thread now keeps a tape for backward(): False under no_grad().

        There is no requires_grad_(): in torch it freezes weights, and albert_np has no frozen weights (a
        backward gives every weight's gradient; leave a key out of the optimizer's step to keep it fixed).
        """
        return is_grad_enabled()

    # ---- loading and saving ----

    @classmethod
    def from_pretrained(cls: type[_Model], path: PathLike, *args: Any, **kwargs: Any) -> _Model:
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

    def load_state_dict(self, tensors: dict, source: str = "the state dict") -> None:
        """Copy host arrays (checkpoint key -> array) into the model, checking names and shapes (checkpoint.py)."""
        def convert(key, array):
            host = to_host(self.backend, array, key)
            return self.backend.asarray(host.astype(self.dtype), dtype=self._xp_dtype)

        required = set(albert_param_shapes(self.config, self.prefix, add_pooling_layer=False))
        load_weights(self.params, normalize_keys(tensors, self.prefix), self.param_shapes(), required, convert,
                     source, self.config, type(self).__name__)

    def save_pretrained(self, path: PathLike) -> None:
        """Write config.json and model.safetensors into folder `path` (transformers' layout; tied decoder weights
        left out) as one commit: other files there are left alone, and a failed save leaves the old pair whole."""
        write_model_dir(path, *self._files_to_save())

    def write_pretrained_files(self, folder: PathLike) -> None:
        """save_pretrained's two files written into the existing `folder` without a commit of their own: for the
        staging folder of a bigger commit (train.save_checkpoint adds the tokenizer and the trainer state)."""
        write_model_files(folder, *self._files_to_save())

    def _files_to_save(self):
        self.config.architectures = [type(self).__name__]
        self.config.dtype = self.dtype
        return {k: self.backend.to_numpy(v) for k, v in self.params.items()}, self.config

    # ---- running ----

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
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
        save = is_grad_enabled()
        self._local.no_tape_reason = None if save else "no_grad"
        e, emb_cache = layers.embeddings_forward(bk, p, pre + "embeddings.", cfg, batch, self.training, trace)
        h, hs, att, enc_cache = layers.encoder_forward(bk, p, pre, e, batch, cfg, self.activation, self.training, save,
                                                       output_hidden_states, output_attentions, trace)
        pooled = pool_cache = None
        if self.add_pooling_layer:
            pooled, pool_cache = layers.pooler_forward(bk, p, pre, h, batch, trace)
        self._local.pending = Tape(type(self).__name__, pre, batch, emb_cache, enc_cache, pool_cache) if save else None
        return h, pooled, hs, att

    def _finish(self, return_dict, output_cls, batch, inputs_embeds, trace, head=None, loss=None, loss_terms=None,
                **outputs):
        """Keep the tape (when grads are on) with the head's caches, and build the output record: a ModelOutput,
        or with return_dict=False (or config.return_dict false) its to_tuple(), as transformers' forward."""
        if return_dict is None:
            return_dict = self.config.return_dict
        elif not isinstance(return_dict, bool):
            self._local.pending = None
            raise TypeError(f"{type(self).__name__}(return_dict={return_dict!r}): return_dict must be True (an "
                            f"output with named fields), False (a tuple) or None (config.return_dict)")
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
        out = output_cls(**outputs)
        return out if return_dict else out.to_tuple()

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
        del douts                                # an MLM's logit gradients ([n, V] rows or [N, V]): freed before the encoder's backward
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

    def _token_loss(self, logits, labels, batch, num_classes, output, backward=losses.cross_entropy_backward):
        """CE over every token whose label is not -100 (MLM and token classification); (None, None) without labels.

        `backward` gives the logits' gradient: an array, or (for the MLM head) an ops.RowGradient."""
        if labels is None:
            return None, None
        y = prepare_labels(self.backend, labels, "labels", (batch.batch_size * batch.seq_len,), "class", num_classes)
        loss, cache = losses.cross_entropy_forward(self.backend, logits, y)
        return loss, [LossTerm(output, backward, 1.0, cache)]


_WORD_EMBEDDINGS = "embeddings.word_embeddings.weight"
_MLM_BIAS = "predictions.bias"
_EMBEDDING_TABLES = ("embeddings.word_embeddings.weight", "embeddings.position_embeddings.weight",
                     "embeddings.token_type_embeddings.weight")
_DTYPE_NAMES = ("float32", "float64")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_flag(method, name, value):
    if not isinstance(value, bool):
        raise TypeError(f"{method}({name}={value!r}): {name} must be True or False")


def _cholesky_or_none(xp, matrix):
    """The lower Cholesky factor of `matrix`, or None when it is not positive definite (NumPy raises
    LinAlgError, CuPy may return NaNs)."""
    try:
        root = xp.linalg.cholesky(matrix)
    except Exception as e:     # numpy.linalg.LinAlgError, without importing NumPy here
        if "LinAlgError" not in type(e).__name__:
            raise
        return None
    return root if bool(xp.all(xp.isfinite(root))) else None


def _classify_target(target) -> tuple[str, object]:
    """("backend", target) or ("dtype", its name) for a target of model.to(), or a clear error."""
    if target is None:
        raise TypeError("model.to(None): give a backend ('numpy', 'cupy', an Array-API namespace module) or a "
                        "dtype ('float32', 'float64')")
    if isinstance(target, Backend) or isinstance(target, types.ModuleType):
        return "backend", target
    if isinstance(target, str):
        if target in ("numpy", "cupy"):
            return "backend", target
        if target in _DTYPE_NAMES:
            return "dtype", target
        hint = ""
        if target.split(":")[0].lower() in ("cpu", "cuda", "gpu", "mps"):
            hint = (" albert_np picks an array library, not a device: 'numpy' runs on the CPU, 'cupy' on an "
                    "NVIDIA GPU.")
        raise ValueError(f"model.to({target!r}): unknown backend or dtype; use 'numpy', 'cupy', an Array-API "
                         f"namespace module (e.g. array_api_strict), 'float32' or 'float64'.{hint}")
    # a dtype object: NumPy's np.float64 or np.dtype("float64"), a namespace's xp.float64, torch.float64
    for name in (getattr(target, "name", None), getattr(target, "__name__", None), str(target).rsplit(".", 1)[-1]):
        if name in _DTYPE_NAMES:
            return "dtype", name
    raise TypeError(f"model.to({target!r}): {type(target).__name__} is neither a backend ('numpy', 'cupy', an "
                    "Array-API namespace module, an albert_np.Backend) nor a dtype ('float32', 'float64')")


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
