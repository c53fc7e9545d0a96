"""Auto classes: pick the ALBERT class for a folder from its config.json, as transformers' Auto classes do.

transformers chooses by `model_type` (here it must be "albert") and by which Auto class is asked: AutoModel
gives the bare encoder, AutoModelForMaskedLM the MLM head, ..., whatever head `architectures` names (a head
loads from another head's checkpoint, e.g. AutoModelForMaskedLM from an AlbertForPreTraining folder).
A config.json without `model_type` is accepted when its `architectures` are ALBERT classes.
"""

from __future__ import annotations

import json
import os
from typing import Any

from ._types import PathLike
from .config import CONFIG_NAME, AlbertConfig
from .pretrained import AlbertPreTrainedModel
from .modeling import (
    AlbertForMaskedLM,
    AlbertForMultipleChoice,
    AlbertForPreTraining,
    AlbertForQuestionAnswering,
    AlbertForSequenceClassification,
    AlbertForTokenClassification,
    AlbertModel,
)
from .tokenizer import SPIECE_MODEL, TOKENIZER_CONFIG, AlbertTokenizer

TOKENIZER_CLASSES = ("AlbertTokenizer", "AlbertTokenizerFast")


def read_config_dict(path) -> dict:
    """config.json of the folder `path` as a dict, after checking that it describes an ALBERT model."""
    path = os.fspath(path)
    if not os.path.isdir(path):
        raise FileNotFoundError(
            f"no folder at {path!r}: pass a local folder written by save_pretrained (albert_np never downloads; "
            "fetch hub models with `huggingface-cli download` first)")
    file = os.path.join(path, CONFIG_NAME)
    if not os.path.isfile(file):
        raise FileNotFoundError(f"{path!r} has no {CONFIG_NAME}: pass a folder written by save_pretrained")
    try:
        with open(file, encoding="utf-8") as f:
            config = json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"{file} is not valid JSON ({e}); re-save the model") from None
    model_type = config.get("model_type")
    if model_type is None:
        architectures = config.get("architectures") or []
        if not architectures or not all(str(a).startswith("Albert") for a in architectures):
            raise ValueError(f"{file} has no 'model_type' and its architectures {architectures!r} are not ALBERT "
                             "classes: add \"model_type\": \"albert\" if it is an ALBERT model")
    elif model_type != "albert":
        raise ValueError(f"{path!r} holds a {model_type!r} model (config.json model_type={model_type!r}); albert_np "
                         "implements ALBERT only: load this folder with transformers' Auto classes instead")
    return config


class AutoConfig:
    """`AutoConfig.from_pretrained(folder, **overrides)` -> AlbertConfig, after checking the model type."""

    def __init__(self):
        raise OSError("AutoConfig is not instantiated: use AutoConfig.from_pretrained(folder)")

    @staticmethod
    def from_pretrained(path: PathLike, **overrides: Any) -> AlbertConfig:
        read_config_dict(path)
        return AlbertConfig.from_pretrained(path, **overrides)


class AutoTokenizer:
    """`AutoTokenizer.from_pretrained(folder)` -> AlbertTokenizer, from spiece.model (+ tokenizer_config.json)."""

    def __init__(self):
        raise OSError("AutoTokenizer is not instantiated: use AutoTokenizer.from_pretrained(folder)")

    @staticmethod
    def from_pretrained(path: PathLike, **kwargs: Any) -> AlbertTokenizer:
        path = os.fspath(path)
        if not os.path.isdir(path):
            raise FileNotFoundError(f"no folder at {path!r}: pass a local folder holding {SPIECE_MODEL} "
                                    "(albert_np never downloads)")
        settings = {}
        file = os.path.join(path, TOKENIZER_CONFIG)
        if os.path.isfile(file):
            with open(file, encoding="utf-8") as f:
                settings = json.load(f)
        tokenizer_class = settings.get("tokenizer_class")
        if tokenizer_class is None and os.path.isfile(os.path.join(path, CONFIG_NAME)):
            read_config_dict(path)  # no tokenizer class named: the model's type decides, as in transformers
        elif tokenizer_class is not None and tokenizer_class not in TOKENIZER_CLASSES:
            raise ValueError(f"{file} names tokenizer_class={tokenizer_class!r}; albert_np has ALBERT's "
                             f"SentencePiece tokenizer only ({', '.join(TOKENIZER_CLASSES)})")
        if not os.path.isfile(os.path.join(path, SPIECE_MODEL)):
            raise FileNotFoundError(f"{path!r} has no {SPIECE_MODEL}: save the tokenizer there "
                                    "(tokenizer.save_pretrained(folder)) or pass tokenizer=<folder with it>")
        return AlbertTokenizer.from_pretrained(path, **kwargs)


class _AutoModelBase:
    """from_pretrained(folder, dtype=..., backend=..., **config_overrides) and from_config(config, ...)."""

    model_class = None  # the ALBERT class this Auto class builds

    def __init__(self):
        raise OSError(f"{type(self).__name__} is not instantiated: use {type(self).__name__}.from_pretrained(folder)"
                      " or .from_config(config)")

    @classmethod
    def from_pretrained(cls, path: PathLike, **kwargs: Any) -> AlbertPreTrainedModel:
        read_config_dict(path)
        return cls.model_class.from_pretrained(path, **kwargs)

    @classmethod
    def from_config(cls, config: AlbertConfig, **kwargs: Any) -> AlbertPreTrainedModel:
        if not isinstance(config, AlbertConfig):
            raise TypeError(f"{cls.__name__}.from_config needs an AlbertConfig, got {type(config).__name__}")
        return cls.model_class(config, **kwargs)


class AutoModel(_AutoModelBase):
    model_class = AlbertModel


class AutoModelForPreTraining(_AutoModelBase):
    model_class = AlbertForPreTraining


class AutoModelForMaskedLM(_AutoModelBase):
    model_class = AlbertForMaskedLM


class AutoModelForSequenceClassification(_AutoModelBase):
    model_class = AlbertForSequenceClassification


class AutoModelForMultipleChoice(_AutoModelBase):
    model_class = AlbertForMultipleChoice


class AutoModelForTokenClassification(_AutoModelBase):
    model_class = AlbertForTokenClassification


class AutoModelForQuestionAnswering(_AutoModelBase):
    model_class = AlbertForQuestionAnswering


AUTO_MODEL_CLASSES = (AutoModel, AutoModelForPreTraining, AutoModelForMaskedLM, AutoModelForSequenceClassification,
                      AutoModelForMultipleChoice, AutoModelForTokenClassification, AutoModelForQuestionAnswering)
