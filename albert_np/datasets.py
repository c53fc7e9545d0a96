"""Read a user's CSV or JSON-lines file into examples, in the formats of transformers' example scripts.

* text classification (run_glue / run_classification): a text column, an optional text-pair column, a label
  column (a label name, or a class id);
* token classification (run_ner): a list of words (`tokens`) and one tag per word (`ner_tags`: names or ids);
  in a CSV, a list cell is a JSON list or the words separated by spaces;
* question answering (run_qa, SQuAD): `question`, `context` and `answers` = {"text": [...], "answer_start": [...]}
  (empty lists for a question the context does not answer); in a CSV, `answers` is that dict as JSON.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field


@dataclass
class ClassificationExample:
    text: str
    text_pair: str | None
    label: str | int            # a label name, or a class id


@dataclass
class TokenClassificationExample:
    tokens: list                # [W] words
    tags: list                  # [W] a tag (name or id) per word


@dataclass
class QuestionAnsweringExample:
    question: str
    context: str
    answers: list               # [A] answer texts; empty when the context holds no answer
    answer_starts: list = field(default_factory=list)   # [A] character offsets in context (SQuAD's answer_start)


def read_records(path) -> list[dict]:
    """The rows of a .csv (header line first) or .jsonl/.json (one JSON object per line) file, as dicts."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no file at {path!r}: pass a .csv or .jsonl file of examples")
    ext = os.path.splitext(path)[1].lower()
    with open(path, encoding="utf-8", newline="") as f:
        if ext == ".csv":
            return list(csv.DictReader(f))
        if ext in (".jsonl", ".json"):
            records = []
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as e:
                    raise ValueError(f"{path} line {number} is not JSON ({e.msg}): write one JSON object per line") from None
                if not isinstance(record, dict):
                    raise ValueError(f"{path} line {number} is a {type(record).__name__}, not a JSON object "
                                     "{\"column\": value, ...}")
                records.append(record)
            return records
    raise ValueError(f"{path!r} has the extension {ext!r}: albert_np reads .csv and .jsonl (JSON lines) files")


def column(records, name, path="the file"):
    """The values of column `name`, or an error listing the columns there are."""
    if not records:
        raise ValueError(f"{path} holds no examples")
    missing = [i for i, r in enumerate(records) if name not in r]
    if missing:
        raise ValueError(f"{path} has no column {name!r} (row {missing[0] + 1} has {sorted(records[missing[0]])}): "
                         f"name the right one with the matching --...-column option")
    return [r[name] for r in records]


def _as_list(value, name):
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        value = value.strip()
        if value.startswith("["):
            return json.loads(value)
        return value.split()
    raise ValueError(f"column {name!r} must hold lists (or, in a CSV, JSON lists or space-separated words), got {value!r:.60}")


def _label(value):
    """A class id (int, or a CSV cell of digits) or a label name."""
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return value


def classification_examples(records, text_column="text", text_pair_column=None, label_column="label",
                            path="the file") -> list[ClassificationExample]:
    texts = column(records, text_column, path)
    pairs = column(records, text_pair_column, path) if text_pair_column else [None] * len(texts)
    labels = column(records, label_column, path)
    return [ClassificationExample(str(t), None if p is None else str(p), _label(y)) for t, p, y in zip(texts, pairs, labels)]


def token_classification_examples(records, tokens_column="tokens", tags_column="ner_tags",
                                  path="the file") -> list[TokenClassificationExample]:
    examples = []
    for i, (tokens, tags) in enumerate(zip(column(records, tokens_column, path), column(records, tags_column, path))):
        tokens, tags = _as_list(tokens, tokens_column), [_label(t) for t in _as_list(tags, tags_column)]
        if len(tokens) != len(tags):
            raise ValueError(f"{path} row {i + 1}: {len(tokens)} words in {tokens_column!r} but {len(tags)} tags in "
                             f"{tags_column!r}: give one tag per word")
        examples.append(TokenClassificationExample([str(t) for t in tokens], tags))
    return examples


def question_answering_examples(records, question_column="question", context_column="context",
                                answers_column="answers", path="the file") -> list[QuestionAnsweringExample]:
    examples = []
    rows = zip(column(records, question_column, path), column(records, context_column, path),
               column(records, answers_column, path))
    for i, (question, context, answers) in enumerate(rows):
        if isinstance(answers, str):
            answers = json.loads(answers) if answers.strip().startswith(("{", "[")) else {"text": [answers]}
        texts = answers.get("text") if isinstance(answers, dict) else answers
        starts = answers.get("answer_start", []) if isinstance(answers, dict) else []
        if not isinstance(texts, list) or not isinstance(starts, list):
            raise ValueError(f"{path} row {i + 1}: {answers_column!r} must be {{\"text\": [...], \"answer_start\": "
                             f"[...]}} as in SQuAD, got {answers!r:.80}")
        examples.append(QuestionAnsweringExample(str(question), str(context), [str(t) for t in texts],
                                                 [_label(s) for s in starts]))
    return examples
