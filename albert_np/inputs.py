"""Checking a model's inputs on the host and moving them to the device.

Bad input must fail here, with a message that names the argument and the fix, rather than deep inside the
math as a broadcast error or, worse, as a silently wrong answer (NumPy's `take` would wrap a negative id).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Batch:
    """A validated batch on the device, flattened to [N] / [N, E] rows with N = batch * seq."""

    input_ids: object          # [N] ints, or None when inputs_embeds is given
    inputs_embeds: object      # [N, E] floats, or None
    token_type_ids: object     # [N] ints
    position_ids: object       # [N] ints
    mask_add: object           # [B, 1, 1, S]: 0 to attend, the dtype's most negative number to ignore; None: no padding
    batch_size: int            # B, the number of sequences (batch * num_choices for multiple choice)
    seq_len: int               # S
    lead_shape: tuple          # the batch dims as given: (B,) or (B, C) for multiple choice


def to_host(bk, x, name):
    """A NumPy view of a user input (array of any backend, or nested list), or a clear TypeError."""
    if x is None:
        return None
    if bk.is_array(x):
        return _check_numeric(bk.to_numpy(x), name)
    ragged = ValueError(
        f"{name} is ragged (rows of different lengths); pad every sequence to the same length, e.g. with the "
        "tokenizer's padding=True, and pass attention_mask"
    )
    try:
        arr = np.asarray(x)
    except ValueError as e:
        raise ragged from e
    if arr.dtype == object:
        raise ragged
    return _check_numeric(arr, name)


def _check_numeric(arr, name):
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise TypeError(f"{name} must hold numbers, got dtype {arr.dtype}")
    return arr


def check_int(arr, name):
    if not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must hold integers (token indices), got dtype {arr.dtype}")


def check_range(arr, name, upper, fix):
    """Every entry of the integer array `arr` must be in [0, upper)."""
    if arr.size == 0:
        return
    lo, hi = int(arr.min()), int(arr.max())
    if lo < 0 or hi >= upper:
        bad = lo if lo < 0 else hi
        raise ValueError(f"{name} holds {bad}, outside [0, {upper - 1}]; {fix}")


def prepare_batch(bk, config, dtype, input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds, ndim=2):
    """Validate the standard inputs and put them on the device; ndim is 3 for multiple choice ([B, C, S])."""
    if (input_ids is None) == (inputs_embeds is None):
        raise ValueError("You must specify exactly one of input_ids or inputs_embeds")
    ids = to_host(bk, input_ids, "input_ids")
    embeds = to_host(bk, inputs_embeds, "inputs_embeds")
    what = "[batch, num_choices, seq]" if ndim == 3 else "[batch, seq]"
    if ids is not None:
        check_int(ids, "input_ids")
        if ids.ndim == ndim - 1:
            raise ValueError(f"input_ids has shape {ids.shape}; the model wants {what}: add a batch axis, e.g. ids[None]")
        if ids.ndim != ndim:
            raise ValueError(f"input_ids must be {what}, got shape {ids.shape}")
        shape = ids.shape
        check_range(ids, "input_ids", config.vocab_size,
                    f"the model's vocabulary has {config.vocab_size} tokens: was the text encoded with this model's tokenizer?")
    else:
        if embeds.ndim != ndim + 1 or embeds.shape[-1] != config.embedding_size:
            raise ValueError(
                f"inputs_embeds must be {what[:-1]}, embedding_size={config.embedding_size}], got shape {embeds.shape} "
                "(ALBERT's inputs_embeds are the E-sized word embeddings, before the E -> H projection)"
            )
        shape = embeds.shape[:-1]
    if shape[-1] == 0 or any(s == 0 for s in shape):
        raise ValueError(f"the input is empty (shape {shape}); give at least one token per sequence")
    lead, seq = shape[:-1], shape[-1]
    batch = int(np.prod(lead))

    if position_ids is None:
        if seq > config.max_position_embeddings:
            raise ValueError(
                f"the sequence has {seq} tokens but max_position_embeddings is {config.max_position_embeddings}; "
                f"truncate it (e.g. the tokenizer's truncation=True, max_length={config.max_position_embeddings})"
            )
        pos = np.broadcast_to(np.arange(seq), (batch, seq))
    else:
        pos = _aux_ids(bk, position_ids, "position_ids", shape)
        check_range(pos, "position_ids", config.max_position_embeddings,
                    f"positions must be below max_position_embeddings={config.max_position_embeddings}")
    if token_type_ids is None:
        tt = np.zeros((batch, seq), dtype=np.int64)
    else:
        tt = _aux_ids(bk, token_type_ids, "token_type_ids", shape)
        check_range(tt, "token_type_ids", config.type_vocab_size,
                    f"the model has type_vocab_size={config.type_vocab_size} segments (0 for text A, 1 for text B)")
    if attention_mask is None:
        attend = np.ones((batch, seq), dtype=bool)
    else:
        mask = _aux_ids(bk, attention_mask, "attention_mask", shape, integer=False)
        bad = (mask != 0) & (mask != 1)
        if bad.any():
            raise ValueError(
                f"attention_mask holds {mask[bad].flat[0].item()!r}; it must hold only 1 (attend to the token) and 0 "
                "(padding): pass the tokenizer's attention_mask, or (mask > 0).astype(int) for another convention"
            )
        attend = mask == 1

    fmin = float(np.finfo(np.dtype(dtype)).min)
    mask_add = np.where(attend, 0.0, fmin).reshape(batch, 1, 1, seq)
    xp_dtype = bk.dtype(dtype)
    return Batch(
        input_ids=None if ids is None else bk.asarray(ids.reshape(-1).astype(np.int64)),
        inputs_embeds=None if embeds is None else _to_device_float(bk, inputs_embeds, embeds, xp_dtype, config),
        token_type_ids=bk.asarray(np.ascontiguousarray(tt.reshape(-1), dtype=np.int64)),
        position_ids=bk.asarray(np.ascontiguousarray(pos.reshape(-1), dtype=np.int64)),
        mask_add=None if attend.all() else bk.asarray(mask_add, dtype=xp_dtype),
        batch_size=batch,
        seq_len=seq,
        lead_shape=tuple(lead),
    )


def _to_device_float(bk, original, host, xp_dtype, config):
    # inputs_embeds already on the device stay there (so a gradient w.r.t. them is meaningful); host data is copied.
    flat_shape = (-1, config.embedding_size)
    if bk.is_array(original):
        return bk.xp.reshape(bk.xp.astype(original, xp_dtype), flat_shape)
    return bk.asarray(host.reshape(flat_shape), dtype=xp_dtype)


def _aux_ids(bk, x, name, shape, integer=True):
    arr = to_host(bk, x, name)
    if integer:
        check_int(arr, name)
    if arr.shape != tuple(shape):
        if arr.ndim == len(shape) - 1 and arr.shape == tuple(shape[1:]) and name == "position_ids":
            arr = np.broadcast_to(arr, shape)  # one row of positions shared by the batch, as transformers allows
        else:
            raise ValueError(f"{name} has shape {arr.shape} but input_ids/inputs_embeds have {tuple(shape)}; they must match")
    return arr.reshape(-1, shape[-1])


def prepare_labels(bk, x, name, shape, kind, upper=None, dtype=None, ignore_index=-100):
    """Validate labels: kind "class" (ints in [0, upper) or ignore_index), "float" (regression / multi-label), "position"."""
    arr = to_host(bk, x, name)
    if kind == "float":
        if arr.shape != tuple(shape) and arr.size != int(np.prod(shape)):
            raise ValueError(f"{name} has shape {arr.shape}; expected {tuple(shape)}")
        return bk.asarray(arr.reshape(shape), dtype=bk.dtype(dtype))
    check_int(arr, name)
    if arr.size != int(np.prod(shape)):
        raise ValueError(f"{name} has shape {arr.shape}; expected {tuple(shape)}")
    arr = arr.reshape(shape).astype(np.int64)
    if kind == "class":
        bad = (arr != ignore_index) & ((arr < 0) | (arr >= upper))
        if bad.any():
            raise ValueError(
                f"{name} holds {int(arr[bad][0])}, outside [0, {upper - 1}]; use {ignore_index} for positions "
                "that should not count in the loss"
            )
    return bk.asarray(arr)
