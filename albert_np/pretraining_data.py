"""Pretraining examples from a text file, made as google-research/albert's `create_pretraining_data.py` makes them.

The input is google's format: one sentence per line, a blank line between documents. For every document:

    sentences -> token ids (the AlbertTokenizer) -> chunks of consecutive sentences up to a target length
        (max_seq_length - 3, or with probability short_seq_prob a random length in [2, max_seq_length - 3])
    -> each chunk cut at a random sentence boundary into A and B -> with probability 0.5 swapped (SOP label 1)
    -> [CLS] A [SEP] B [SEP], the longer side trimmed at a random end until it fits
    -> n-gram masking: whole words, n in 1..3 with p(n) proportional to 1/n, about masked_lm_prob of the tokens
       (at most max_predictions_per_seq), each chosen token 80% [MASK], 10% kept, 10% a random piece

The stream never holds the corpus: it reads the file document by document, `dupe_factor` times (each pass
draws new chunks and masks), through a bounded shuffle buffer, and then starts again from the same seed (as
run_pretraining.py re-reads the same tfrecords). Where we differ from google's script, and why:
  * google shuffles all documents and all instances in memory; we shuffle through a buffer of
    `shuffle_buffer` examples (the file's document order is kept within a pass).
  * a chunk of a single sentence: google (a leftover of BERT's next-sentence task) pairs it with a random
    sentence from another document, which needs all documents at hand; we cut the sentence itself at a random
    token into A and B, so that every pair is a true sentence-order pair.
  * the 10% random replacement draws from the ordinary pieces only (ids after the 5 special ones); google
    draws from the whole vocabulary, specials included.
  * a word never continues across [SEP]: google joins a segment's first piece to the word before the [SEP]
    when the piece does not start a word (B's first piece after a cut, or after trimming at the front).
  * the n of each n-gram comes from the seeded generator; google draws it from NumPy's global, unseeded one.
Labels are -100 where no prediction is asked (what transformers' AlbertForPreTraining ignores), and
sentence_order_label is 1 when A and B were swapped, as in transformers.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

IGNORE_INDEX = -100
NUM_SPECIAL_IDS = 5    # <pad>, <unk>, [CLS], [SEP], [MASK]: ALBERT's layout
_PUNCTUATION = set(string.punctuation) | {"\u20ac", "\u00a3"}
_ENGLISH_OR_PUNCTUATION = set(string.ascii_lowercase) | _PUNCTUATION


@dataclass(frozen=True)
class PretrainingDataConfig:
    """The flags of google's create_pretraining_data.py (ALBERT's defaults, except max_seq_length's 512)."""

    max_seq_length: int = 128
    short_seq_prob: float = 0.1         # share of documents cut into shorter chunks (pretraining/fine-tuning mismatch)
    masked_lm_prob: float = 0.15
    max_predictions_per_seq: int = 20
    ngram: int = 3                      # longest masked n-gram, in words
    favor_shorter_ngram: bool = True    # p(n) ~ 1/n; False reverses it (p(n) ~ 1/(ngram + 1 - n))
    do_whole_word_mask: bool = True
    dupe_factor: int = 5                # passes over the file, each with fresh chunks and masks
    shuffle_buffer: int = 10_000        # examples held for shuffling

    def __post_init__(self):
        checks = [
            ("max_seq_length", self.max_seq_length >= 5, "at least 5 ([CLS] A [SEP] B [SEP] with one token each)"),
            ("short_seq_prob", 0 <= self.short_seq_prob <= 1, "a probability in [0, 1]"),
            ("masked_lm_prob", 0 <= self.masked_lm_prob <= 1, "a probability in [0, 1] (ALBERT uses 0.15)"),
            ("max_predictions_per_seq", self.max_predictions_per_seq >= 0, "0 or more (ALBERT uses 20 for 128 tokens)"),
            ("ngram", self.ngram >= 1, "1 or more (ALBERT uses 3)"),
            ("dupe_factor", self.dupe_factor >= 1, "1 or more (ALBERT uses 5)"),
            ("shuffle_buffer", self.shuffle_buffer >= 1, "1 or more (1 turns shuffling off)"),
        ]
        for name, ok, want in checks:
            if not ok:
                raise ValueError(f"{name}={getattr(self, name)!r} is invalid: pass {want}")


@dataclass
class PretrainingExample:
    """One SOP pair with its masked tokens, padded to max_seq_length (L)."""

    input_ids: np.ndarray          # (L,) int64: [CLS] A [SEP] B [SEP] <pad>..., masked pieces replaced
    token_type_ids: np.ndarray     # (L,) int64: 0 for [CLS] A [SEP], 1 for B [SEP], 0 for padding
    attention_mask: np.ndarray     # (L,) int64: 1 for tokens, 0 for padding
    labels: np.ndarray             # (L,) int64: the original id where masked, else -100
    sentence_order_label: int      # 1 when A and B were swapped, 0 in the document's order
    span_lengths: tuple = ()       # words in each masked n-gram (for the statistics tests)


@dataclass
class MaskedTokens:
    """What n-gram masking did to one sequence of T tokens."""

    input_ids: np.ndarray          # (T,) int64: the sequence with [MASK] / random / kept pieces
    labels: np.ndarray             # (T,) int64: original id at predicted positions, else -100
    span_lengths: list             # words in each accepted n-gram, in the order chosen
    drawn_lengths: list            # the n drawn at each start tried, before shrinking or skipping (p(n) ~ 1/n)


# ---- reading -------------------------------------------------------------------------------------------


def read_documents(path, use_document: Callable[[int], bool] | None = None) -> Iterator[list[str]]:
    """The documents of `path` (one sentence per line, blank lines between documents) one at a time.

    use_document(i) says whether to read the document at index i of the file (e.g. to hold some out); None reads all.
    """
    index, doc = 0, []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line:
                doc.append(line)
                continue
            if doc:
                if use_document is None or use_document(index):
                    yield doc
                index, doc = index + 1, []
    if doc and (use_document is None or use_document(index)):
        yield doc


def is_word_start(piece: str) -> bool:
    """google's _is_start_piece_sp: '▁...' or '<...', punctuation, or any piece with a character outside a-z."""
    return (piece.startswith(("\u2581", "<")) or piece in _PUNCTUATION
            or not all(c.lower() in _ENGLISH_OR_PUNCTUATION for c in piece))


def word_start_table(tokenizer) -> np.ndarray:
    """(V,) bool: is_word_start of every piece of the tokenizer's vocabulary."""
    return np.array([is_word_start(p) for p in tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))],
                    dtype=bool)


# ---- SOP pairs -----------------------------------------------------------------------------------------


def truncate_seq_pair(tokens_a: list, tokens_b: list, max_num_tokens: int, rng: np.random.Generator):
    """Trim the longer side, one token at a random end (front or back), until both fit in max_num_tokens."""
    while len(tokens_a) + len(tokens_b) > max_num_tokens:
        longer = tokens_a if len(tokens_a) > len(tokens_b) else tokens_b
        if rng.random() < 0.5:
            del longer[0]
        else:
            longer.pop()


def sop_pairs(document: list[list[int]], cfg: PretrainingDataConfig, rng: np.random.Generator):
    """(tokens_a, tokens_b, swapped) for one tokenized document: google's create_instances_from_document for SOP."""
    max_num_tokens = cfg.max_seq_length - 3
    target = max_num_tokens
    if rng.random() < cfg.short_seq_prob:
        target = int(rng.integers(2, max_num_tokens + 1))
    chunk, length = [], 0
    for i, segment in enumerate(document):
        chunk.append(segment)
        length += len(segment)
        if i < len(document) - 1 and length < target:
            continue
        if len(chunk) >= 2:
            a_end = int(rng.integers(1, len(chunk)))
            tokens_a = [t for seg in chunk[:a_end] for t in seg]
            tokens_b = [t for seg in chunk[a_end:] for t in seg]
        elif len(chunk[0]) >= 2:     # one sentence: cut it at a random token (google pairs it with another document)
            cut = int(rng.integers(1, len(chunk[0])))
            tokens_a, tokens_b = list(chunk[0][:cut]), list(chunk[0][cut:])
        else:
            chunk, length = [], 0
            continue
        swapped = bool(rng.random() < 0.5)
        if swapped:
            tokens_a, tokens_b = tokens_b, tokens_a
        truncate_seq_pair(tokens_a, tokens_b, max_num_tokens, rng)
        yield tokens_a, tokens_b, swapped
        chunk, length = [], 0


# ---- n-gram masking ------------------------------------------------------------------------------------


def ngram_probabilities(ngram: int, favor_shorter: bool = True) -> np.ndarray:
    """(ngram,) p(n) for n = 1..ngram: proportional to 1/n (the ALBERT paper, section 4.1), or reversed."""
    p = 1.0 / np.arange(1, ngram + 1)
    p /= p.sum()
    return p if favor_shorter else p[::-1].copy()


def mask_ngrams(ids: np.ndarray, maskable: np.ndarray, word_start: np.ndarray, cfg: PretrainingDataConfig,
                rng: np.random.Generator, mask_id: int, vocab_size: int) -> MaskedTokens:
    """google's create_masked_lm_predictions (ALBERT's n-gram version) on one sequence of T ids.

    maskable: (T,) bool, False for [CLS]/[SEP]/padding; word_start: (T,) bool, True where a word begins.
    About masked_lm_prob of the T tokens (at most max_predictions_per_seq, at least 1) are chosen as n-grams
    of whole words starting at shuffled word positions; a drawn n shrinks until it fits in what is left to
    predict; n-grams touching an already chosen token are skipped.
    """
    words = []                                   # positions of each maskable word
    for pos in np.flatnonzero(maskable):
        if cfg.do_whole_word_mask and words and not word_start[pos] and words[-1][-1] == pos - 1:
            words[-1].append(int(pos))
        else:
            words.append([int(pos)])
    output, labels = ids.copy(), np.full_like(ids, IGNORE_INDEX)
    span_lengths: list = []
    drawn_lengths: list = []
    if cfg.masked_lm_prob == 0 or not words:
        return MaskedTokens(output, labels, span_lengths, drawn_lengths)
    num_to_predict = min(cfg.max_predictions_per_seq, max(1, int(round(len(ids) * cfg.masked_lm_prob))))
    pvals = ngram_probabilities(cfg.ngram, cfg.favor_shorter_ngram)
    starts = rng.permutation(len(words))
    covered: set = set()
    for start in starts:
        if len(covered) >= num_to_predict:
            break
        n = int(rng.choice(cfg.ngram, p=pvals)) + 1
        drawn_lengths.append(n)
        chosen = [p for w in words[start:start + n] for p in w]
        while len(covered) + len(chosen) > num_to_predict and n > 1:
            n -= 1
            chosen = [p for w in words[start:start + n] for p in w]
        if len(covered) + len(chosen) > num_to_predict or any(p in covered for p in chosen):
            continue
        span_lengths.append(len(words[start:start + n]))
        for p in chosen:
            covered.add(p)
            labels[p] = ids[p]
            if rng.random() < 0.8:
                output[p] = mask_id
            elif rng.random() < 0.5:
                pass                               # kept as it is, but still predicted
            else:
                output[p] = int(rng.integers(NUM_SPECIAL_IDS, vocab_size))
    return MaskedTokens(output, labels, span_lengths, drawn_lengths)


# ---- examples ------------------------------------------------------------------------------------------


def make_example(tokens_a, tokens_b, swapped, tokenizer, cfg, word_start, rng) -> PretrainingExample:
    """[CLS] A [SEP] B [SEP], masked, padded to cfg.max_seq_length."""
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    ids = np.array([cls, *tokens_a, sep, *tokens_b, sep], dtype=np.int64)
    maskable = np.ones(len(ids), dtype=bool)
    maskable[[0, len(tokens_a) + 1, len(ids) - 1]] = False
    masked = mask_ngrams(ids, maskable, word_start[ids], cfg, rng, tokenizer.mask_token_id, len(tokenizer))
    length, pad = len(ids), cfg.max_seq_length - len(ids)
    types = np.zeros(cfg.max_seq_length, dtype=np.int64)
    types[len(tokens_a) + 2:length] = 1
    return PretrainingExample(
        input_ids=np.concatenate([masked.input_ids, np.full(pad, tokenizer.pad_token_id, dtype=np.int64)]),
        token_type_ids=types,
        attention_mask=np.concatenate([np.ones(length, np.int64), np.zeros(pad, np.int64)]),
        labels=np.concatenate([masked.labels, np.full(pad, IGNORE_INDEX, dtype=np.int64)]),
        sentence_order_label=int(swapped), span_lengths=tuple(masked.span_lengths))


def tokenize_document(tokenizer, lines: list[str]) -> list[list[int]]:
    """Each sentence to piece ids, empty ones dropped."""
    out = []
    for line in lines:
        ids = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(line))
        if ids:
            out.append(ids)
    return out


def examples_from_documents(documents, tokenizer, cfg: PretrainingDataConfig, rng: np.random.Generator,
                            word_start: np.ndarray | None = None) -> Iterator[PretrainingExample]:
    """Examples from an iterable of documents (lists of sentences), in document order, unshuffled."""
    word_start = word_start_table(tokenizer) if word_start is None else word_start
    for lines in documents:
        for a, b, swapped in sop_pairs(tokenize_document(tokenizer, lines), cfg, rng):
            yield make_example(a, b, swapped, tokenizer, cfg, word_start, rng)


def shuffled(items, buffer_size: int, rng: np.random.Generator):
    """Items in a random order drawn through a buffer of buffer_size (1 = unchanged order)."""
    buffer = []
    for item in items:
        if len(buffer) < buffer_size:
            buffer.append(item)
            continue
        j = int(rng.integers(len(buffer)))
        yield buffer[j]
        buffer[j] = item
    rng.shuffle(buffer)
    yield from buffer


def example_stream(path, tokenizer, cfg: PretrainingDataConfig, seed: int = 0,
                   use_document: Callable[[int], bool] | None = None, repeat: bool = True) -> Iterator[PretrainingExample]:
    """Examples of `path`: dupe_factor passes through a shuffle buffer; with repeat, the same round again, forever.

    Everything is drawn from one generator seeded with `seed`, so the stream is the same on every run: a run
    resumes by skipping the number of examples it had already used.
    """
    word_start = word_start_table(tokenizer)
    while True:
        rng = np.random.default_rng(seed)
        n = 0

        def passes():
            for _ in range(cfg.dupe_factor):
                yield from examples_from_documents(read_documents(path, use_document), tokenizer, cfg, rng, word_start)

        for example in shuffled(passes(), cfg.shuffle_buffer, rng):
            n += 1
            yield example
        if n == 0:
            raise ValueError(f"{path} gave no pretraining examples: it needs documents of at least two tokens "
                             "(one sentence per line, a blank line between documents)")
        if not repeat:
            return


def collate(examples: list[PretrainingExample]) -> dict:
    """Model kwargs of AlbertForPreTraining for a list of examples: (B, L) arrays and (B,) sentence_order_label."""
    return {
        "input_ids": np.stack([e.input_ids for e in examples]),
        "attention_mask": np.stack([e.attention_mask for e in examples]),
        "token_type_ids": np.stack([e.token_type_ids for e in examples]),
        "labels": np.stack([e.labels for e in examples]),
        "sentence_order_label": np.array([e.sentence_order_label for e in examples], dtype=np.int64),
    }
