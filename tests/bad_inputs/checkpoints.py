"""Checkpoints: malformed safetensors headers, indexes pointing out of the folder, wrong paths, bad config files."""

from __future__ import annotations

import json
import os
import struct

import numpy as np

import albert_np as an
from albert_np.checkpoint import read_safetensors, write_safetensors
from bad_inputs import Case
from factory import tiny_config

GOOD = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}


def raw_file(path, header, data=b"\0" * 8):
    """A .safetensors file with `header` (a dict, or bytes taken as they are) and `data` after it."""
    blob = header if isinstance(header, bytes) else json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(blob)) + blob + data)


def header_case(id, header, match, data=b"\0" * 8):
    """read_safetensors on a file with this header must raise CheckpointError matching `match`."""
    return Case(id, run=lambda d: read_safetensors(d / "x.safetensors"), raises=an.CheckpointError, match=match,
                setup=lambda d: raw_file(d / "x.safetensors", header, data))


def two(a, b):
    return {"a": {"dtype": "F32", "shape": [2], "data_offsets": a}, "b": {"dtype": "F32", "shape": [2], "data_offsets": b}}


HEADER_CASES = [
    header_case("overlapping_offsets", two([0, 8], [4, 12]), r"'b'.*overlaps 'a'.*share bytes", data=b"\0" * 12),
    header_case("aliasing_offsets", two([0, 8], [0, 8]), r"overlaps.*corrupted or crafted"),
    header_case("gap_between_tensors", two([0, 8], [12, 20]), r"4 bytes before tensor 'b' belong to no tensor",
                data=b"\0" * 20),
    header_case("bytes_after_last_tensor", {"a": GOOD}, r"4 bytes after its last tensor", data=b"\0" * 12),
    header_case("begin_after_end", {"a": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}},
                r"data_offsets \[8, 0\].*0 <= begin <= end"),
    header_case("negative_begin", {"a": {"dtype": "F32", "shape": [2], "data_offsets": [-8, 0]}},
                r"data_offsets \[-8, 0\]"),
    header_case("float_offsets", {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0.0, 8.0]}},
                r"data_offsets \[0.0, 8.0\].*two integers"),
    header_case("three_offsets", {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4, 8]}},
                r"data_offsets \[0, 4, 8\]"),
    header_case("string_offsets", {"a": {"dtype": "F32", "shape": [2], "data_offsets": "0,8"}},
                r"data_offsets '0,8'"),
    header_case("offsets_past_the_end", {"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}},
                r"truncated: tensor 'a' needs bytes 0..16 but the file holds 8"),
    header_case("negative_shape", {"a": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}},
                r"shape \[-2\].*non-negative integers"),
    header_case("float_shape", {"a": {"dtype": "F32", "shape": [2.0], "data_offsets": [0, 8]}},
                r"shape \[2.0\].*non-negative integers"),
    header_case("string_shape", {"a": {"dtype": "F32", "shape": "2", "data_offsets": [0, 8]}}, r"shape '2'"),
    header_case("bool_shape", {"a": {"dtype": "F32", "shape": [True, 2], "data_offsets": [0, 8]}}, r"shape \[True, 2\]"),
    header_case("negative_shapes_cancelling", {"a": {"dtype": "F32", "shape": [-1, -2], "data_offsets": [0, 8]}},
                r"shape \[-1, -2\]"),
    header_case("shape_too_big_for_bytes", {"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}},
                r"8 bytes but shape \(3,\) in F32 needs 12"),
    header_case("unknown_dtype", {"a": {"dtype": "F8_E4M3", "shape": [8], "data_offsets": [0, 8]}},
                r"dtype 'F8_E4M3', which albert_np does not read \(it reads BF16, F64"),
    header_case("lowercase_dtype", {"a": {"dtype": "f32", "shape": [2], "data_offsets": [0, 8]}}, r"dtype 'f32'"),
    header_case("numeric_dtype", {"a": {"dtype": 32, "shape": [2], "data_offsets": [0, 8]}}, r"dtype 32"),
    header_case("missing_dtype", {"a": {"shape": [2], "data_offsets": [0, 8]}}, r"entry for 'a' is malformed.*'dtype'"),
    header_case("extra_field", {"a": {**GOOD, "strides": [1]}}, r"entry for 'a' is malformed.*exactly"),
    header_case("entry_is_a_list", {"a": ["F32", [2], [0, 8]]}, r"entry for 'a' is malformed"),
    header_case("header_is_a_list", [GOOD], r"corrupted header \(not a JSON object\)"),
    header_case("header_not_utf8", b'{"a": "\xff\xfe"}', r"corrupted JSON header"),
    header_case("header_not_json", b"{this is not json}", r"corrupted JSON header"),
    header_case("header_deeply_nested", b"[" * 100_000 + b"]" * 100_000, r"corrupted JSON header"),
    header_case("metadata_not_a_dict", {"__metadata__": ["format", "pt"], "a": GOOD}, r"__metadata__ must map strings"),
    header_case("metadata_value_not_a_string", {"__metadata__": {"format": 1}, "a": GOOD}, r"__metadata__ must map"),
    Case("header_length_past_the_file", run=lambda d: read_safetensors(d / "x.safetensors"), raises=an.CheckpointError,
         match=r"claims 1000 header bytes in a 20-byte file",
         setup=lambda d: (d / "x.safetensors").write_bytes(struct.pack("<Q", 1000) + b"{}" + b"\0" * 10)),
    Case("file_shorter_than_8_bytes", run=lambda d: read_safetensors(d / "x.safetensors"), raises=an.CheckpointError,
         match=r"truncated \(3 bytes", setup=lambda d: (d / "x.safetensors").write_bytes(b"abc")),
    Case("empty_file", run=lambda d: read_safetensors(d / "x.safetensors"), raises=an.CheckpointError,
         match=r"truncated \(0 bytes", setup=lambda d: (d / "x.safetensors").write_bytes(b"")),
    Case("folder_given_as_file", run=lambda d: read_safetensors(d), raises=an.CheckpointError,
         match=r"is a folder, not a .safetensors file"),
]


# ---- whole checkpoint folders ---------------------------------------------------------------------------


def tiny_checkpoint(folder):
    """A valid AlbertModel checkpoint (config.json + model.safetensors) in `folder`."""
    an.AlbertModel(tiny_config(), seed=0).save_pretrained(folder)


def load(d, name="ckpt"):
    return an.AlbertModel.from_pretrained(d / name)


def sharded(shard_name, victim=True):
    """A checkpoint whose index puts every tensor in `shard_name`; with victim, a valid file lies at ../victim."""
    def setup(d):
        tiny_checkpoint(d / "ckpt")
        tensors = read_safetensors(d / "ckpt" / "model.safetensors")[0]
        if victim:
            (d / "victim").mkdir()
            write_safetensors(d / "victim" / "model.safetensors", {k: np.array(v) for k, v in tensors.items()})
        os.remove(d / "ckpt" / "model.safetensors")
        index = {"metadata": {}, "weight_map": {k: shard_name for k in tensors}}
        (d / "ckpt" / "model.safetensors.index.json").write_text(json.dumps(index))
    return setup


def index_file(content: bytes):
    def setup(d):
        tiny_checkpoint(d / "ckpt")
        os.remove(d / "ckpt" / "model.safetensors")
        (d / "ckpt" / "model.safetensors.index.json").write_bytes(content)
    return setup


def symlinked_weights(d):
    tiny_checkpoint(d / "ckpt")
    (d / "outside").mkdir()
    os.replace(d / "ckpt" / "model.safetensors", d / "outside" / "model.safetensors")
    os.symlink(d / "outside" / "model.safetensors", d / "ckpt" / "model.safetensors")


def symlinked_shard(d):
    sharded("model-00001-of-00001.safetensors")(d)
    os.symlink(d / "victim" / "model.safetensors", d / "ckpt" / "model-00001-of-00001.safetensors")


def config_file(content: bytes):
    def setup(d):
        tiny_checkpoint(d / "ckpt")
        (d / "ckpt" / "config.json").write_bytes(content)
    return setup


def config_json(**changes):
    def setup(d):
        tiny_checkpoint(d / "ckpt")
        config = json.loads((d / "ckpt" / "config.json").read_text())
        config.update(changes)
        (d / "ckpt" / "config.json").write_text(json.dumps(config))
    return setup


FOLDER_CASES = [
    Case("index_points_to_parent_folder", run=load, raises=an.CheckpointError,
         match=r"shard '\.\./victim/model\.safetensors', outside the checkpoint folder",
         setup=sharded("../victim/model.safetensors")),
    Case("index_points_to_absolute_path", run=load, raises=an.CheckpointError,
         match=r"shard '/etc/passwd', outside the checkpoint folder", setup=sharded("/etc/passwd", victim=False)),
    Case("index_points_into_subfolder_then_out", run=load, raises=an.CheckpointError, match=r"outside the checkpoint",
         setup=sharded("sub/../../victim/model.safetensors")),
    Case("shard_symlinked_out_of_the_folder", run=load, raises=an.CheckpointError,
         match=r"resolves to .*victim.*outside the checkpoint folder", setup=symlinked_shard),
    Case("weights_symlinked_out_of_the_folder", run=load, raises=an.CheckpointError,
         match=r"model.safetensors resolves to .*outside.*outside the checkpoint folder", setup=symlinked_weights),
    Case("index_weight_map_is_a_list", run=load, raises=an.CheckpointError, match=r"'weight_map' must map",
         setup=index_file(b'{"weight_map": ["model.safetensors"]}')),
    Case("index_weight_map_value_is_a_number", run=load, raises=an.CheckpointError, match=r"'weight_map' must map",
         setup=index_file(b'{"weight_map": {"a": 1}}')),
    Case("index_without_weight_map", run=load, raises=an.CheckpointError, match=r"needs a 'weight_map'",
         setup=index_file(b'{"metadata": {}}')),
    Case("index_not_json", run=load, raises=an.CheckpointError, match=r"not a valid safetensors index",
         setup=index_file(b"weight_map")),
    Case("index_not_utf8", run=load, raises=an.CheckpointError, match=r"not a valid safetensors index",
         setup=index_file(b'{"weight_map": {"a": "\xff"}}')),
    Case("index_is_a_list", run=load, raises=an.CheckpointError, match=r"not a valid safetensors index",
         setup=index_file(b"[]")),
    Case("shard_missing", run=load, raises=an.CheckpointError, match=r"names shard 'missing.safetensors', which is missing",
         setup=sharded("missing.safetensors", victim=False)),
    Case("file_given_instead_of_folder", run=lambda d: an.AlbertModel.from_pretrained(d / "ckpt" / "config.json"),
         raises=NotADirectoryError, match=r"config.json' is a file.*pass the folder that holds it",
         setup=lambda d: tiny_checkpoint(d / "ckpt")),
    Case("weights_file_given_instead_of_folder",
         run=lambda d: an.AlbertModel.from_pretrained(d / "ckpt" / "model.safetensors"),
         raises=NotADirectoryError, match=r"model.safetensors' is a file.*pass the folder",
         setup=lambda d: tiny_checkpoint(d / "ckpt")),
    Case("folder_missing", run=load, raises=FileNotFoundError, match=r"no config.json at .*ckpt.*local directories"),
    Case("folder_empty", run=load, raises=FileNotFoundError, match=r"no config.json", setup=lambda d: (d / "ckpt").mkdir()),
    Case("only_weights_no_config", run=load, raises=FileNotFoundError, match=r"no config.json",
         setup=lambda d: (tiny_checkpoint(d / "ckpt"), os.remove(d / "ckpt" / "config.json"))),
    Case("only_config_no_weights", run=load, raises=an.CheckpointError, match=r"no model.safetensors",
         setup=lambda d: (tiny_checkpoint(d / "ckpt"), os.remove(d / "ckpt" / "model.safetensors"))),
    Case("pytorch_bin_only", run=load, raises=an.CheckpointError, match=r"pytorch_model.bin but no model.safetensors",
         setup=lambda d: (tiny_checkpoint(d / "ckpt"), os.replace(d / "ckpt" / "model.safetensors",
                                                                  d / "ckpt" / "pytorch_model.bin"))),
    Case("config_not_utf8", run=load, raises=ValueError, match=r"config.json is not UTF-8 text",
         setup=config_file('{"vocab_size": 30, "x": "é"}'.encode("latin-1"))),
    Case("config_not_json", run=load, raises=ValueError, match=r"config.json is not valid JSON",
         setup=config_file(b"vocab_size = 30")),
    Case("config_is_a_list", run=load, raises=ValueError, match=r"config.json must hold a JSON object, got a list",
         setup=config_file(b"[1, 2]")),
    Case("config_of_a_bert_model", run=load, raises=ValueError, match=r"describes a 'bert' model, not 'albert'",
         setup=config_json(model_type="bert")),
    Case("config_hidden_size_string", run=load, raises=ValueError,
         match=r"AlbertConfig.hidden_size must be a positive integer, got '12'", setup=config_json(hidden_size="12")),
    Case("config_too_few_positions_for_weights", run=load, raises=an.CheckpointError,
         match=r"position_embeddings.weight .* has shape \(16, 8\) but the config implies \(8, 8\)",
         setup=config_json(max_position_embeddings=8)),
    Case("journal_naming_outside_files", run=load, raises=an.CheckpointError,
         match=r"interrupted after its commit.*not written by albert_np",
         setup=lambda d: (tiny_checkpoint(d / "ckpt"), (d / "ckpt" / ".albert_np-commit.json").write_text(
             json.dumps({"staging": "../../etc", "files": ["passwd"]})))),
]

CASES = HEADER_CASES + FOLDER_CASES
