"""question-answering: an answer span of the context, as transformers v4's QuestionAnsweringPipeline.

transformers 5.24 has no question-answering pipeline; this follows the v4 algorithm (the live test writes it
out against transformers' tokenizer and model):
1. tokenize (question, context) with truncation="only_second", max_length=max_seq_len (384), stride=doc_stride
   (128), so a long context becomes overlapping windows;
2. per window: start/end logits of non-context tokens (except [CLS]) set to -10000, softmax each, the null score
   p_start[0] * p_end[0] kept (handle_impossible_answer), [CLS] zeroed, then the top_k spans of the outer product
   p_start[i] * p_end[j] with i <= j < i + max_answer_len, both ends in the context;
3. a span is widened to the whitespace words its first and last tokens belong to (align_to_words) and mapped back
   to characters of the context through the offsets; answers of all windows sorted by score, top_k kept.
"""

from __future__ import annotations

import bisect
import re

import numpy as np

from .base import Feature, Pipeline, check_positive_int

# The characters Rust's char::is_whitespace accepts: what splits words for the tokenizer's WhitespaceSplit.
_WORDS = re.compile("[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+")


def decode_spans(start, end, top_k, max_answer_len, undesired):
    """The top_k (start, end, score) of outer(start, end) over i <= j < i + max_answer_len, both ends wanted.

    start, end: [S] probabilities; undesired: [S] 1 where a token may be part of the answer (transformers' name).
    """
    outer = np.matmul(start[None, :, None], end[None, None, :])              # [1, S, S]
    candidates = np.tril(np.triu(outer), max_answer_len - 1)
    flat = candidates.flatten()
    if top_k == 1:
        order = [np.argmax(flat)]
    elif len(flat) < top_k:
        order = np.argsort(-flat)
    else:
        idx = np.argpartition(-flat, top_k)[0:top_k]
        order = idx[np.argsort(-flat[idx])]
    starts, ends = np.unravel_index(order, candidates.shape)[1:]
    wanted = np.isin(starts, undesired.nonzero()) & np.isin(ends, undesired.nonzero())
    starts, ends = starts[wanted], ends[wanted]
    return starts, ends, candidates[0, starts, ends]


def select_starts_ends(start, end, p_mask, attention_mask, min_null_score, top_k, handle_impossible_answer,
                       max_answer_len):
    """Mask, normalise and decode one window's logits; returns (starts, ends, scores, min_null_score)."""
    undesired = np.abs(np.asarray(p_mask) - 1) & np.asarray(attention_mask)  # 1 = may answer
    masked = undesired == 0
    start = np.where(masked, -10000.0, start)
    end = np.where(masked, -10000.0, end)
    start = np.exp(start - start.max(axis=-1, keepdims=True))
    start = start / start.sum()
    end = np.exp(end - end.max(axis=-1, keepdims=True))
    end = end / end.sum()
    if handle_impossible_answer:
        min_null_score = min(min_null_score, float(start[0] * end[0]))
    start[0] = end[0] = 0.0  # [CLS] is no answer span
    starts, ends, scores = decode_spans(start, end, top_k, max_answer_len, undesired)
    return starts, ends, scores, min_null_score


class QuestionAnsweringPipeline(Pipeline):
    """`pipe(question=..., context=..., top_k=1, max_answer_len=15, handle_impossible_answer=False,
    max_seq_len=384, doc_stride=128, align_to_words=True)`, or `pipe({"question", "context"})`, or lists.

    One question: {score, start, end, answer} (top_k > 1: a list of them, best first); lists of questions and
    contexts (or of dicts): one such result per pair. start/end index characters of the context.
    """

    task = "question-answering"
    send_token_type_ids = True  # v4's pipeline asked the tokenizer for them (return_token_type_ids=True)

    def __call__(self, *args, question=None, context=None, top_k: int = 1, max_answer_len: int = 15,
                 handle_impossible_answer: bool = False, max_seq_len: int | None = None, doc_stride: int | None = None,
                 align_to_words: bool = True, max_question_len: int = 64):
        pairs, single = self.parse_inputs(args, question, context)
        check_positive_int("top_k", top_k)
        check_positive_int("max_answer_len", max_answer_len)
        if max_seq_len is None:
            max_seq_len = min(self.tokenizer.model_max_length, 384)
        if doc_stride is None:
            doc_stride = min(max_seq_len // 2, 128)
        check_positive_int("max_seq_len", max_seq_len)
        if doc_stride > max_seq_len:
            raise ValueError(f"doc_stride ({doc_stride}) is larger than max_seq_len ({max_seq_len}): "
                             "pass a doc_stride below max_seq_len")
        features, owner = [], []
        for k, (q, c) in enumerate(pairs):
            for f in self.preprocess(q, c, max_seq_len, doc_stride):
                features.append(f)
                owner.append(k)
        outputs = self.run_model(features)
        results = []
        for k, (_, c) in enumerate(pairs):
            mine = [(f, o) for f, o, who in zip(features, outputs, owner) if who == k]
            results.append(self.postprocess(c, mine, top_k, handle_impossible_answer, max_answer_len, align_to_words))
        return results[0] if single else results

    @staticmethod
    def parse_inputs(args, question, context):
        if args:
            if question is not None or context is not None or len(args) > 1:
                raise ValueError("pass either question=... and context=..., or one dict/list of dicts, not both")
            items, single = (list(args[0]), False) if isinstance(args[0], (list, tuple)) else ([args[0]], True)
            pairs = []
            for item in items:
                if not (isinstance(item, dict) and {"question", "context"} <= set(item)):
                    raise ValueError(f"question-answering takes dicts {{'question': ..., 'context': ...}}, got {item!r:.80}")
                pairs.append((item["question"], item["context"]))
        else:
            if question is None or context is None:
                raise ValueError("question-answering needs both question=... and context=...")
            if isinstance(question, (list, tuple)) and isinstance(context, str):
                context = [context] * len(question)  # several questions about one context, as transformers v4
            elif isinstance(question, str) and isinstance(context, (list, tuple)):
                question = [question] * len(context)  # one question asked of several contexts
            single = isinstance(question, str)
            questions, contexts = ([question], [context]) if single else (list(question), list(context))
            if len(questions) != len(contexts):
                raise ValueError(f"got {len(questions)} questions but {len(contexts)} contexts: pass one per question")
            pairs = list(zip(questions, contexts))
        for q, c in pairs:
            if not isinstance(q, str) or not isinstance(c, str) or not q or not c:
                raise ValueError(f"question and context must be non-empty strings, got {q!r:.60} and {c!r:.60}")
        return pairs, single

    def preprocess(self, question, context, max_seq_len, doc_stride) -> list[Feature]:
        features = self.encode(question, context, truncation="only_second", max_length=max_seq_len,
                               stride=doc_stride, return_overflowing_tokens=True, return_offsets_mapping=True,
                               return_special_tokens_mask=True)
        for f in features:
            p_mask = [int(s != 1) for s in f.extra["sequence_ids"]]          # 1 = not in the context
            for i, token_id in enumerate(f.input_ids):
                if token_id == self.tokenizer.cls_token_id:
                    p_mask[i] = 0                                              # [CLS] stands for "no answer"
            f.extra["p_mask"] = p_mask
        return features

    def run_model(self, features):
        """(start_logits [S], end_logits [S]) per feature."""
        rows = super().run_model(features, names=("start_logits", "end_logits"))
        return [(row["start_logits"], row["end_logits"]) for row in rows]

    def postprocess(self, context, windows, top_k, handle_impossible_answer, max_answer_len, align_to_words):
        min_null_score = 1000000
        answers = []
        for feature, (start, end) in windows:
            starts, ends, scores, min_null_score = select_starts_ends(
                start.astype(np.float32), end.astype(np.float32), feature.extra["p_mask"], feature.attention_mask,
                min_null_score, top_k, handle_impossible_answer, max_answer_len)
            for s, e, score in zip(starts, ends, scores):
                begin, stop = self.char_span(context, feature, int(s), int(e), align_to_words)
                answers.append({"score": float(score), "start": begin, "end": stop, "answer": context[begin:stop]})
        if handle_impossible_answer:
            answers.append({"score": min_null_score, "start": 0, "end": 0, "answer": ""})
        answers = sorted(answers, key=lambda a: a["score"], reverse=True)[:top_k]
        return answers[0] if len(answers) == 1 else answers

    @staticmethod
    def char_span(context, feature, s, e, align_to_words) -> tuple[int, int]:
        """Characters of the context from token s to token e; with align_to_words, of the whole words they touch."""
        offsets = feature.extra["offset_mapping"]
        if not align_to_words:
            return int(offsets[s][0]), int(offsets[e][1])
        word_starts = [m.start() for m in _WORDS.finditer(context)]
        in_context = [i for i, seq in enumerate(feature.extra["sequence_ids"]) if seq == 1]

        def word_of(i):
            return bisect.bisect_right(word_starts, offsets[i][0]) - 1

        start_word, end_word = word_of(s), word_of(e)
        first = min(i for i in in_context if word_of(i) == start_word)
        last = max(i for i in in_context if word_of(i) == end_word)
        return int(offsets[first][0]), int(offsets[last][1])
