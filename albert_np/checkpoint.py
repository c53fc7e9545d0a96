"""Reading and writing Hugging Face checkpoints: `model.safetensors` (or an index plus shards) beside `config.json`.

The safetensors format is simple enough to read by hand: 8 bytes little-endian header length N, N bytes of JSON
naming each tensor's dtype, shape and byte range, then the raw bytes. Reading it ourselves gives BF16 without
torch (a bfloat16 is the top half of a float32) and lets a truncated or corrupted file fail with a message
that names the tensor and the file.
"""

from __future__ import annotations

import json
import os
import struct
import warnings

import numpy as np

from .io_utils import atomic_writer

WEIGHTS_NAME = "model.safetensors"
WEIGHTS_INDEX_NAME = "model.safetensors.index.json"
_OTHER_FORMATS = ("pytorch_model.bin", "pytorch_model.bin.index.json", "tf_model.h5", "flax_model.msgpack")

_DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16,
    "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_,
}
_NAMES = {np.dtype(v): k for k, v in _DTYPES.items()}
_MAX_HEADER = 100 * 1024 * 1024


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded as it is: the message names the file or key and what to do."""


def read_safetensors(path) -> tuple[dict, dict]:
    """All tensors of one .safetensors file as NumPy arrays (BF16 widened exactly to float32), and its metadata."""
    path = os.fspath(path)
    size = os.path.getsize(path)
    if size < 8:
        raise CheckpointError(f"{path} is truncated ({size} bytes, not even the 8-byte header length); re-download or re-save it")
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        if n > min(size - 8, _MAX_HEADER):
            raise CheckpointError(
                f"{path} has a corrupted header (it claims {n} header bytes in a {size}-byte file); "
                "the file is damaged or not a safetensors file: re-download or re-save it"
            )
        raw = f.read(n)
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path} has a corrupted JSON header ({e}); re-download or re-save it") from e
    if not isinstance(header, dict):
        raise CheckpointError(f"{path} has a corrupted header (not a JSON object); re-download or re-save it")
    metadata = header.pop("__metadata__", None) or {}
    data_len = size - 8 - n
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + n, shape=(data_len,)) if data_len else np.zeros(0, np.uint8)
    tensors = {}
    for key, info in header.items():
        try:
            dtype_name, shape, (begin, end) = info["dtype"], tuple(info["shape"]), info["data_offsets"]
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(f"{path}: the header entry for {key!r} is malformed ({info!r})") from e
        if end > data_len or begin > end:
            raise CheckpointError(
                f"{path} is truncated: tensor {key!r} needs bytes {begin}..{end} but the file holds {data_len} data bytes; "
                "the download or save was interrupted: re-download or re-save it"
            )
        raw_bytes = data[begin:end]
        count = int(np.prod(shape)) if shape else 1
        if dtype_name == "BF16":
            if end - begin != 2 * count:
                raise CheckpointError(f"{path}: tensor {key!r} has {end - begin} bytes for shape {shape} in BF16")
            # bfloat16 is the upper 16 bits of a float32: shift them back up, exactly.
            bits = raw_bytes.view("<u2").astype(np.uint32) << 16
            tensors[key] = bits.view(np.float32).reshape(shape)
            continue
        if dtype_name not in _DTYPES:
            raise CheckpointError(f"{path}: tensor {key!r} has dtype {dtype_name}, which albert_np does not read")
        dtype = np.dtype(_DTYPES[dtype_name]).newbyteorder("<")
        if end - begin != dtype.itemsize * count:
            raise CheckpointError(
                f"{path}: tensor {key!r} has {end - begin} bytes but shape {shape} in {dtype_name} needs {dtype.itemsize * count}; "
                "the file is corrupted"
            )
        tensors[key] = raw_bytes.view(dtype).reshape(shape)
    return tensors, metadata


def write_safetensors(path, tensors: dict, metadata: dict | None = None):
    """Write NumPy arrays as one .safetensors file, atomically (temp file, then rename)."""
    header, offset, arrays = {}, 0, []
    for key, arr in tensors.items():
        arr = np.ascontiguousarray(arr)
        if arr.dtype not in _NAMES:
            raise TypeError(f"cannot store {key!r} of dtype {arr.dtype} in safetensors")
        arr = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
        header[key] = {"dtype": _NAMES[arr.dtype.newbyteorder("=")], "shape": list(arr.shape),
                       "data_offsets": [offset, offset + arr.nbytes]}
        offset += arr.nbytes
        arrays.append(arr)
    if metadata:
        header = {"__metadata__": {str(k): str(v) for k, v in metadata.items()}, **header}
    blob = json.dumps(header, separators=(",", ":")).encode("utf-8")
    blob += b" " * (-len(blob) % 8)  # the data start is kept 8-byte aligned, as the reference writer does
    with atomic_writer(path) as f:
        f.write(struct.pack("<Q", len(blob)))
        f.write(blob)
        for arr in arrays:
            f.write(arr.tobytes())


def read_checkpoint_dir(path) -> dict:
    """Every tensor of the checkpoint in directory `path`: model.safetensors, or the index and its shards."""
    path = os.fspath(path)
    if not os.path.isdir(path):
        raise FileNotFoundError(
            f"{path!r} is not a directory; albert_np loads local folders written by save_pretrained "
            "(it never downloads from the hub)"
        )
    single = os.path.join(path, WEIGHTS_NAME)
    index = os.path.join(path, WEIGHTS_INDEX_NAME)
    if os.path.isfile(single):
        return read_safetensors(single)[0]
    if os.path.isfile(index):
        try:
            with open(index, encoding="utf-8") as f:
                weight_map = json.load(f)["weight_map"]
        except (json.JSONDecodeError, KeyError) as e:
            raise CheckpointError(f"{index} is not a valid safetensors index (needs a 'weight_map')") from e
        tensors = {}
        for shard in sorted(set(weight_map.values())):
            shard_path = os.path.join(path, shard)
            if not os.path.isfile(shard_path):
                raise CheckpointError(f"{index} names shard {shard!r}, which is missing from {path}; download every shard")
            tensors.update(read_safetensors(shard_path)[0])
        return tensors
    others = [name for name in _OTHER_FORMATS if os.path.isfile(os.path.join(path, name))]
    if others:
        raise CheckpointError(
            f"{path} holds {others[0]} but no {WEIGHTS_NAME}; albert_np reads safetensors only. Convert once with "
            "transformers: `AlbertForMaskedLM.from_pretrained(dir).save_pretrained(dir)` (any Albert class) writes model.safetensors"
        )
    raise CheckpointError(f"no {WEIGHTS_NAME} (or {WEIGHTS_INDEX_NAME}) in {path}")


def normalize_keys(tensors: dict, prefix: str) -> dict:
    """Map checkpoint keys onto a model's names, the way transformers does.

    Old TF-converted files say LayerNorm.gamma/beta; a base AlbertModel file has no "albert." prefix while the
    heads want one, and AlbertModel wants the prefix removed from a head's file.
    """
    out = {}
    for key, value in tensors.items():
        if key.endswith(".gamma"):
            key = key[: -len("gamma")] + "weight"
        elif key.endswith(".beta"):
            key = key[: -len("beta")] + "bias"
        is_base = key.startswith(("embeddings.", "encoder.", "pooler."))
        if prefix and is_base:
            key = prefix + key
        elif not prefix and key.startswith("albert."):
            key = key[len("albert."):]
        out[key] = value
    return out


# ---- weight names and shapes, and matching a checkpoint's keys to a model's ---------------------------


def layer_prefix(prefix, group, inner):
    """The checkpoint name prefix of AlbertLayer `inner` of layer group `group`."""
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


TIED_KEYS = ("predictions.decoder.weight", "predictions.decoder.bias")  # the MLM decoder reuses the word embeddings


def match_state_dict(tensors: dict, expected: dict, required: set, source: str, config) -> tuple[list, list]:
    """Check checkpoint keys (already normalize_keys'd) against a model's expected name -> shape.

    Raises CheckpointError for a missing `required` (encoder) weight or any misshapen weight; returns
    (missing, unexpected) key lists for the caller's warnings.
    """
    missing = [k for k in expected if k not in tensors]
    unexpected = [k for k in tensors if k not in expected and k not in TIED_KEYS]
    fatal = [k for k in missing if k in required]
    if fatal:
        raise CheckpointError(
            f"{source} lacks {len(fatal)} weight(s) the ALBERT encoder needs, e.g. {fatal[:3]}; is it an ALBERT "
            f"checkpoint, and does its config.json (num_hidden_groups={config.num_hidden_groups}, "
            f"inner_group_num={config.inner_group_num}) match the file?"
        )
    for key, shape in expected.items():
        if key in tensors and tuple(tensors[key].shape) != tuple(shape):
            raise CheckpointError(
                f"{key} in {source} has shape {tuple(tensors[key].shape)} but the config implies {tuple(shape)}; "
                f"{_shape_hint(key)}"
            )
    return missing, unexpected


def load_weights(params: dict, tensors: dict, expected: dict, required: set, convert, source: str, config,
                 model_name: str):
    """params[key] = convert(key, tensors[key]) for every expected key the checkpoint has, after match_state_dict.

    Missing head weights keep their fresh initialisation and unused checkpoint weights are skipped, each listed
    in a warning worded as transformers words it.
    """
    missing, unexpected = match_state_dict(tensors, expected, required, source, config)
    for key in expected:
        if key in tensors:
            params[key] = convert(key, tensors[key])
    if missing:
        warnings.warn(
            f"Some weights of {model_name} were not initialized from {source} and are newly initialized: "
            f"{missing}. Train the model on a down-stream task before using it for predictions.",
            stacklevel=4,
        )
    if unexpected:
        warnings.warn(
            f"Some weights of {source} were not used when initializing {model_name}: {unexpected}. This is "
            "expected when the checkpoint was saved from another head (e.g. AlbertForPreTraining into AlbertModel).",
            stacklevel=4,
        )


def _shape_hint(key):
    if "word_embeddings" in key or key.endswith("predictions.bias"):
        return "vocab_size or embedding_size in config.json does not match the checkpoint"
    if "position_embeddings" in key:
        return "max_position_embeddings in config.json does not match the checkpoint"
    if "token_type" in key:
        return "type_vocab_size in config.json does not match the checkpoint"
    if key.startswith(("classifier", "qa_outputs", "sop_classifier")):
        return ("num_labels differs from the checkpoint's head: pass num_labels=... matching the file, or delete "
                "the head weights to re-initialise them")
    if "ffn" in key:
        return "intermediate_size or hidden_size in config.json does not match the checkpoint"
    return "hidden_size / embedding_size in config.json do not match the checkpoint"
