"""Stage 5 of the tokenizer: rows of token ids framed as [CLS] A [SEP] (B [SEP]), truncated, padded, and
gathered into a BatchEncoding, exactly as tokenizers' Encoding and transformers' BatchEncoding do it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class Encoding:
    """One row of output with tokenizers' Encoding fields (lists of equal length), plus the windows
    truncation cut off."""

    FIELDS = ("ids", "tokens", "offsets", "type_ids", "special_tokens_mask", "attention_mask", "sequence_ids",
              "word_ids")
    __slots__ = FIELDS + ("overflowing",)

    def __init__(self, ids, tokens, offsets, type_ids, special_tokens_mask, attention_mask, sequence_ids, word_ids):
        self.ids, self.tokens, self.offsets, self.type_ids = ids, tokens, offsets, type_ids
        self.special_tokens_mask, self.attention_mask, self.sequence_ids = special_tokens_mask, attention_mask, sequence_ids
        self.word_ids = word_ids  # the word each token comes from (None for special tokens and padding)
        self.overflowing = []  # [Encoding]: the windows truncation cut off, in order

    @classmethod
    def of_text(cls, ids, tokens, offsets, sequence_id, word_ids):
        """The tokens of one text (sequence_id 0 for the first text of a pair, 1 for the second)."""
        n = len(ids)
        return cls(ids, tokens, offsets, [sequence_id] * n, [0] * n, [1] * n, [sequence_id] * n, word_ids)

    @classmethod
    def special_token(cls, token, token_id, type_id):
        return cls([token_id], [token], [(0, 0)], [type_id], [1], [1], [None], [None])

    def __len__(self):
        return len(self.ids)

    def window(self, start, stop):
        return Encoding(*(getattr(self, f)[start:stop] for f in Encoding.FIELDS))

    @staticmethod
    def concat(parts):
        return Encoding(*([x for part in parts for x in getattr(part, f)] for f in Encoding.FIELDS))

    def truncate(self, max_length, stride, side):
        """Cut this row to its first (or last, for side="left") max_length tokens; the rest becomes
        overflowing windows of max_length tokens overlapping by `stride`, as tokenizers' Encoding.truncate."""
        n = len(self)
        if max_length >= n:
            return
        if max_length == 0:
            self.overflowing = [self.window(0, n)]
            for field in Encoding.FIELDS:
                setattr(self, field, [])
            return
        if stride >= max_length:
            raise ValueError(
                f"stride={stride} leaves no room to advance: each overflow window here holds only {max_length} "
                f"tokens of this sequence, and stride must be smaller than that. Use a smaller stride or a "
                f"larger max_length."
            )
        step, windows = max_length - stride, []
        if side == "right":
            for start in range(0, n, step):
                windows.append((start, min(start + max_length, n)))
                if windows[-1][1] == n:
                    break
        else:
            for last in range(n - 1, -1, -step):
                windows.append((max(last + 1 - max_length, 0), last + 1))
                if windows[-1][0] == 0:
                    break
        first = self.window(*windows[0])
        self.overflowing = [self.window(*w) for w in windows[1:]]
        for field in Encoding.FIELDS:
            setattr(self, field, getattr(first, field))

    def pad(self, length, pad_id, pad_token, pad_type_id, side):
        """Pad this row (and its overflowing windows) to `length`, like tokenizers' Encoding.pad."""
        for window in self.overflowing:
            window.pad(length, pad_id, pad_token, pad_type_id, side)
        missing = length - len(self)
        if missing <= 0:
            return
        fill = {
            "ids": pad_id, "tokens": pad_token, "offsets": (0, 0), "type_ids": pad_type_id,
            "special_tokens_mask": 1, "attention_mask": 0, "sequence_ids": None, "word_ids": None,
        }  # fmt: skip
        for field, value in fill.items():
            current = getattr(self, field)
            setattr(self, field, current + [value] * missing if side == "right" else [value] * missing + current)


@dataclass(frozen=True)
class Framing:
    """The special tokens around a row: [CLS] A [SEP] or [CLS] A [SEP] B [SEP]."""

    cls_token: str
    cls_token_id: int
    sep_token: str
    sep_token_id: int

    def frame(self, first, second):
        """Token types 0 for [CLS] A [SEP], then 1 for B [SEP]."""
        cls = Encoding.special_token(self.cls_token, self.cls_token_id, 0)
        if second is None:
            return Encoding.concat([cls, first, Encoding.special_token(self.sep_token, self.sep_token_id, 0)])
        sep0, sep1 = (Encoding.special_token(self.sep_token, self.sep_token_id, t) for t in (0, 1))
        return Encoding.concat([cls, first, sep0, second, sep1])


@dataclass(frozen=True)
class Truncation:
    """What __call__'s truncation arguments resolve to."""

    strategy: str  # "longest_first", "only_first" or "only_second"
    max_length: int  # tokens per row, special tokens included
    stride: int  # tokens shared by neighbouring overflow windows
    side: str  # "right" keeps the start of the text, "left" its end


def post_process(first, second, framing, truncation):
    """Truncate a row (or pair of rows), then frame it (framing None: no special tokens), overflow windows too."""
    if truncation is not None:
        n_special = (3 if second is not None else 2) if framing is not None else 0
        # transformers computes max_length - n_special in unsigned arithmetic: when max_length is smaller
        # than the special tokens, the subtraction wraps around and nothing is truncated.
        if truncation.max_length >= n_special:
            truncate_pair(first, second, truncation, truncation.max_length - n_special)

    def frame(a, b):
        if framing is None:
            return Encoding.concat([a] if b is None else [a, b])
        return framing.frame(a, b)

    row = frame(first, second)
    # Overflow windows combine as tokenizers' Encoding.merge_with does: every window of A with B and
    # with every window of B, then A with every window of B.
    if second is None:
        row.overflowing = [frame(a, None) for a in first.overflowing]
    else:
        row.overflowing = [frame(a, b) for a in first.overflowing for b in [second] + second.overflowing]
        row.overflowing += [frame(first, b) for b in second.overflowing]
    return row


def truncate_pair(first, second, truncation, max_length):
    """tokenizers' truncate_encodings: fit the row(s) into max_length tokens (special tokens excluded)."""
    strategy, stride, side = truncation.strategy, truncation.stride, truncation.side
    total = len(first) + (len(second) if second is not None else 0)
    if max_length == 0:
        first.truncate(0, stride, side)
        if second is not None:
            second.truncate(0, stride, side)
        return
    if total <= max_length:
        return
    to_remove = total - max_length
    if strategy == "longest_first":
        if second is None:
            first.truncate(max_length, stride, side)
            return
        n1, n2 = len(first), len(second)
        short, long_ = min(n1, n2), max(n1, n2)
        long_ = short if short > max_length else max(short, max_length - short)
        if short + long_ > max_length:
            short = max_length // 2
            long_ = short + max_length % 2
        length1, length2 = (short, long_) if n1 <= n2 else (long_, short)
        first.truncate(length1, stride, side)
        second.truncate(length2, stride, side)
        return
    if strategy == "only_second" and second is None:
        raise ValueError(
            f"truncation='only_second' needs a second text, but only one was given and it has {total} "
            f"tokens, more than the {max_length} that max_length leaves. Use truncation='only_first' or "
            f"'longest_first'."
        )
    target, other = (first, second) if strategy == "only_first" else (second, first)
    if len(target) <= to_remove:
        which = "first" if strategy == "only_first" else "second"
        other_name = "second" if strategy == "only_first" else "first"
        raise ValueError(
            f"truncation={strategy!r} cannot fit this input into max_length: the {other_name} text alone "
            f"has {len(other) if other is not None else 0} tokens, and only {max_length} fit beside the "
            f"special tokens, so cutting the {which} text ({len(target)} tokens) cannot help. Use "
            f"truncation='longest_first' or a larger max_length."
        )
    target.truncate(len(target) - to_remove, stride, side)


def pad_rows(rows, length, pad_to_multiple_of, pad_id, pad_token, pad_type_id, side):
    """Pad every row (and its overflow windows) to `length`, rounded up to a multiple of pad_to_multiple_of."""
    if pad_to_multiple_of and length % pad_to_multiple_of:
        length += pad_to_multiple_of - length % pad_to_multiple_of
    for row in rows:
        row.pad(length, pad_id, pad_token, pad_type_id, side)


class BatchEncoding(dict):
    """What the tokenizer returns: a dict of lists (or NumPy arrays), keys in transformers' order.

    Keys read as attributes too (``enc.input_ids``); ``tokens(i)``, ``sequence_ids(i)`` and ``word_ids(i)``
    describe row i, as transformers' fast tokenizers' methods do.
    """

    def __init__(self, data: dict, rows: list[Encoding]):
        super().__init__(data)
        self._rows = rows

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"BatchEncoding has no key or attribute {name!r}") from None

    def tokens(self, batch_index: int = 0) -> list[str]:
        """The token strings of row `batch_index`, special tokens and padding included."""
        return list(self._rows[batch_index].tokens)

    def sequence_ids(self, batch_index: int = 0) -> list[int | None]:
        """For each token of row `batch_index`: 0 (first text), 1 (second text) or None (special/padding)."""
        return list(self._rows[batch_index].sequence_ids)

    def word_ids(self, batch_index: int = 0) -> list[int | None]:
        """For each token of row `batch_index`: the index of the word it comes from in its text, or None for
        special tokens and padding. Words are what pre-tokenization cuts, as in transformers' fast tokenizer
        (WhitespaceSplit + Metaspace): whitespace-separated runs, further cut before a "▁" inside them; an
        added token written in the text ("[MASK]") is a word of its own. Each text of a pair counts from 0."""
        return list(self._rows[batch_index].word_ids)


@dataclass(frozen=True)
class Returned:
    """Which fields __call__ returns, and how."""

    tensors: str | None  # "np" or None (lists)
    token_type_ids: bool
    attention_mask: bool
    overflowing_tokens: bool
    special_tokens_mask: bool
    offsets_mapping: bool
    length: bool


def batch_encoding(rows, is_batched, returned):
    """Flatten rows (and overflow windows, when asked) into transformers' BatchEncoding layout."""
    flat, sample_of = [], []
    for i, row in enumerate(rows):
        for r in [row] + (row.overflowing if returned.overflowing_tokens else []):
            flat.append(r)
            sample_of.append(i)
    data = {"input_ids": [r.ids for r in flat]}
    if returned.token_type_ids:
        data["token_type_ids"] = [r.type_ids for r in flat]
    if returned.attention_mask:
        data["attention_mask"] = [r.attention_mask for r in flat]
    if returned.special_tokens_mask:
        data["special_tokens_mask"] = [r.special_tokens_mask for r in flat]
    if returned.offsets_mapping:
        data["offset_mapping"] = [r.offsets for r in flat]
    if returned.length:
        data["length"] = [len(r) for r in flat]
    if returned.overflowing_tokens:
        data["overflow_to_sample_mapping"] = sample_of
    if returned.tensors == "np":
        data = {key: to_numpy(value) for key, value in data.items()}
    elif not is_batched and not returned.overflowing_tokens:
        # A single text loses the batch level, except for "length", whose rows are plain ints (as in transformers).
        data = {key: value[0] if isinstance(value[0], list) else value for key, value in data.items()}
    return BatchEncoding(data, flat)


def to_numpy(value):
    """A list (of lists) as a NumPy array, the way transformers converts it; ragged rows give an object array."""
    import numpy as np

    if value and isinstance(value[0], (list, tuple)) and len({len(row) for row in value}) > 1:
        ragged = np.empty(len(value), dtype=object)
        ragged[:] = [np.asarray(row) for row in value]
        return ragged
    if not value:
        return np.asarray(value, dtype=np.int64)
    return np.asarray(value)


def to_python(ids):
    """ids given as int, list, tuple or NumPy array, as plain Python ints (nested for a batch)."""
    if hasattr(ids, "tolist"):
        ids = ids.tolist()
    if isinstance(ids, (list, tuple)):
        return [to_python(x) for x in ids]
    return ids
