"""Stages 2 and 3 of the tokenizer: normalisation (with offsets back into the raw text) and pre-tokenization.

Normalisation, in transformers' order: `` and '' become ", then NFKD + accent stripping (unless
keep_accents), lower-casing (if do_lower_case), then the model's own table (nmt_nfkc) applied grapheme
cluster by grapheme cluster. Every normalized character remembers the (start, end) span of raw text it
came from, as tokenizers' NormalizedString does, so that offsets map pieces back to the raw text.
Pre-tokenization splits on whitespace and marks each word start with "▁".

Every function here is linear in the length of its text: each loop visits each character once and does a
bounded amount of work (one dict lookup, one trie walk of at most a 6-byte cluster).
"""

import re
from typing import NamedTuple

from .model_file import CharsMap, PerCharacter
from .unicode_data import cluster_kind, grapheme_clusters, lowercase, strip_accents

SPACE = "\u2581"  # "▁": SentencePiece's visible space, the mark of a word start
# Whitespace as Rust's char::is_whitespace sees it (Unicode White_Space), which is what transformers
# splits on. Python's str.split() would also split on \x1c-\x1f; transformers does not.
WHITESPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
WHITESPACE_CHAR = re.compile(f"[{WHITESPACE}]")
_WORD = re.compile(f"[^{WHITESPACE}]+")
# Plain ASCII text without these needs no character-level bookkeeping (see Normalizer.normalize).
_ASCII_NEEDS_CARE = re.compile(r"[\x00-\x1f\x7f]|``|''")


class PreToken(NamedTuple):
    """One word of normalized text, as the unigram model sees it."""

    text: str  # "▁word": starts with "▁", holds no whitespace
    start: int  # index in the normalized text of the first character of `text` that is not a virtual "▁"
    virtual_space: int  # 1 when the leading "▁" was added (it is not in the normalized text), else 0


def record_replacement(changes, old, new):
    """Log `old` -> `new` the way transformers' Precompiled normalizer does.

    New characters replace old ones one for one; surplus new characters are insertions (+1); missing
    ones are removals charged to the last character logged so far, or lost if nothing was logged yet.
    That last case is a transformers quirk: offsets after leading removed characters shift left.
    """
    diff = len(new) - len(old)
    changes.extend((char, 0) for char in new)
    if diff > 0:
        changes[-diff:] = [(char, 1) for char, _ in changes[-diff:]]
    elif diff < 0 and changes:
        char, change = changes[-1]
        changes[-1] = (char, change + diff)


def apply_changes(spans, changes):
    """New text and spans from a change log, as tokenizers' NormalizedString.transform computes them.

    A character with change <= 0 takes the span of the old character it replaces (and skips -change
    old ones); an inserted character (change 1) takes the span of the old character before it.
    """
    chars, new_spans, pos = [], [], 0
    for char, change in changes:
        if change > 0:
            new_spans.append(spans[pos - 1] if pos else (0, 0))
        else:
            new_spans.append(spans[pos])
            pos += 1 - change
        chars.append(char)
    return "".join(chars), new_spans


def replace_tex_quotes(text, spans):
    """`` and '' (TeX-style quotes) become "; the new " keeps the span of the second quote character."""
    for quotes in ("``", "''"):
        if quotes in text:
            pieces, new_spans, pos = text.split(quotes), [], 0
            for i, piece in enumerate(pieces):
                new_spans += spans[pos : pos + len(piece)]
                pos += len(piece) + 2
                if i < len(pieces) - 1:
                    new_spans.append(spans[pos - 1])
            text, spans = '"'.join(pieces), new_spans
    return text, spans


class Normalizer:
    """ALBERT's text preparation for one tokenizer configuration (keep_accents, do_lower_case, charsmap)."""

    def __init__(self, keep_accents, do_lower_case, charsmap_blob):
        self.keep_accents, self.do_lower_case = keep_accents, do_lower_case
        self.charsmap = CharsMap(charsmap_blob) if charsmap_blob else None
        self._folded = PerCharacter(self.fold_character)
        # Whether a character can change anything in the model's table: it is a key itself, or it can join
        # the character before it into a grapheme cluster that a key may start (see apply_charsmap).
        self._may_change = PerCharacter(
            lambda c: self.charsmap.for_char[c] is not None
            or cluster_kind(c) in ("Extend", "ZWJ", "SpacingMark", "Prepend", "CR")
        )
        # Printable ASCII untouched by the model's table allows normalize's fast path.
        self._ascii_is_stable = self.charsmap is None or all(
            self.charsmap.for_char[chr(c)] is None for c in range(0x20, 0x7F)
        )

    def normalize(self, text):
        """The normalized text and, for each of its characters, the (start, end) span of `text` it came
        from, or None when the mapping is one to one (plain ASCII, the common case)."""
        if text.isascii() and self._ascii_is_stable and not _ASCII_NEEDS_CARE.search(text):
            return (text.lower() if self.do_lower_case else text), None
        spans = [(i, i + 1) for i in range(len(text))]
        text, spans = replace_tex_quotes(text, spans)
        text, spans = self.fold_characters(text, spans)
        if self.charsmap is not None:
            text, spans = self.apply_charsmap(text, spans)
        return text, spans

    def fold_characters(self, text, spans):
        """NFKD then dropping every combining mark (unless keep_accents), then lower-casing (if do_lower_case).

        transformers runs these over the whole text, but each works character by character: NFKD's
        reordering of marks cannot matter, since every character with a combining class is a mark and all
        marks go (Mn, Mc and Me: transformers' StripAccents removes them all). Lower-casing per character
        means "Σ" always becomes "σ", never the final "ς" that str.lower() picks at a word's end.
        Characters produced keep the span of the character they came from.
        """
        folded = [self._folded[char] for char in text]
        if all(len(f) == 1 for f in folded):  # one for one: spans unchanged
            return "".join(folded), spans
        new_spans = [span for f, span in zip(folded, spans) for _ in f]
        return "".join(folded), new_spans

    def fold_character(self, char):
        """One character through NFKD + StripAccents and Lowercase, with transformers' Unicode tables."""
        if not self.keep_accents:
            char = strip_accents(char)
        if self.do_lower_case:
            char = "".join(lowercase(c) for c in char)
        return char

    def apply_charsmap(self, text, spans):
        """The model's normalisation table, grapheme cluster by grapheme cluster, as transformers applies it.

        A cluster shorter than 6 UTF-8 bytes is replaced whole by the value of the shortest key it starts
        with (so "e" + U+0301 becomes "é", and "ﬁ" + U+0301 just "fi"); other clusters, or clusters no key
        starts, are looked up character by character.
        """
        if not any(self._may_change[char] for char in text):
            return text, spans
        changes, modified = [], False
        for cluster in grapheme_clusters(text):
            if len(cluster) > 1 and len(cluster.encode("utf-8")) < 6:
                replacement = self.charsmap.shortest_match(cluster)
                if replacement is not None:
                    record_replacement(changes, cluster, replacement)
                    modified = True
                    continue
            for char in cluster:
                replacement = self.charsmap.for_char[char]
                if replacement is None:
                    changes.append((char, 0))
                else:
                    record_replacement(changes, char, replacement)
                    modified = True
        return apply_changes(spans, changes) if modified else (text, spans)


def pre_tokenize(text):
    """Words split on whitespace, each starting with "▁", as transformers' WhitespaceSplit + Metaspace.

    "▁" is prepended unless the word already starts with one, and a word is cut before each "▁" inside it
    (rare: the model's table maps "▁" to a space).
    """
    pretokens = []
    for match in _WORD.finditer(text):
        word, start = match.group(), match.start()
        if SPACE not in word:
            pretokens.append(PreToken(SPACE + word, start, 1))
            continue
        virtual = 0 if word.startswith(SPACE) else 1
        word = SPACE * virtual + word
        cut = [0] + [i for i in range(1, len(word)) if word[i] == SPACE] + [len(word)]
        for a, b in zip(cut, cut[1:]):
            pretokens.append(PreToken(word[a:b], start + max(a - virtual, 0), virtual if a == 0 else 0))
    return pretokens


def piece_offsets(pieces, pretokens, spans, base):
    """(start, end) in the raw text for each piece: pieces never straddle pretokens, a virtual "▁" takes
    the span of the word's first character, and spans (None = identity) map the rest back; `base` is
    where the normalized stretch starts in the raw text."""
    offsets, k, pos = [], 0, 0
    for piece in pieces:
        pretoken = pretokens[k]
        first = pretoken.start + max(pos - pretoken.virtual_space, 0)
        pos += len(piece)
        last = pretoken.start + max(pos - 1 - pretoken.virtual_space, 0)
        if spans is None:
            offsets.append((base + first, base + last + 1))
        else:
            offsets.append((base + spans[first][0], base + spans[last][1]))
        if pos == len(pretoken.text):
            k, pos = k + 1, 0
    return offsets
