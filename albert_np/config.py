"""AlbertConfig: every field transformers' AlbertConfig has, with the same defaults, read from and written to config.json."""

from __future__ import annotations

import copy
import json
import math
import os
from typing import Any

from ._types import PathLike
from .checkpoint import checkpoint_folder
from .io_utils import atomic_write_text, finish_interrupted_save, make_target_folder

# The ALBERT-specific fields and defaults, as in transformers' configuration_albert.py (albert-xxlarge-v2 shapes).
ALBERT_DEFAULTS = {
    "vocab_size": 30000,
    "embedding_size": 128,
    "hidden_size": 4096,
    "num_hidden_layers": 12,
    "num_hidden_groups": 1,
    "num_attention_heads": 64,
    "intermediate_size": 16384,
    "inner_group_num": 1,
    "hidden_act": "gelu_new",
    "hidden_dropout_prob": 0.0,
    "attention_probs_dropout_prob": 0.0,
    "max_position_embeddings": 512,
    "type_vocab_size": 2,
    "initializer_range": 0.02,
    "layer_norm_eps": 1e-12,
    "classifier_dropout_prob": 0.1,
    "pad_token_id": 0,
    "bos_token_id": 2,
    "eos_token_id": 3,
    "tie_word_embeddings": True,
}

# Fields every transformers config has (PreTrainedConfig), with its defaults. Those that change what an ALBERT
# model does or returns are honoured; `dtype` is the weights' dtype when saved, `is_encoder_decoder` always false.
COMMON_DEFAULTS = {
    "problem_type": None,
    "output_hidden_states": False,
    "output_attentions": False,
    "return_dict": True,
    "chunk_size_feed_forward": 0,
    "architectures": None,
    "dtype": None,
    "is_encoder_decoder": False,
}

# What transformers 5.24's PreTrainedConfig().to_dict() holds besides transformers_version, _name_or_path and
# model_type: to_diff_dict() leaves out a key whose value equals it, as transformers' does.
BASE_CONFIG_DEFAULTS = {**COMMON_DEFAULTS, "id2label": {0: "LABEL_0", 1: "LABEL_1"},
                        "label2id": {"LABEL_0": 0, "LABEL_1": 1}}

# The activations albert_np implements (ops.ACTIVATIONS; tests/test_config.py checks the two lists agree).
HIDDEN_ACTS = ("gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "relu", "silu", "swish", "tanh")

PROBLEM_TYPES = ("regression", "single_label_classification", "multi_label_classification")

CONFIG_NAME = "config.json"


class AlbertConfig:
    """ALBERT's hyper-parameters; unknown keys from a config.json are kept and written back unchanged."""

    model_type = "albert"

    def __init__(self, **kwargs: Any):
        num_labels = kwargs.pop("num_labels", None)
        id2label = kwargs.pop("id2label", None)
        label2id = kwargs.pop("label2id", None)
        self._name_or_path = str(kwargs.pop("_name_or_path", ""))
        for key, default in {**ALBERT_DEFAULTS, **COMMON_DEFAULTS}.items():
            setattr(self, key, copy.deepcopy(kwargs.pop(key, default)))
        kwargs.pop("model_type", None)
        # Everything else (dtype, transformers_version, task-specific keys, ...) is carried along as-is.
        self._extra = kwargs

        # Labels follow transformers: id2label is the source of truth, num_labels derives it (default 2).
        if num_labels is not None:
            _check_int("num_labels", num_labels, low=1, what="a positive integer (2 for a binary classifier)")
        if id2label is not None:
            if not isinstance(id2label, dict):
                raise ValueError(f"AlbertConfig.id2label must be a dict {{id: name}}, got {id2label!r}")
            try:
                self.id2label = {int(k): v for k, v in id2label.items()}
            except (TypeError, ValueError):
                raise ValueError(f"AlbertConfig.id2label keys must be integer ids (or their strings), got {list(id2label)}") from None
        else:
            self.id2label = {i: f"LABEL_{i}" for i in range(2 if num_labels is None else num_labels)}
        if num_labels is not None and num_labels != len(self.id2label):
            self.id2label = {i: f"LABEL_{i}" for i in range(num_labels)}
            label2id = None   # the names changed: label2id follows them (transformers' num_labels setter)
        if label2id is not None and not isinstance(label2id, dict):
            raise ValueError(f"AlbertConfig.label2id must be a dict {{name: id}}, got {label2id!r}")
        self.label2id = dict(label2id) if label2id is not None else {v: k for k, v in self.id2label.items()}
        self.validate()

    # ---- labels ------------------------------------------------------------------------------------

    @property
    def num_labels(self) -> int:
        return len(self.id2label)

    @num_labels.setter
    def num_labels(self, n: int) -> None:
        _check_int("num_labels", n, low=1, what="a positive integer (2 for a binary classifier)")
        if n != self.num_labels:
            self.id2label = {i: f"LABEL_{i}" for i in range(n)}
            self.label2id = {v: k for k, v in self.id2label.items()}

    # ---- checks ------------------------------------------------------------------------------------

    def validate(self) -> None:
        """Fail early on a config no ALBERT model can be built from: a ValueError naming the field, value and range."""
        for key in ("vocab_size", "embedding_size", "hidden_size", "num_hidden_layers", "num_hidden_groups",
                    "num_attention_heads", "intermediate_size", "inner_group_num", "max_position_embeddings",
                    "type_vocab_size"):
            _check_int(key, getattr(self, key), low=1, what="a positive integer")
        if self.hidden_size % self.num_attention_heads != 0:
            raise ValueError(
                f"AlbertConfig.hidden_size ({self.hidden_size}) must be a multiple of num_attention_heads "
                f"({self.num_attention_heads}): each head gets hidden_size / num_attention_heads features"
            )
        if self.num_hidden_groups > self.num_hidden_layers:
            raise ValueError(
                f"AlbertConfig.num_hidden_groups ({self.num_hidden_groups}) cannot exceed num_hidden_layers "
                f"({self.num_hidden_layers}): some groups would never run"
            )
        if not isinstance(self.hidden_act, str) or self.hidden_act not in HIDDEN_ACTS:
            raise ValueError(f"AlbertConfig.hidden_act {self.hidden_act!r} is not supported by albert_np; "
                             f"use one of {sorted(HIDDEN_ACTS)}")
        for key in ("hidden_dropout_prob", "attention_probs_dropout_prob", "classifier_dropout_prob"):
            value = getattr(self, key)
            if value is None and key == "classifier_dropout_prob":
                continue   # transformers: None means "use hidden_dropout_prob"
            _check_number(key, value, "in [0, 1)", lambda v: 0.0 <= v < 1.0)
        _check_number("layer_norm_eps", self.layer_norm_eps, "> 0 (e.g. 1e-12)", lambda v: v > 0.0)
        _check_number("initializer_range", self.initializer_range, ">= 0 (e.g. 0.02)", lambda v: v >= 0.0)
        for key in ("pad_token_id", "bos_token_id", "eos_token_id"):
            value = getattr(self, key)
            if value is not None:
                _check_int(key, value, low=0, high=self.vocab_size - 1,
                           what=f"None or a token id in [0, vocab_size - 1 = {self.vocab_size - 1}]")
        for key in ("tie_word_embeddings", "output_hidden_states", "output_attentions", "return_dict",
                    "is_encoder_decoder"):
            value = getattr(self, key)
            if not isinstance(value, bool):
                raise ValueError(f"AlbertConfig.{key} must be true or false, got {value!r} ({type(value).__name__})")
        _check_int("chunk_size_feed_forward", self.chunk_size_feed_forward, low=0, what="an integer >= 0")
        if self.architectures is not None and (
                not isinstance(self.architectures, list) or not all(isinstance(a, str) for a in self.architectures)):
            raise ValueError(f"AlbertConfig.architectures must be None or a list of class names, got {self.architectures!r}")
        if self.dtype is not None and not isinstance(self.dtype, str):
            raise ValueError(f"AlbertConfig.dtype must be None or a dtype name such as 'float32', got {self.dtype!r}")
        if self.problem_type is not None and self.problem_type not in PROBLEM_TYPES:
            raise ValueError(f"AlbertConfig.problem_type must be None or one of {PROBLEM_TYPES}, got {self.problem_type!r}")
        if not all(isinstance(v, str) for v in self.id2label.values()):
            raise ValueError(f"AlbertConfig.id2label must map label ids to names (strings), got {self.id2label!r}")
        if sorted(self.id2label) != list(range(len(self.id2label))):
            raise ValueError(f"AlbertConfig.id2label must have the ids 0..num_labels-1, got {sorted(self.id2label)}")
        if not isinstance(self.label2id, dict) or not all(_is_int(v) for v in self.label2id.values()):
            raise ValueError(f"AlbertConfig.label2id must map label names to integer ids, got {self.label2id!r}")

    # ---- (de)serialisation -------------------------------------------------------------------------

    @property
    def name_or_path(self) -> str:
        """The folder (or file) from_pretrained read this config from; "" for a config built in code."""
        return self._name_or_path

    def to_dict(self) -> dict:
        """Every field, with the keys transformers 5.24's AlbertConfig().to_dict() has (id2label with int keys).

        Two differences: `transformers_version` is there only when the config was read from a file that had
        it (then kept as read), since no version of transformers wrote a config albert_np built; and label2id
        given id2label alone is id2label inverted, where transformers 5.24 leaves it None. Keys from a
        config.json that albert_np does not know (finetuning_task, ...) are included as read.
        """
        out = {key: copy.deepcopy(getattr(self, key)) for key in (*ALBERT_DEFAULTS, *COMMON_DEFAULTS)}
        out["id2label"] = dict(self.id2label)
        out["label2id"] = dict(self.label2id)
        out["_name_or_path"] = self._name_or_path
        out.update(copy.deepcopy(self._extra))
        out["model_type"] = self.model_type
        return dict(sorted(out.items()))

    def to_diff_dict(self) -> dict:
        """to_dict() without the keys whose value is transformers' PreTrainedConfig default, and without
        `_name_or_path`: what config.json holds (transformers' to_diff_dict). Every ALBERT field is kept."""
        out = {}
        for key, value in self.to_dict().items():
            if key == "_name_or_path":
                continue
            if key not in BASE_CONFIG_DEFAULTS or value != BASE_CONFIG_DEFAULTS[key]:
                out[key] = value
        return out

    def to_json_string(self, use_diff: bool = True) -> str:
        """The config as JSON text (sorted keys, 2-space indent), as transformers': use_diff=True (the default)
        writes to_diff_dict(), what config.json holds; use_diff=False writes every field, to_dict()."""
        if not isinstance(use_diff, bool):
            raise TypeError(f"to_json_string(use_diff=...) takes True or False, got {use_diff!r}")
        d = self.to_diff_dict() if use_diff else self.to_dict()
        if "id2label" in d:
            d["id2label"] = {str(k): v for k, v in d["id2label"].items()}
        return json.dumps(d, indent=2, sort_keys=True) + "\n"

    def to_json_file(self, json_file_path: PathLike, use_diff: bool = True) -> None:
        """Write to_json_string(use_diff) to `json_file_path`, atomically (a crash leaves the old file whole
        or the new one, never half of one). from_json_file / from_pretrained read it back."""
        path = os.fspath(json_file_path)
        text = self.to_json_string(use_diff=use_diff)
        if os.path.isdir(path):
            raise IsADirectoryError(f"to_json_file needs a file path, but {path!r} is a folder; pass "
                                    f"{os.path.join(path, CONFIG_NAME)!r}, or use save_pretrained({path!r})")
        atomic_write_text(path, text)

    @classmethod
    def from_dict(cls, d: dict) -> "AlbertConfig":
        if not isinstance(d, dict):
            raise ValueError(f"AlbertConfig.from_dict needs a dict of fields, got {type(d).__name__}")
        model_type = d.get("model_type", "albert")
        if model_type != "albert":
            raise ValueError(f"this config.json describes a {model_type!r} model, not 'albert'")
        return cls(**d)

    @classmethod
    def from_json_file(cls, path: PathLike) -> "AlbertConfig":
        try:
            with open(path, encoding="utf-8") as f:
                d = json.load(f)
        except UnicodeDecodeError as e:
            raise ValueError(f"{path} is not UTF-8 text ({e}); config.json must be UTF-8 JSON: re-download or re-save it") from None
        except (json.JSONDecodeError, RecursionError) as e:
            raise ValueError(f"{path} is not valid JSON ({e}); re-download or re-save the config") from None
        if not isinstance(d, dict):
            raise ValueError(f"{path} must hold a JSON object, got a {type(d).__name__}; re-download or re-save the config")
        return cls.from_dict(d)

    @classmethod
    def from_pretrained(cls, path: PathLike, **overrides: Any) -> "AlbertConfig":
        """Read `path/config.json` (or `path` itself when it is a file); keyword arguments override fields."""
        path = os.fspath(path)
        if os.path.isfile(path) and path.endswith(".json"):
            file = path
        else:   # a folder; checkpoint_folder finishes an interrupted save and refuses other files (model.safetensors)
            file = os.path.join(checkpoint_folder(path) if os.path.exists(path) else path, CONFIG_NAME)
        if not os.path.isfile(file):
            raise FileNotFoundError(
                f"no {CONFIG_NAME} at {path!r}: albert_np loads local directories only (no hub downloads); "
                "point it at a folder written by save_pretrained"
            )
        d = cls.from_json_file(file).to_dict()
        d.update(overrides)
        d["_name_or_path"] = path
        return cls.from_dict(d)

    def save_pretrained(self, path: PathLike) -> None:
        """Write `path/config.json` atomically; nothing else in `path` is touched (a file at `path` is an error)."""
        make_target_folder(path)
        finish_interrupted_save(path)   # else a later roll-forward of an older save would undo this write
        atomic_write_text(os.path.join(path, CONFIG_NAME), self.to_json_string())

    def __eq__(self, other: object) -> bool:
        """Equal fields; where the config was read from (name_or_path) does not count."""
        return isinstance(other, AlbertConfig) and self.to_diff_dict() == other.to_diff_dict()

    def __repr__(self) -> str:
        return f"AlbertConfig {self.to_json_string()}"


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_int(key, value, low, what, high=None):
    if not _is_int(value) or value < low or (high is not None and value > high):
        raise ValueError(f"AlbertConfig.{key} must be {what}, got {value!r}" + _type_hint(value))


def _check_number(key, value, allowed, ok):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not ok(value):
        raise ValueError(f"AlbertConfig.{key} must be a number {allowed}, got {value!r}" + _type_hint(value))


def _type_hint(value) -> str:
    """A hint for the usual mistakes: numbers written as strings, booleans or lists where one value belongs."""
    if isinstance(value, str):
        return " (a string: write the number itself, without quotes)"
    if isinstance(value, (list, dict)):
        return f" (a {type(value).__name__}: give one value)"
    if value is None:
        return " (null: give a value)"
    if isinstance(value, bool):
        return " (a boolean)"
    return ""
