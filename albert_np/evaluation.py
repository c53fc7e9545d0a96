"""Evaluate a saved model on examples: accuracy and F1 for classification, entity F1 for token classification
(seqeval's IOB2 chunks), exact match and F1 for question answering (the SQuAD v1.1/v2 script's normalisation)."""

from __future__ import annotations

import collections
import re
import string

import numpy as np

from .datasets import ClassificationExample, QuestionAnsweringExample, TokenClassificationExample


def accuracy(predictions, references) -> float:
    return float(np.mean([p == r for p, r in zip(predictions, references)])) if references else 0.0


def macro_f1(predictions, references) -> float:
    """The mean over the classes seen (in references or predictions) of each class's F1."""
    scores = []
    for label in sorted(set(references) | set(predictions), key=str):
        tp = sum(p == label and r == label for p, r in zip(predictions, references))
        fp = sum(p == label and r != label for p, r in zip(predictions, references))
        fn = sum(p != label and r == label for p, r in zip(predictions, references))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return float(np.mean(scores)) if scores else 0.0


def entity_chunks(tags) -> set:
    """(type, first word, last word) of each entity in an IOB2 tag list; an I- after another type starts one."""
    chunks, start, kind = set(), None, None
    for i, tag in enumerate(list(tags) + ["O"]):
        bi, _, name = tag.partition("-") if tag != "O" else ("O", "", "")
        if kind is not None and (bi in ("O", "B") or name != kind):
            chunks.add((kind, start, i - 1))
            kind = None
        if bi == "B" or (bi == "I" and kind is None):
            start, kind = i, name
    return chunks


def entity_scores(predictions, references) -> dict:
    """precision, recall, f1 over entity chunks of all sentences (seqeval's default), and word accuracy."""
    tp = n_pred = n_ref = 0
    for p, r in zip(predictions, references):
        pc, rc = entity_chunks(p), entity_chunks(r)
        tp, n_pred, n_ref = tp + len(pc & rc), n_pred + len(pc), n_ref + len(rc)
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_ref if n_ref else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    flat_p = [t for p in predictions for t in p]
    flat_r = [t for r in references for t in r]
    return {"precision": precision, "recall": recall, "f1": f1, "accuracy": accuracy(flat_p, flat_r)}


def normalize_answer(text: str) -> str:
    """Lower case, drop punctuation, the articles a/an/the and extra whitespace (SQuAD's evaluation script)."""
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def answer_f1(prediction: str, truth: str) -> float:
    pred, gold = normalize_answer(prediction).split(), normalize_answer(truth).split()
    if not pred or not gold:
        return float(pred == gold)
    common = collections.Counter(pred) & collections.Counter(gold)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(gold)
    return 2 * precision * recall / (precision + recall)


def squad_scores(predictions, answers) -> dict:
    """exact_match and f1 in percent, each the best over an example's gold answers ([""] when it has none)."""
    em = f1 = 0.0
    for prediction, gold in zip(predictions, answers):
        gold = gold or [""]
        em += max(float(normalize_answer(prediction) == normalize_answer(g)) for g in gold)
        f1 += max(answer_f1(prediction, g) for g in gold)
    n = max(len(predictions), 1)
    return {"exact_match": 100.0 * em / n, "f1": 100.0 * f1 / n}


def _label_name(config, label):
    if isinstance(label, int) and not isinstance(label, bool):
        if label not in config.id2label:
            raise ValueError(f"label id {label} is not a class of this model (id2label: {config.id2label})")
        return config.id2label[label]
    if label not in config.label2id:
        raise ValueError(f"label {label!r} is not a class of this model (labels: {sorted(config.label2id)}): "
                         "use the model's label names or ids")
    return label


def evaluate_classification(pipe, examples: list[ClassificationExample], max_length: int | None = None) -> dict:
    """Accuracy and macro F1; texts longer than max_length tokens (default: what the model and its tokenizer
    take) are cut, as fine-tuning cut them."""
    references = [_label_name(pipe.model.config, e.label) for e in examples]
    inputs = [{"text": e.text, "text_pair": e.text_pair} if e.text_pair is not None else e.text for e in examples]
    if max_length is None:
        max_length = min(pipe.tokenizer.model_max_length, pipe.model.config.max_position_embeddings)
    predictions = [r["label"] for r in pipe(inputs, truncation=True, max_length=max_length)]
    return {"examples": len(examples), "accuracy": accuracy(predictions, references),
            "f1": macro_f1(predictions, references)}


def predict_word_tags(pipe, words: list[str]) -> list[str]:
    """A tag per word: the label of the word's first piece (as run_ner scores it), on the words joined by spaces."""
    text = " ".join(words)
    starts = np.cumsum([0] + [len(w) + 1 for w in words[:-1]])
    tags = ["O"] * len(words)
    seen = set()
    for token in pipe(text, aggregation_strategy="none", ignore_labels=[]):
        word = int(np.searchsorted(starts, token["start"], side="right")) - 1
        if word not in seen:
            seen.add(word)
            tags[word] = token["entity"]
    return tags


def evaluate_token_classification(pipe, examples: list[TokenClassificationExample]) -> dict:
    references = [[_label_name(pipe.model.config, t) for t in e.tags] for e in examples]
    predictions = [predict_word_tags(pipe, e.tokens) for e in examples]
    return {"examples": len(examples), **entity_scores(predictions, references)}


def evaluate_question_answering(pipe, examples: list[QuestionAnsweringExample], **kwargs) -> dict:
    impossible = any(not e.answers for e in examples)
    items = [{"question": e.question, "context": e.context} for e in examples]
    results = pipe(items, handle_impossible_answer=impossible, **kwargs)
    return {"examples": len(examples), **squad_scores([r["answer"] for r in results], [e.answers for e in examples])}
