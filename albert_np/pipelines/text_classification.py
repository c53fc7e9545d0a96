"""text-classification: one label and score per text (or text pair), as transformers' TextClassificationPipeline."""

from __future__ import annotations

import numpy as np

from .base import Pipeline, check_positive_int, sigmoid, softmax

FUNCTIONS = ("softmax", "sigmoid", "none")
_LEGACY = object()  # top_k not given: transformers' legacy output (the best label only)


class TextClassificationPipeline(Pipeline):
    """`pipe(inputs, top_k=..., function_to_apply=None, truncation=None, max_length=None)`.

    inputs: a text, a {"text", "text_pair"} dict, or a list of either. Without top_k: the best {label, score}
    (a text gives a one-element list, a list gives one dict per input, a dict gives the dict). With top_k
    (an int, or None for all labels): labels sorted by score, top_k of them, one list per input.
    Scores: sigmoid for one label or multi-label, softmax otherwise, raw logits for regression (as transformers).
    truncation / max_length go to the tokenizer, as transformers' tokenizer_kwargs (default: no truncation).
    """

    task = "text-classification"
    per_token = False

    def __call__(self, inputs, top_k=_LEGACY, function_to_apply: str | None = None, truncation=None,
                 max_length: int | None = None):
        legacy = top_k is _LEGACY
        if not legacy:
            check_positive_int("top_k", top_k, allow_none=True)
        if function_to_apply is not None and str(function_to_apply).lower() not in FUNCTIONS:
            raise ValueError(f"function_to_apply must be one of {FUNCTIONS} or None, got {function_to_apply!r}")
        many = isinstance(inputs, (list, tuple))
        items = list(inputs) if many else [inputs]
        if many and not items:
            raise ValueError("inputs is an empty list: pass a text, a {'text', 'text_pair'} dict, or a list of them")
        cut = {k: v for k, v in (("truncation", truncation), ("max_length", max_length)) if v is not None}
        features = [self.encode(*self.split(item), **cut)[0] for item in items]
        logits = self.run_model(features)
        results = [self.postprocess(lg, function_to_apply, None if legacy else top_k, legacy) for lg in logits]
        if many:
            return results
        return [results[0]] if isinstance(inputs, str) and legacy else results[0]

    @staticmethod
    def split(item):
        if isinstance(item, str):
            return item, None
        if isinstance(item, dict) and "text" in item and set(item) <= {"text", "text_pair"}:
            return item["text"], item.get("text_pair")
        raise ValueError(f"text-classification takes a string or a dict {{'text': ..., 'text_pair': ...}}, "
                         f"got {type(item).__name__}: {item!r:.80}. Send text pairs as such a dict.")

    def function_for(self, function_to_apply):
        if function_to_apply is not None:
            return str(function_to_apply).lower()
        cfg = self.model.config
        if cfg.problem_type == "regression":
            return "none"
        if cfg.problem_type == "multi_label_classification" or cfg.num_labels == 1:
            return "sigmoid"
        return "softmax"

    def postprocess(self, logits, function_to_apply, top_k, legacy):
        logits = logits.astype(np.float32)
        function = self.function_for(function_to_apply)
        scores = sigmoid(logits) if function == "sigmoid" else softmax(logits) if function == "softmax" else logits
        id2label = self.model.config.id2label
        if legacy:
            best = int(scores.argmax())
            return {"label": id2label[best], "score": float(scores[best])}
        ranked = [{"label": id2label[i], "score": float(s)} for i, s in enumerate(scores)]
        ranked.sort(key=lambda d: d["score"], reverse=True)
        return ranked if top_k is None else ranked[:top_k]

