"""What every pipeline shares: loading a model and tokenizer, running the model in padded batches without a tape.

A pipeline is three stages, as in transformers: ``preprocess`` (text -> features, python lists), ``run_model``
(features -> per-feature output arrays, in batches of ``batch_size`` padded to their longest member) and
``postprocess`` (outputs -> transformers' result dicts). Batching never changes a result beyond float rounding:
padding is masked out, and each feature's outputs are cut back to its own length.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np

from ..grad_mode import no_grad

MODEL_INPUTS = ("input_ids", "token_type_ids", "attention_mask")


@contextlib.contextmanager
def no_tape(model):
    """Run `model` without recording what backward() needs (inference only)."""
    with no_grad():
        yield


@dataclass
class Feature:
    """One row the model sees: the tokenizer's lists for one text (or one window of a long text)."""

    input_ids: list        # [S] token ids, special tokens included
    token_type_ids: list   # [S] 0 for the first text, 1 for the second
    attention_mask: list   # [S] all ones (padding is added per batch, in run_model)
    extra: dict            # what postprocess needs besides the model's outputs (offsets, p_mask, ...)


class Pipeline:
    """Base class: `pipe(inputs, **options)` -> transformers' result structure for the task."""

    task = ""
    output_name = "logits"   # the model output postprocess reads
    per_token = True         # output_name is [B, S, ...] (cut to each feature's length) rather than [B, ...]
    # transformers 5.24's ALBERT tokenizer returns no token_type_ids, so its pipelines run every text, the second
    # of a pair too, as segment 0; albert_np's pipelines do the same (question-answering follows v4 and sends them).
    send_token_type_ids = False

    def __init__(self, model, tokenizer, batch_size: int = 8):
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}: pass e.g. batch_size=8")
        self.model, self.tokenizer, self.batch_size = model, tokenizer, batch_size
        model.eval()  # dropout off, as transformers' pipelines do

    def __repr__(self):
        return f"{type(self).__name__}(task={self.task!r}, model={type(self.model).__name__}, batch_size={self.batch_size})"

    def encode(self, text, text_pair=None, **kwargs) -> list[Feature]:
        """Tokenize one input into one Feature (or several, with return_overflowing_tokens)."""
        enc = self.tokenizer(text, text_pair, return_token_type_ids=True, return_attention_mask=True, **kwargs)
        rows = enc["input_ids"]
        if rows and isinstance(rows[0], list):  # overflowing windows: one feature each
            keys = [k for k in enc if k not in MODEL_INPUTS]
            return [Feature(enc["input_ids"][i], enc["token_type_ids"][i], enc["attention_mask"][i],
                            {**{k: enc[k][i] for k in keys}, "sequence_ids": enc.sequence_ids(i)})
                    for i in range(len(rows))]
        extra = {k: v for k, v in enc.items() if k not in MODEL_INPUTS}
        return [Feature(enc["input_ids"], enc["token_type_ids"], enc["attention_mask"],
                        {**extra, "sequence_ids": enc.sequence_ids(0)})]

    def run_model(self, features: list[Feature], names=None) -> list:
        """The model's output `output_name` (or a dict of the outputs `names`) for each feature, on the host,
        computed batch_size rows at a time."""
        results = []
        pad_id = self.tokenizer.pad_token_id
        with no_tape(self.model):
            for start in range(0, len(features), self.batch_size):
                chunk = features[start:start + self.batch_size]
                width = max(len(f.input_ids) for f in chunk)
                ids = np.full((len(chunk), width), pad_id, dtype=np.int64)          # [B, S]
                types = np.zeros((len(chunk), width), dtype=np.int64)               # [B, S]
                mask = np.zeros((len(chunk), width), dtype=np.int64)                # [B, S]
                for i, f in enumerate(chunk):
                    n = len(f.input_ids)
                    ids[i, :n], mask[i, :n] = f.input_ids, f.attention_mask
                    if self.send_token_type_ids:
                        types[i, :n] = f.token_type_ids
                out = self.model(input_ids=ids, token_type_ids=types, attention_mask=mask, return_dict=True)
                wanted = names or [self.output_name_for(out)]
                values = {name: self.model.backend.to_numpy(out[name]) for name in wanted}
                for i, f in enumerate(chunk):
                    row = {name: v[i, :len(f.input_ids)] if self.per_token else v[i] for name, v in values.items()}
                    results.append(row if names else row[wanted[0]])
        return results

    def output_name_for(self, out) -> str:
        return self.output_name


def softmax(x: np.ndarray) -> np.ndarray:
    """transformers' pipelines' softmax over the last axis, in the logits' own dtype."""
    shifted = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def check_positive_int(name: str, value, allow_none: bool = False):
    if value is None and allow_none:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def as_batch(inputs, name: str) -> tuple[list, bool]:
    """(list of inputs, whether one input was given): a str is one input, a list or tuple is a batch."""
    if isinstance(inputs, (list, tuple)):
        if not inputs:
            raise ValueError(f"{name} is an empty list: pass a string or a non-empty list of strings")
        return list(inputs), False
    return [inputs], True
