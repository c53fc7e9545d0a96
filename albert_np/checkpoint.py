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

from .io_utils import JOURNAL_NAME, atomic_writer, finish_interrupted_save, folder_transaction, make_target_folder

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
    """All tensors of one .safetensors file as NumPy arrays (BF16 widened exactly to float32), and its metadata.

    The header is checked as the safetensors library checks it (the file may come from anyone): every entry
    has a known dtype, a shape of non-negative integers and a byte range of the right length, and the ranges
    tile the data exactly (in order, no overlap, no gap, nothing after the last). Any breach is a
    CheckpointError naming the file and the tensor.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise CheckpointError(f"{path} is a folder, not a .safetensors file; pass the file, or load the folder with from_pretrained")
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
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise CheckpointError(f"{path} has a corrupted JSON header ({e}); re-download or re-save it") from e
    if not isinstance(header, dict):
        raise CheckpointError(f"{path} has a corrupted header (not a JSON object); re-download or re-save it")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise CheckpointError(f"{path}: __metadata__ must map strings to strings, got {metadata!r}; the file is corrupted")
    data_len = size - 8 - n
    entries = [_header_entry(path, key, info) for key, info in header.items()]
    _check_offsets(path, entries, data_len)
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + n, shape=(data_len,)) if data_len else np.zeros(0, np.uint8)
    tensors = {}
    for key, dtype_name, shape, begin, end in entries:
        raw_bytes = data[begin:end]
        if dtype_name == "BF16":
            # bfloat16 is the upper 16 bits of a float32: shift them back up, exactly.
            bits = raw_bytes.view("<u2").astype(np.uint32) << 16
            tensors[key] = bits.view(np.float32).reshape(shape)
        else:
            tensors[key] = raw_bytes.view(np.dtype(_DTYPES[dtype_name]).newbyteorder("<")).reshape(shape)
    return tensors, metadata


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _header_entry(path, key, info) -> tuple:
    """(key, dtype name, shape, begin, end) of one header entry, after checking its types, dtype and byte count."""
    if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
        raise CheckpointError(
            f"{path}: the header entry for {key!r} is malformed ({info!r}); each tensor needs exactly "
            "'dtype', 'shape' and 'data_offsets': the file is corrupted, re-download or re-save it"
        )
    dtype_name, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if dtype_name != "BF16" and dtype_name not in _DTYPES:
        raise CheckpointError(
            f"{path}: tensor {key!r} has dtype {dtype_name!r}, which albert_np does not read "
            f"(it reads {', '.join(['BF16', *_DTYPES])})"
        )
    if not isinstance(shape, list) or not all(_is_int(s) and s >= 0 for s in shape):
        raise CheckpointError(
            f"{path}: tensor {key!r} has shape {shape!r}; a shape is a list of non-negative integers: the file is corrupted"
        )
    if (not isinstance(offsets, list) or len(offsets) != 2 or not all(_is_int(o) for o in offsets)
            or not 0 <= offsets[0] <= offsets[1]):
        raise CheckpointError(
            f"{path}: tensor {key!r} has data_offsets {offsets!r}; they must be two integers 0 <= begin <= end: "
            "the file is corrupted"
        )
    begin, end = offsets
    itemsize = 2 if dtype_name == "BF16" else np.dtype(_DTYPES[dtype_name]).itemsize
    count = 1
    for s in shape:
        count *= s
    if end - begin != itemsize * count:
        raise CheckpointError(
            f"{path}: tensor {key!r} has {end - begin} bytes but shape {tuple(shape)} in {dtype_name} needs "
            f"{itemsize * count}; the file is corrupted"
        )
    return key, dtype_name, tuple(shape), begin, end


def _check_offsets(path, entries, data_len):
    """The byte ranges must tile [0, data_len) in order: no overlap (tensors would alias), no gap, no excess."""
    position, previous = 0, None
    for key, _, _, begin, end in sorted(entries, key=lambda e: (e[3], e[4])):
        if end > data_len:
            raise CheckpointError(
                f"{path} is truncated: tensor {key!r} needs bytes {begin}..{end} but the file holds {data_len} data bytes; "
                "the download or save was interrupted: re-download or re-save it"
            )
        if begin < position:
            raise CheckpointError(
                f"{path}: tensor {key!r} (bytes {begin}..{end}) overlaps {previous!r} (ending at byte {position}); "
                "tensors may not share bytes: the file is corrupted or crafted, re-download or re-save it"
            )
        if begin > position:
            raise CheckpointError(
                f"{path}: {begin - position} bytes before tensor {key!r} belong to no tensor (a gap in data_offsets); "
                "the file is corrupted: re-download or re-save it"
            )
        position, previous = end, key
    if position != data_len:
        raise CheckpointError(
            f"{path} has {data_len - position} bytes after its last tensor that no header entry describes; "
            "the file is corrupted: re-download or re-save it"
        )


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
    path = os.fspath(path)
    make_target_folder(os.path.dirname(os.path.abspath(path)))
    finish_interrupted_save(os.path.dirname(os.path.abspath(path)))   # else a later roll-forward would undo this write
    with atomic_writer(path) as f:
        f.write(struct.pack("<Q", len(blob)))
        f.write(blob)
        for arr in arrays:
            f.write(arr.tobytes())


def write_model_files(folder, host_tensors: dict, config) -> None:
    """config.json and model.safetensors written into the existing `folder`, each file on its own: for a
    staging folder that a bigger commit switches in (write_model_dir, train.save_checkpoint)."""
    write_safetensors(os.path.join(folder, WEIGHTS_NAME), host_tensors, metadata={"format": "pt"})
    config.save_pretrained(folder)


def write_model_dir(path, host_tensors: dict, config) -> None:
    """config.json and model.safetensors into folder `path` as one commit (io_utils.folder_transaction):
    new weights never sit beside an old config, and nothing else in `path` is touched."""
    with folder_transaction(path) as staging:
        write_model_files(staging, host_tensors, config)


def checkpoint_folder(path) -> str:
    """`path` as a checkpoint folder to read, after finishing a save that was interrupted after its commit."""
    path = os.fspath(path)
    if os.path.isfile(path):
        raise NotADirectoryError(
            f"{path!r} is a file, but a checkpoint is a folder (config.json beside model.safetensors); "
            f"pass the folder that holds it: {os.path.dirname(os.path.abspath(path))!r}"
        )
    if not os.path.isdir(path):
        raise FileNotFoundError(
            f"{path!r} is not a directory; albert_np loads local folders written by save_pretrained "
            "(it never downloads from the hub)"
        )
    if os.path.isfile(os.path.join(path, JOURNAL_NAME)):
        try:
            finish_interrupted_save(path)
        except (OSError, ValueError) as e:
            raise CheckpointError(
                f"{path} holds a save that was interrupted after its commit and cannot be finished now ({e}); "
                "make the folder writable and load again, or save the model again"
            ) from e
    return path


def _inside(folder, path, what) -> str:
    """`path` if it resolves (symlinks followed) to a file inside `folder`; else a CheckpointError."""
    root = os.path.realpath(folder)
    real = os.path.realpath(path)
    # The Hugging Face cache links snapshots/<revision>/<file> to ../../blobs/<hash>: that is the same checkpoint.
    hub_blobs = os.path.join(os.path.dirname(os.path.dirname(root)), "blobs")
    if (os.path.basename(os.path.dirname(root)) == "snapshots" and os.path.islink(path)
            and os.path.dirname(real) == hub_blobs):
        return path
    if os.path.commonpath([root, real]) != root or real == root:
        raise CheckpointError(
            f"{what} resolves to {real}, outside the checkpoint folder {root}; albert_np reads only files inside "
            "the folder it is given: the checkpoint is damaged or crafted"
        )
    return path


def read_checkpoint_dir(path) -> dict:
    """Every tensor of the checkpoint in directory `path`: model.safetensors, or the index and its shards.

    Only files inside `path` are read: a shard named "../x" or "/etc/passwd", or a symlink out of the
    folder, is a CheckpointError.
    """
    path = checkpoint_folder(path)
    single = os.path.join(path, WEIGHTS_NAME)
    index = os.path.join(path, WEIGHTS_INDEX_NAME)
    if os.path.isfile(single):
        return read_safetensors(_inside(path, single, WEIGHTS_NAME))[0]
    if os.path.isfile(index):
        _inside(path, index, WEIGHTS_INDEX_NAME)
        try:
            with open(index, encoding="utf-8") as f:
                weight_map = json.load(f)["weight_map"]
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as e:
            raise CheckpointError(f"{index} is not a valid safetensors index (needs a 'weight_map'); re-download it") from e
        if not isinstance(weight_map, dict) or not all(isinstance(v, str) and v for v in weight_map.values()):
            raise CheckpointError(f"{index}: 'weight_map' must map each tensor name to a shard file name; re-download it")
        tensors = {}
        for shard in sorted(set(weight_map.values())):
            shard_path = os.path.join(path, shard)
            if os.path.isabs(shard) or ".." in shard.replace("\\", "/").split("/"):
                raise CheckpointError(
                    f"{index} names shard {shard!r}, outside the checkpoint folder; albert_np reads only files inside "
                    "the folder it is given: the index is damaged or crafted"
                )
            _inside(path, shard_path, f"shard {shard!r} of {index}")
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
