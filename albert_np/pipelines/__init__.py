"""`pipeline(task, model=..., tokenizer=...)`: transformers' inference pipelines for ALBERT, in NumPy.

Each task is a module (preprocess -> batched model run without a tape -> postprocess) returning exactly
transformers' result structures; docs/pipelines.md says which transformers algorithm each follows.
"""

from __future__ import annotations

import os
from typing import Any

from ..auto import (
    AutoModel,
    AutoModelForMaskedLM,
    AutoModelForQuestionAnswering,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    AutoTokenizer,
)
from .base import Pipeline
from .feature_extraction import FeatureExtractionPipeline
from .fill_mask import FillMaskPipeline
from .question_answering import QuestionAnsweringPipeline
from .text_classification import TextClassificationPipeline
from .token_classification import AGGREGATION_STRATEGIES, TokenClassificationPipeline

# task -> (pipeline class, Auto class that loads its model); aliases as in transformers
TASKS = {
    "fill-mask": (FillMaskPipeline, AutoModelForMaskedLM),
    "text-classification": (TextClassificationPipeline, AutoModelForSequenceClassification),
    "token-classification": (TokenClassificationPipeline, AutoModelForTokenClassification),
    "question-answering": (QuestionAnsweringPipeline, AutoModelForQuestionAnswering),
    "feature-extraction": (FeatureExtractionPipeline, AutoModel),
}
ALIASES = {"sentiment-analysis": "text-classification", "ner": "token-classification"}


def pipeline(task: str, model: Any = None, tokenizer: Any = None, batch_size: int = 8, dtype: str = "float32",
             backend: Any = "numpy") -> Pipeline:
    """A ready pipeline for `task` ("fill-mask", "text-classification" / "sentiment-analysis",
    "token-classification" / "ner", "question-answering", "feature-extraction").

    model: a folder (loaded with the task's Auto class, in `dtype` on `backend`) or a loaded ALBERT model.
    tokenizer: a folder or an AlbertTokenizer; default: the model's folder (needed when model is an object).
    batch_size: how many sequences run through the model at once (results do not depend on it).
    """
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}: pass e.g. batch_size=8")
    name = ALIASES.get(task, task)
    if name not in TASKS:
        raise ValueError(f"unknown task {task!r}: albert_np has the pipelines {sorted(TASKS) + sorted(ALIASES)}")
    pipeline_class, auto_class = TASKS[name]
    if model is None:
        raise ValueError(f"pipeline({task!r}) needs model=<folder written by save_pretrained, or a loaded model>: "
                         "albert_np has no default model to download")
    if isinstance(model, (str, os.PathLike)):
        if tokenizer is None:
            tokenizer = model
        model = auto_class.from_pretrained(model, dtype=dtype, backend=backend)
    elif tokenizer is None:
        raise ValueError(f"pipeline({task!r}) got a model object but no tokenizer: pass tokenizer=<folder or "
                         "AlbertTokenizer>")
    if isinstance(tokenizer, (str, os.PathLike)):
        tokenizer = AutoTokenizer.from_pretrained(tokenizer)
    return pipeline_class(model, tokenizer, batch_size=batch_size)


__all__ = ["AGGREGATION_STRATEGIES", "ALIASES", "TASKS", "FeatureExtractionPipeline", "FillMaskPipeline", "Pipeline",
           "QuestionAnsweringPipeline", "TextClassificationPipeline", "TokenClassificationPipeline", "pipeline"]
