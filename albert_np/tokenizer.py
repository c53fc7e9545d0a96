"""ALBERT's tokenizer: a SentencePiece unigram model wrapped in ALBERT's text preparation.

Behaviour follows transformers v5's ``AlbertTokenizer`` (the tokenizers-backed one) token for token,
offset for offset. The pipeline, step by step (functions named after the steps):

1. ``_split_on_special_tokens``  cut [CLS], [SEP], [MASK], <pad>, <unk> written in the raw text out whole.
2. ``_normalize``                on each stretch of plain text: `` and '' become ", NFKD + accent stripping
                                 (unless keep_accents), lower-casing (if do_lower_case), then the model's own
                                 normalisation table (nmt_nfkc), applied grapheme cluster by grapheme cluster.
                                 Every normalized character remembers the span of raw text it came from.
3. ``_pre_tokenize``             split on whitespace and prefix each word with "▁".
4. ``_segment_word``             the unigram model: Viterbi over the piece scores of spiece.model, in
                                 float64 as transformers does; unknown characters fused into one <unk>.
5. ``_post_process``             truncation (with stride windows), [CLS] A [SEP] B [SEP], padding, tensors.

sentencepiece reads and validates spiece.model; steps 2-4 are written out here because SentencePiece's
own encoder differs from transformers (its normaliser re-composes Hangul that transformers leaves
decomposed; its Viterbi sums in float32 and breaks exact ties differently). docs/tokenizer.md traces an
example string through every step. Runtime dependencies: sentencepiece, and numpy only for
``return_tensors="np"``.
"""

import json
import os
import re
import struct
import sys
import unicodedata
import warnings
from array import array

import sentencepiece as spm

from .io_utils import atomic_write_bytes

SPIECE_MODEL = "spiece.model"
TOKENIZER_CONFIG = "tokenizer_config.json"
SPECIAL_TOKENS_MAP = "special_tokens_map.json"
SPACE = "\u2581"  # "▁": SentencePiece's visible space, the mark of a word start
VERY_LARGE_INTEGER = int(1e30)  # transformers' model_max_length when nothing sets one
LARGE_INTEGER = int(1e20)  # above this, transformers treats model_max_length as "no limit"
SPECIAL_TOKEN_NAMES = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")
PADDING_STRATEGIES = ("longest", "max_length", "do_not_pad")
TRUNCATION_STRATEGIES = ("only_first", "only_second", "longest_first", "do_not_truncate")

# Whitespace as Rust's char::is_whitespace sees it (Unicode White_Space), which is what transformers
# splits on. Python's str.split() would also split on \x1c-\x1f; transformers does not.
_WHITESPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_WORD_RE = re.compile(f"[^{_WHITESPACE}]+")
_WHITESPACE_CHARS = re.compile(f"[{_WHITESPACE}]")
# Plain ASCII text without these needs no character-level bookkeeping (see _normalize).
_ASCII_NEEDS_CARE = re.compile(r"[\x00-\x1f\x7f]|``|''")

# SentencePiece piece types (sentencepiece_model.proto).
NORMAL, UNKNOWN, CONTROL, USER_DEFINED = 1, 2, 3, 4
UNKNOWN_PENALTY = 10.0  # an unknown character scores the lowest piece score minus this
WORD_CACHE_SIZE = 100_000  # words
CACHED_WORD_LENGTH = 100  # characters; longer words are segmented every time


# --- The SentencePiece model file --------------------------------------------------------------------


def _read_varint(buf, pos):
    result = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def _read_fields(buf):
    """Yield (field number, value) of a serialized protobuf message; value is an int or raw bytes."""
    pos = 0
    while pos < len(buf):
        key, pos = _read_varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _read_varint(buf, pos)
        elif wire == 2:
            size, pos = _read_varint(buf, pos)
            value, pos = buf[pos : pos + size], pos + size
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            value, pos = buf[pos : pos + size], pos + size
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        if pos > len(buf):
            raise ValueError("message is truncated")
        yield field, value


def _read_model(model_bytes):
    """The pieces [(piece, score, type)] and the normalisation table of a serialized ModelProto."""
    pieces, charsmap = [], b""
    for field, value in _read_fields(model_bytes):
        if field == 1:  # repeated SentencePiece pieces
            piece, score, kind = "", 0.0, NORMAL
            for f, v in _read_fields(value):
                if f == 1:
                    piece = v.decode("utf-8")
                elif f == 2:
                    score = struct.unpack("<f", v)[0]
                elif f == 3:
                    kind = v
            pieces.append((piece, score, kind))
        elif field == 3:  # NormalizerSpec: field 2 is precompiled_charsmap
            charsmap = b"".join(v for f, v in _read_fields(value) if f == 2)
    return pieces, charsmap


class _PerCharacter(dict):
    """A cache of a function of one character: missing entries are computed on first lookup."""

    def __init__(self, function):
        super().__init__()
        self.function = function

    def __missing__(self, char):
        value = self[char] = self.function(char)
        return value


class _CharsMap:
    """The model's normalisation table (SentencePiece's precompiled_charsmap, nmt_nfkc for ALBERT).

    The table is a darts-clone double-array trie from UTF-8 keys to replacement strings. We walk it the
    way transformers' Precompiled normalizer does: for a string, take the *shortest* key it starts with.
    """

    def __init__(self, blob):
        (trie_size,) = struct.unpack_from("<I", blob)
        self._units = array("I", blob[4 : 4 + trie_size])
        if sys.byteorder == "big":
            self._units.byteswap()
        self._strings = blob[4 + trie_size :]
        self.for_char = _PerCharacter(self.shortest_match)  # replacement of one character, or None
        # Whether a character can change anything: it is a key itself, or it can join the character
        # before it into a grapheme cluster that a key may start (see _apply_charsmap).
        self.may_change = _PerCharacter(
            lambda c: self.for_char[c] is not None
            or _cluster_kind(c) in ("Extend", "ZWJ", "SpacingMark", "Prepend", "CR")
        )

    def shortest_match(self, text):
        """Replacement for the shortest key `text` starts with, or None when no key matches."""
        units, pos = self._units, 0
        pos ^= (units[0] >> 10) << ((units[0] & (1 << 9)) >> 6)
        for byte in text.encode("utf-8"):
            pos ^= byte
            unit = units[pos]
            if unit & 0x800000FF != byte:  # label mismatch: no key continues this way
                return None
            pos ^= (unit >> 10) << ((unit & (1 << 9)) >> 6)
            if (unit >> 8) & 1:  # a key ends here: its value is an offset into the strings blob
                start = units[pos] & 0x7FFFFFFF
                return self._strings[start : self._strings.index(b"\0", start)].decode("utf-8")
        return None


# --- Step 2 helpers: grapheme clusters and character-level bookkeeping ---------------------------------

# Grapheme_Cluster_Break data (UAX #29, Unicode 14) that Python's unicodedata does not expose.
_OTHER_GRAPHEME_EXTEND = {
    0x09BE, 0x09D7, 0x0B3E, 0x0B57, 0x0BBE, 0x0BD7, 0x0CC2, 0x0CD5, 0x0CD6, 0x0D3E, 0x0D57, 0x0DCF,
    0x0DDF, 0x1B35, 0x200C, 0x302E, 0x302F, 0xFF9E, 0xFF9F, 0x1133E, 0x11357, 0x114B0, 0x114BD,
    0x115AF, 0x11930, 0x1D165, 0x1D16E, 0x1D16F, 0x1D170, 0x1D171, 0x1D172,
}  # fmt: skip
_PREPEND = {
    0x0600, 0x0601, 0x0602, 0x0603, 0x0604, 0x0605, 0x06DD, 0x070F, 0x0890, 0x0891, 0x08E2, 0x0D4E,
    0x110BD, 0x110CD, 0x111C2, 0x111C3, 0x1193F, 0x11941, 0x11A3A, 0x11A84, 0x11A85, 0x11A86,
    0x11A87, 0x11A88, 0x11A89, 0x11D46,
}  # fmt: skip
_NOT_SPACING_MARK = {
    0x102B, 0x102C, 0x1038, 0x1062, 0x1063, 0x1064, 0x1067, 0x1068, 0x1069, 0x106A, 0x106B, 0x106C,
    0x106D, 0x1083, 0x1087, 0x1088, 0x1089, 0x108A, 0x108B, 0x108C, 0x108F, 0x109A, 0x109B, 0x109C,
    0x1A61, 0x1A63, 0x1A64, 0xAA7B, 0xAA7D, 0x11720, 0x11721,
}  # fmt: skip
_cluster_kind_cache = {}


def _cluster_kind(char):
    """The Grapheme_Cluster_Break class of `char` that matters for the rules in _grapheme_clusters."""
    kind = _cluster_kind_cache.get(char)
    if kind is None:
        cp, category = ord(char), unicodedata.category(char)
        if char == "\r":
            kind = "CR"
        elif char == "\n":
            kind = "LF"
        elif cp == 0x200D:
            kind = "ZWJ"
        elif cp in _PREPEND:
            kind = "Prepend"
        elif (
            category in ("Mn", "Me")
            or cp in _OTHER_GRAPHEME_EXTEND
            or 0x1F3FB <= cp <= 0x1F3FF  # emoji skin-tone modifiers
            or 0xE0020 <= cp <= 0xE007F  # tag characters
        ):
            kind = "Extend"
        elif category in ("Cc", "Cf", "Zl", "Zp"):
            kind = "Control"
        elif (category == "Mc" and cp not in _NOT_SPACING_MARK) or cp in (0x0E33, 0x0EB3):
            kind = "SpacingMark"
        elif cp in (0xA9, 0xAE, 0x203C, 0x2049, 0x2122, 0x2139) or (category == "So" and cp >= 0x2190):
            kind = "Pictographic"  # close to Extended_Pictographic, which unicodedata lacks
        else:
            kind = "Other"
        _cluster_kind_cache[char] = kind
    return kind


def _grapheme_clusters(text):
    """Split text into extended grapheme clusters (UAX #29), the unit transformers' Precompiled looks up.

    Hangul syllable and regional-indicator rules are left out on purpose: clusters they join are 6 UTF-8
    bytes or longer, and those are looked up character by character anyway (see _apply_charsmap).
    """
    clusters, start, prev = [], 0, None
    in_pictograph = zwj_after_pictograph = False  # state of rule GB11 (emoji ZWJ sequences)
    for i, char in enumerate(text):
        kind = _cluster_kind(char)
        if i:
            if prev == "CR" and kind == "LF":
                joined = True
            elif prev in ("Control", "CR", "LF") or kind in ("Control", "CR", "LF"):
                joined = False
            else:
                joined = (
                    kind in ("Extend", "ZWJ", "SpacingMark")
                    or prev == "Prepend"
                    or (kind == "Pictographic" and zwj_after_pictograph)
                )
            if not joined:
                clusters.append(text[start:i])
                start = i
        zwj_after_pictograph = kind == "ZWJ" and in_pictograph
        in_pictograph = kind == "Pictographic" or (kind == "Extend" and in_pictograph)
        prev = kind
    if text:
        clusters.append(text[start:])
    return clusters


def _record_replacement(changes, old, new):
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


def _apply_changes(spans, changes):
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


def _replace_tex_quotes(text, spans):
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


# --- Step 5 helpers: encodings, truncation, padding ------------------------------------------------------


class _Encoding:
    """One row of output with tokenizers' Encoding fields, plus the windows truncation cut off."""

    __slots__ = (
        "ids", "tokens", "offsets", "type_ids", "special_tokens_mask", "attention_mask", "sequence_ids", "overflowing",
    )  # fmt: skip

    def __init__(self, ids, tokens, offsets, type_ids, special, attention, sequence_ids):
        self.ids, self.tokens, self.offsets, self.type_ids = ids, tokens, offsets, type_ids
        self.special_tokens_mask, self.attention_mask, self.sequence_ids = special, attention, sequence_ids
        self.overflowing = []

    @classmethod
    def plain(cls, ids, tokens, offsets, sequence_id):
        n = len(ids)
        return cls(ids, tokens, offsets, [sequence_id] * n, [0] * n, [1] * n, [sequence_id] * n)

    @classmethod
    def special(cls, token, token_id, type_id):
        return cls([token_id], [token], [(0, 0)], [type_id], [1], [1], [None])

    def __len__(self):
        return len(self.ids)

    def window(self, start, stop):
        return _Encoding(*(getattr(self, f)[start:stop] for f in _Encoding.__slots__[:-1]))

    @staticmethod
    def concat(parts):
        return _Encoding(*([x for part in parts for x in getattr(part, f)] for f in _Encoding.__slots__[:-1]))

    def truncate(self, max_len, stride, side):
        """Keep the first (or last, for side="left") max_len tokens; the rest becomes overflowing windows
        of max_len tokens overlapping by `stride`, exactly as tokenizers' Encoding.truncate cuts them."""
        n = len(self)
        if max_len >= n:
            return
        if max_len == 0:
            self.overflowing = [self.window(0, n)]
            for field in _Encoding.__slots__[:-1]:
                setattr(self, field, [])
            return
        if stride >= max_len:
            raise ValueError(
                f"stride={stride} leaves no room to advance: each overflow window here holds only {max_len} "
                f"tokens of this sequence, and stride must be smaller than that. Use a smaller stride or a "
                f"larger max_length."
            )
        step, windows = max_len - stride, []
        if side == "right":
            for start in range(0, n, step):
                windows.append((start, min(start + max_len, n)))
                if windows[-1][1] == n:
                    break
        else:
            for last in range(n - 1, -1, -step):
                windows.append((max(last + 1 - max_len, 0), last + 1))
                if windows[-1][0] == 0:
                    break
        first = self.window(*windows[0])
        first.overflowing = [self.window(*w) for w in windows[1:]]
        for field in _Encoding.__slots__:
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
            "special_tokens_mask": 1, "attention_mask": 0, "sequence_ids": None,
        }  # fmt: skip
        for field, value in fill.items():
            current = getattr(self, field)
            setattr(self, field, current + [value] * missing if side == "right" else [value] * missing + current)


class BatchEncoding(dict):
    """What the tokenizer returns: a dict of lists (or NumPy arrays), keys in transformers' order.

    Keys read as attributes too (``enc.input_ids``); ``tokens(i)`` and ``sequence_ids(i)`` describe row i.
    """

    def __init__(self, data, rows):
        super().__init__(data)
        self._rows = rows

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"BatchEncoding has no key or attribute {name!r}") from None

    def tokens(self, batch_index=0):
        """The token strings of row `batch_index`, special tokens and padding included."""
        return list(self._rows[batch_index].tokens)

    def sequence_ids(self, batch_index=0):
        """For each token of row `batch_index`: 0 (first text), 1 (second text) or None (special/padding)."""
        return list(self._rows[batch_index].sequence_ids)


def _to_numpy(value):
    """A list (of lists) as a NumPy array, the way transformers converts it; ragged rows give an object array."""
    import numpy as np

    if value and isinstance(value[0], (list, tuple)) and len({len(row) for row in value}) > 1:
        ragged = np.empty(len(value), dtype=object)
        ragged[:] = [np.asarray(row) for row in value]
        return ragged
    if not value:
        return np.asarray(value, dtype=np.int64)
    return np.asarray(value)


def _to_python(ids):
    """ids given as int, list, tuple or NumPy array, as plain Python ints (nested for a batch)."""
    if hasattr(ids, "tolist"):
        ids = ids.tolist()
    if isinstance(ids, (list, tuple)):
        return [_to_python(x) for x in ids]
    return ids


def _is_text_input(value):
    return isinstance(value, str) or (
        isinstance(value, (list, tuple)) and (len(value) == 0 or isinstance(value[0], str))
    )


class _AddedToken:
    """A token matched whole in the raw text (step 1), with transformers' lstrip/rstrip options."""

    __slots__ = ("content", "token_id", "special", "lstrip", "rstrip")

    def __init__(self, content, token_id, special=True, lstrip=False, rstrip=False):
        self.content, self.token_id, self.special, self.lstrip, self.rstrip = content, token_id, special, lstrip, rstrip

    def to_config(self):
        return {
            "content": self.content, "lstrip": self.lstrip, "normalized": False, "rstrip": self.rstrip,
            "single_word": False, "special": self.special,
        }  # fmt: skip


# --- The tokenizer ----------------------------------------------------------------------------------------


class AlbertTokenizer:
    """ALBERT's tokenizer with transformers' API and outputs: a SentencePiece unigram model plus ALBERT's
    text preparation and [CLS]/[SEP] framing.

    Args:
        vocab_file: path to the SentencePiece model (``spiece.model``) in ALBERT's layout: <pad>=0,
            <unk>=1, [CLS]=2, [SEP]=3, [MASK]=4.
        do_lower_case: lower-case the text first (ALBERT checkpoints are uncased).
        keep_accents: keep accents instead of stripping them after NFKD.
        remove_space: accepted for compatibility; as in transformers v5, runs of whitespace are always
            collapsed and leading/trailing whitespace dropped.
        model_max_length: the length ``truncation=True`` and ``padding="max_length"`` use when
            ``max_length`` is not given.
        *_token: the special tokens (strings), transformers' defaults for ALBERT.
    """

    vocab_files_names = {"vocab_file": SPIECE_MODEL}

    def __init__(
        self,
        vocab_file,
        do_lower_case=True,
        keep_accents=False,
        remove_space=True,
        bos_token="[CLS]",
        eos_token="[SEP]",
        unk_token="<unk>",
        sep_token="[SEP]",
        pad_token="<pad>",
        cls_token="[CLS]",
        mask_token="[MASK]",
        model_max_length=VERY_LARGE_INTEGER,
        clean_up_tokenization_spaces=False,
        padding_side="right",
        truncation_side="right",
        added_tokens_decoder=None,
    ):
        self.vocab_file = os.fspath(vocab_file)
        self.do_lower_case, self.keep_accents, self.remove_space = do_lower_case, keep_accents, remove_space
        self.model_max_length = model_max_length
        self.clean_up_tokenization_spaces = clean_up_tokenization_spaces
        for name, side in (("padding_side", padding_side), ("truncation_side", truncation_side)):
            if side not in ("right", "left"):
                raise ValueError(f"{name} must be 'right' or 'left', got {side!r}")
        self.padding_side, self.truncation_side = padding_side, truncation_side
        self.pad_token_type_id = 0

        self._model_bytes = self._load_model_file(self.vocab_file)
        pieces, charsmap = _read_model(self._model_bytes)
        self._pieces = [piece for piece, _, _ in pieces]
        self._vocab = {piece: i for i, piece in enumerate(self._pieces)}
        self._charsmap = _CharsMap(charsmap) if charsmap else None
        unknown_ids = [i for i, (_, _, kind) in enumerate(pieces) if kind == UNKNOWN]
        if unknown_ids != [1]:
            raise ValueError(
                f"{self.vocab_file} is not in ALBERT's layout: its unknown piece must have id 1 "
                f"(found at {unknown_ids}). ALBERT models use <pad>=0, <unk>=1, [CLS]=2, [SEP]=3, [MASK]=4."
            )
        self.unk_token_id = 1
        self._build_lattice_table(pieces)
        self._fold_cache = _PerCharacter(self._fold_character)
        # Printable ASCII untouched by the model's table allows _normalize's fast path.
        self._ascii_is_stable = self._charsmap is None or all(
            self._charsmap.for_char[chr(c)] is None for c in range(0x20, 0x7F)
        )

        self._special_tokens = {}
        values = (bos_token, eos_token, unk_token, sep_token, pad_token, cls_token, mask_token)
        for name, value in zip(SPECIAL_TOKEN_NAMES, values):
            if value is not None and str(value) not in self._vocab:
                raise ValueError(
                    f"{name}={value!r} is not a piece of {self.vocab_file}. ALBERT's spiece.model holds "
                    f"<pad>, <unk>, [CLS], [SEP] and [MASK]; pass the token strings this model uses."
                )
            self._special_tokens[name] = None if value is None else str(value)
        self._build_added_tokens(pieces, added_tokens_decoder or {})

    @staticmethod
    def _load_model_file(path):
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"SentencePiece model not found: {path}. ALBERT's tokenizer needs the checkpoint's "
                f"spiece.model; pass its path, or a folder containing it to from_pretrained()."
            )
        with open(path, "rb") as f:
            data = f.read()
        try:
            spm.SentencePieceProcessor(model_proto=data)
            _read_model(data)
        except Exception as err:  # sentencepiece raises RuntimeError, our reader ValueError/IndexError
            raise ValueError(
                f"{path} is not a valid SentencePiece model ({err}). The file is corrupt or not a "
                f"spiece.model: replace it with the one that came with the checkpoint."
            ) from None
        return data

    def _build_added_tokens(self, pieces, added_tokens_decoder):
        """Tokens cut out whole in step 1: the model's control and user-defined pieces plus the special
        tokens, as transformers registers them (lstrip/rstrip taken from a saved configuration)."""
        options = {}
        for entry in added_tokens_decoder.values():
            entry = entry if isinstance(entry, dict) else {"content": str(entry)}
            for flag in ("single_word", "normalized"):
                if entry.get(flag):
                    raise NotImplementedError(
                        f"added token {entry.get('content')!r} sets {flag}=True, which albert_np's tokenizer "
                        f"does not implement; set it to false in tokenizer_config.json."
                    )
            options[entry["content"]] = entry
        added = {}
        for i, (piece, _, kind) in enumerate(pieces):
            if kind in (CONTROL, USER_DEFINED):
                added[piece] = _AddedToken(piece, i, special=kind == CONTROL)
        # transformers lists these pieces as extra special tokens, though user-defined ones survive
        # decode(skip_special_tokens=True).
        self._extra_special_tokens = list(added)
        for token in self._special_tokens.values():
            if token is not None:
                added[token] = _AddedToken(token, self._vocab[token], special=True)
        for content, entry in options.items():
            if content in self._vocab:  # ids always come from the model; other entries cannot apply
                added[content] = _AddedToken(
                    content, self._vocab[content], special=entry.get("special", True),
                    lstrip=bool(entry.get("lstrip")), rstrip=bool(entry.get("rstrip")),
                )  # fmt: skip
        self._added_tokens = added
        longest_first = sorted(added, key=lambda t: (-len(t), t))
        self._added_re = re.compile("|".join(re.escape(t) for t in longest_first)) if added else None
        self._special_ids = {t.token_id for t in added.values() if t.special}

    # --- loading and saving ---

    @classmethod
    def from_pretrained(cls, path, **kwargs):
        """Load from a folder holding spiece.model (+ tokenizer_config.json, special_tokens_map.json), or
        from the path of a spiece.model. Keyword arguments override the saved configuration."""
        path = os.fspath(path)
        if os.path.isfile(path):
            folder, vocab_file = os.path.dirname(path), path
        elif os.path.isdir(path):
            folder, vocab_file = path, os.path.join(path, SPIECE_MODEL)
        else:
            raise FileNotFoundError(
                f"{path} is neither a folder nor a file. Pass a folder containing spiece.model (like one "
                f"written by save_pretrained) or the path of the spiece.model itself. (albert_np never downloads.)"
            )
        settings = {}
        for name in (SPECIAL_TOKENS_MAP, TOKENIZER_CONFIG):
            file = os.path.join(folder, name)
            if os.path.isfile(file):
                try:
                    with open(file, encoding="utf-8") as f:
                        loaded = json.load(f)
                except json.JSONDecodeError as err:
                    raise ValueError(f"{file} is not valid JSON ({err}); fix or delete it.") from None
                settings.update(loaded)
        init = {"vocab_file": vocab_file}
        added_tokens_decoder = dict(settings.get("added_tokens_decoder") or {})
        for key in (
            "do_lower_case", "keep_accents", "remove_space", "model_max_length",
            "clean_up_tokenization_spaces", "padding_side", "truncation_side",
        ):  # fmt: skip
            if key in settings and settings[key] is not None:
                init[key] = settings[key]
        for name in SPECIAL_TOKEN_NAMES:
            value = settings.get(name)
            if isinstance(value, dict):  # an AddedToken saved with its options (lstrip, ...)
                added_tokens_decoder.setdefault(name, value)
                value = value["content"]
            if value is not None:
                init[name] = value
        init["added_tokens_decoder"] = added_tokens_decoder
        init.update(kwargs)
        return cls(**init)

    def save_pretrained(self, save_directory):
        """Write spiece.model, tokenizer_config.json and special_tokens_map.json (each atomically) so that
        this class and transformers' AlbertTokenizer.from_pretrained both load the same tokenizer."""
        save_directory = os.fspath(save_directory)
        if os.path.isfile(save_directory):
            raise NotADirectoryError(f"save_pretrained needs a folder, but {save_directory} is a file.")
        os.makedirs(save_directory, exist_ok=True)
        specials = {name: token for name, token in self._special_tokens.items() if token is not None}
        config = {
            "tokenizer_class": "AlbertTokenizer",
            "do_lower_case": self.do_lower_case,
            "keep_accents": self.keep_accents,
            "remove_space": self.remove_space,
            "model_max_length": self.model_max_length,
            "clean_up_tokenization_spaces": self.clean_up_tokenization_spaces,
            "padding_side": self.padding_side,
            "truncation_side": self.truncation_side,
            "added_tokens_decoder": {
                str(t.token_id): t.to_config() for t in sorted(self._added_tokens.values(), key=lambda t: t.token_id)
            },
            **specials,
        }
        files = {
            SPIECE_MODEL: self._model_bytes,
            TOKENIZER_CONFIG: (json.dumps(config, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode(),
            SPECIAL_TOKENS_MAP: (json.dumps(specials, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode(),
        }
        paths = []
        for name, data in files.items():
            paths.append(os.path.join(save_directory, name))
            atomic_write_bytes(paths[-1], data)
        return tuple(paths)

    # --- vocabulary and special tokens ---

    @property
    def vocab_size(self):
        return len(self._pieces)

    def __len__(self):
        return len(self._pieces)

    def get_vocab(self):
        return dict(self._vocab)

    def __getattr__(self, name):
        # cls_token / cls_token_id and friends, read from the special-token table.
        special = self.__dict__.get("_special_tokens")
        if special is not None:
            if name in special:
                return special[name]
            if name.endswith("_id") and name[:-3] in special:
                token = special[name[:-3]]
                return None if token is None else self._vocab[token]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    @property
    def special_tokens_map(self):
        return {name: token for name, token in self._special_tokens.items() if token is not None}

    @property
    def all_special_tokens(self):
        tokens = []
        for token in list(self._special_tokens.values()) + self._extra_special_tokens:
            if token is not None and token not in tokens:
                tokens.append(token)
        return tokens

    @property
    def all_special_ids(self):
        return [self._vocab[token] for token in self.all_special_tokens]

    def convert_tokens_to_ids(self, tokens):
        """Token string(s) to id(s); strings outside the vocabulary give the <unk> id."""
        if isinstance(tokens, str):
            return self._vocab.get(tokens, self.unk_token_id)
        return [self._vocab.get(token, self.unk_token_id) for token in tokens]

    def convert_ids_to_tokens(self, ids, skip_special_tokens=False):
        """Id(s) to piece string(s); ids outside the vocabulary raise ValueError."""
        ids = _to_python(ids)
        if isinstance(ids, int):
            return self._pieces[self._check_id(ids)]
        skip = set(self.all_special_ids) if skip_special_tokens else ()
        return [self._pieces[self._check_id(i)] for i in ids if i not in skip]

    def _check_id(self, token_id):
        if not isinstance(token_id, int) or isinstance(token_id, bool):
            raise TypeError(f"token ids must be integers, got {token_id!r} ({type(token_id).__name__})")
        if not 0 <= token_id < len(self._pieces):
            raise ValueError(
                f"token id {token_id} is out of range: this vocabulary has ids 0..{len(self._pieces) - 1}. "
                f"Were these ids produced by a different tokenizer or model?"
            )
        return token_id

    def num_special_tokens_to_add(self, pair=False):
        return 3 if pair else 2

    def build_inputs_with_special_tokens(self, token_ids_0, token_ids_1=None):
        """[CLS] A [SEP] or [CLS] A [SEP] B [SEP]."""
        cls, sep = [self.cls_token_id], [self.sep_token_id]
        if token_ids_1 is None:
            return cls + list(token_ids_0) + sep
        return cls + list(token_ids_0) + sep + list(token_ids_1) + sep

    def create_token_type_ids_from_sequences(self, token_ids_0, token_ids_1=None):
        """0 for [CLS] A [SEP], 1 for B [SEP]: the segment ids ALBERT's embeddings expect."""
        first = [0] * (len(token_ids_0) + 2)
        return first if token_ids_1 is None else first + [1] * (len(token_ids_1) + 1)

    def get_special_tokens_mask(self, token_ids_0, token_ids_1=None, already_has_special_tokens=False):
        """1 where build_inputs_with_special_tokens puts a special token, 0 elsewhere. With
        already_has_special_tokens=True, marks the special ids found in token_ids_0 instead."""
        if already_has_special_tokens:
            if token_ids_1 is not None:
                raise ValueError(
                    "You should not supply a second sequence if the provided sequence of ids is already "
                    "formatted with special tokens for the model."
                )
            special = set(self.all_special_ids)
            return [1 if int(i) in special else 0 for i in token_ids_0]
        mask = [1] + [0] * len(token_ids_0) + [1]
        return mask if token_ids_1 is None else mask + [0] * len(token_ids_1) + [1]

    # --- step 1: special tokens written in the text ---

    def _split_on_special_tokens(self, text):
        """Cut added tokens out of the raw text: [("text", start, end) | ("token", start, end, _AddedToken)].

        Matching is leftmost-longest on the raw (unnormalized) text, so "[MASK]" is kept whole but
        "[mask]" is ordinary text. lstrip/rstrip tokens also take the whitespace beside them.
        """
        if self._added_re is None:
            return [("text", 0, len(text))]
        parts, prev_end = [], 0
        for match in self._added_re.finditer(text):
            token = self._added_tokens[match.group()]
            start, end = match.span()
            if token.lstrip:
                while start > prev_end and _WHITESPACE_CHARS.match(text[start - 1]):
                    start -= 1
            if token.rstrip:
                while end < len(text) and _WHITESPACE_CHARS.match(text[end]):
                    end += 1
            if start > prev_end:
                parts.append(("text", prev_end, start))
            parts.append(("token", start, end, token))
            prev_end = end
        if prev_end < len(text) or not parts:
            parts.append(("text", prev_end, len(text)))
        return parts

    # --- step 2: normalisation ---

    def _normalize(self, text):
        """ALBERT's text preparation on one stretch of plain text.

        Returns the normalized text and, for each of its characters, the (start, end) span of `text` it
        came from, or None when the mapping is one to one (plain ASCII, the common case).
        """
        if text.isascii() and self._ascii_is_stable and not _ASCII_NEEDS_CARE.search(text):
            return (text.lower() if self.do_lower_case else text), None
        spans = [(i, i + 1) for i in range(len(text))]
        text, spans = _replace_tex_quotes(text, spans)
        text, spans = self._fold_characters(text, spans)
        if self._charsmap is not None:
            text, spans = self._apply_charsmap(text, spans)
        return text, spans

    def _fold_characters(self, text, spans):
        """NFKD then dropping every combining mark (unless keep_accents), then lower-casing (if do_lower_case).

        transformers runs these over the whole text, but each works character by character: NFKD's
        reordering of marks cannot matter, since every character with a combining class is a mark and all
        marks go (Mn, Mc and Me: transformers' StripAccents removes them all). Lower-casing per character
        means "Σ" always becomes "σ", never the final "ς" that str.lower() picks at a word's end.
        Characters produced keep the span of the character they came from.
        """
        folded = [self._fold_cache[char] for char in text]
        if all(len(f) == 1 for f in folded):  # one for one: spans unchanged
            return "".join(folded), spans
        new_spans = [span for f, span in zip(folded, spans) for _ in f]
        return "".join(folded), new_spans

    def _fold_character(self, char):
        if not self.keep_accents:
            char = "".join(c for c in unicodedata.normalize("NFKD", char) if unicodedata.category(c)[0] != "M")
        if self.do_lower_case:
            char = "".join(c.lower() for c in char)
        return char

    def _apply_charsmap(self, text, spans):
        """The model's normalisation table, grapheme cluster by grapheme cluster, as transformers applies it.

        A cluster shorter than 6 UTF-8 bytes is replaced whole by the value of the shortest key it starts
        with (so "e" + U+0301 becomes "é", and "ﬁ" + U+0301 just "fi"); other clusters, or clusters no key
        starts, are looked up character by character.
        """
        if not any(self._charsmap.may_change[char] for char in text):
            return text, spans
        changes, modified = [], False
        for cluster in _grapheme_clusters(text):
            if len(cluster) > 1 and len(cluster.encode("utf-8")) < 6:
                replacement = self._charsmap.shortest_match(cluster)
                if replacement is not None:
                    _record_replacement(changes, cluster, replacement)
                    modified = True
                    continue
            for char in cluster:
                replacement = self._charsmap.for_char[char]
                if replacement is None:
                    changes.append((char, 0))
                else:
                    _record_replacement(changes, char, replacement)
                    modified = True
        return _apply_changes(spans, changes) if modified else (text, spans)

    # --- step 3: pre-tokenization ---

    @staticmethod
    def _pre_tokenize(text):
        """Words split on whitespace, each starting with "▁": [(pretoken, start in text, virtual "▁"?)].

        As transformers' Metaspace: "▁" is prepended unless the word already starts with one, and a word
        is cut before each "▁" inside it (rare: the model's table maps "▁" to a space).
        """
        pretokens = []
        for match in _WORD_RE.finditer(text):
            word, start = match.group(), match.start()
            if SPACE not in word:
                pretokens.append((SPACE + word, start, 1))
                continue
            virtual = 0 if word.startswith(SPACE) else 1
            word = SPACE * virtual + word
            cut = [0] + [i for i in range(1, len(word)) if word[i] == SPACE] + [len(word)]
            for a, b in zip(cut, cut[1:]):
                pretokens.append((word[a:b], start + max(a - virtual, 0), virtual if a == 0 else 0))
        return pretokens

    # --- step 4: the unigram model ---

    def _build_lattice_table(self, pieces):
        """Index the vocabulary for _segment_word: every piece maps to (id, score) and every proper prefix
        of a piece to None, so a scan can stop as soon as no piece starts with what it has read.

        All pieces take part, control ones included ("<pad>" can match text, as in transformers)."""
        table = {}
        for piece_id, (piece, score, _) in enumerate(pieces):
            for end in range(1, len(piece)):
                table.setdefault(piece[:end], None)
            table[piece] = (piece_id, score)
        self._lattice_table = table
        self._max_piece_length = max(len(piece) for piece, _, _ in pieces)
        self._unknown_score = min(score for _, score, _ in pieces) - UNKNOWN_PENALTY
        self._word_cache = {}

    def _segment_word(self, word):
        """The most likely pieces for one pre-token "▁word": transformers' Unigram, step for step.

        A Viterbi pass over the characters, in float64 like transformers (exact for these scores): at
        each end position the best-scoring piece wins, and on an exact tie the one starting earliest.
        A character no piece covers scores as unknown; neighbouring unknowns fuse into one <unk> token
        whose string is their text. (SentencePiece's own Viterbi sums in float32 and so breaks some of
        these ties differently, e.g. "fffl" -> f|ff vs ff|f; hence this port.) Results are cached per word.
        """
        cached = self._word_cache.get(word)
        if cached is not None:
            return cached
        table, n = self._lattice_table, len(word)
        best_score, best_start, best_id = [0.0] + [None] * n, [0] * (n + 1), [0] * (n + 1)
        for start in range(n):
            score_here, covered = best_score[start], False
            for end in range(start + 1, min(n, start + self._max_piece_length) + 1):
                entry = table.get(word[start:end], table)
                if entry is table:  # no piece starts with word[start:end]
                    break
                if entry is None:  # only a prefix of longer pieces
                    continue
                piece_id, score = entry
                candidate = score_here + score
                if best_score[end] is None or candidate > best_score[end]:
                    best_score[end], best_start[end], best_id[end] = candidate, start, piece_id
                covered = covered or end == start + 1
            if not covered:  # no single-character piece here: this character is unknown
                candidate = score_here + self._unknown_score
                if best_score[start + 1] is None or candidate > best_score[start + 1]:
                    best_score[start + 1], best_start[start + 1], best_id[start + 1] = candidate, start, 1
        # Walk back from the end; a run of unknowns is kept as one (start, end) span and sliced once, so
        # the walk is linear in the word's length (joining the run's strings one by one was quadratic).
        spans, end = [], n  # [(start, end, piece id)], last piece first
        while end > 0:
            start = best_start[end]
            if best_id[end] == 1 and spans and spans[-1][2] == 1:  # extend the unknown run leftwards
                spans[-1] = (start, spans[-1][1], 1)
            else:
                spans.append((start, end, best_id[end]))
            end = start
        tokens = [word[start:end] for start, end, _ in reversed(spans)]
        # transformers looks the final strings up again: a fused unknown run is <unk> unless it is a piece
        ids = [self._vocab.get(piece, 1) for piece in tokens]
        result = (tokens, ids)
        if len(word) <= CACHED_WORD_LENGTH:  # long words are rare and would make the cache's size unbounded
            if len(self._word_cache) >= WORD_CACHE_SIZE:
                self._word_cache.clear()
            self._word_cache[word] = result
        return result

    # --- steps 1-4 on a list of texts ---

    def _encode_texts(self, texts, sequence_ids, with_offsets):
        """Tokens of each text (no special framing) as _Encoding rows."""
        rows = []
        for text, sequence_id in zip(texts, sequence_ids):
            ids, tokens, offsets = [], [], []
            for part in self._split_on_special_tokens(text):
                if part[0] == "token":
                    _, start, end, token = part
                    ids.append(token.token_id)
                    tokens.append(text[start:end])  # lstrip/rstrip whitespace included, as in transformers
                    offsets.append((start, end))
                    continue
                base = part[1]
                normalized, spans = self._normalize(text[base : part[2]])
                pretokens = self._pre_tokenize(normalized)
                part_tokens = []
                for pretoken, _, _ in pretokens:
                    word_tokens, word_ids = self._segment_word(pretoken)
                    part_tokens.extend(word_tokens)
                    ids.extend(word_ids)
                tokens.extend(part_tokens)
                if with_offsets:
                    offsets.extend(self._offsets(part_tokens, pretokens, spans, base))
            rows.append(_Encoding.plain(ids, tokens, offsets if with_offsets else [(0, 0)] * len(ids), sequence_id))
        return rows

    @staticmethod
    def _offsets(pieces, pretokens, spans, base):
        """(start, end) in the raw text for each piece: pieces never straddle pretokens, a virtual "▁"
        takes the span of the word's first character, and spans (None = identity) map the rest back."""
        offsets, k, pos = [], 0, 0
        for piece in pieces:
            pretoken, start, virtual = pretokens[k]
            first = start + max(pos - virtual, 0)
            pos += len(piece)
            last = start + max(pos - 1 - virtual, 0)
            if spans is None:
                offsets.append((base + first, base + last + 1))
            else:
                offsets.append((base + spans[first][0], base + spans[last][1]))
            if pos == len(pretoken):
                k, pos = k + 1, 0
        return offsets

    # --- step 5: framing, truncation, padding ---

    def _post_process(self, first, second, add_special_tokens, truncation):
        """Truncate a row (or pair of rows), then frame it: [CLS] A [SEP] (B [SEP]), overflow windows too."""
        if truncation is not None:
            strategy, max_length, stride = truncation
            n_added = (3 if second is not None else 2) if add_special_tokens else 0
            # transformers computes max_length - n_added in unsigned arithmetic: when max_length is smaller
            # than the special tokens, the subtraction wraps around and nothing is truncated.
            if max_length >= n_added:
                self._truncate(first, second, strategy, max_length - n_added, stride)
        row = self._frame(first, second, add_special_tokens)
        # Overflow windows combine as tokenizers' Encoding.merge_with does: every window of A with B and
        # with every window of B, then A with every window of B.
        if second is None:
            overflowing = [self._frame(a, None, add_special_tokens) for a in first.overflowing]
        else:
            overflowing = [
                self._frame(a, b, add_special_tokens) for a in first.overflowing for b in [second] + second.overflowing
            ]
            overflowing += [self._frame(first, b, add_special_tokens) for b in second.overflowing]
        row.overflowing = overflowing
        return row

    def _frame(self, first, second, add_special_tokens):
        """[CLS] A [SEP] or [CLS] A [SEP] B [SEP] (token types 0, then 1 for B [SEP]); A or A B without."""
        if not add_special_tokens:
            return _Encoding.concat([first] if second is None else [first, second])
        cls = _Encoding.special(self.cls_token, self.cls_token_id, 0)
        if second is None:
            return _Encoding.concat([cls, first, _Encoding.special(self.sep_token, self.sep_token_id, 0)])
        sep0, sep1 = (_Encoding.special(self.sep_token, self.sep_token_id, t) for t in (0, 1))
        return _Encoding.concat([cls, first, sep0, second, sep1])

    def _truncate(self, first, second, strategy, max_length, stride):
        """tokenizers' truncate_encodings: fit the row(s) into max_length tokens (special tokens excluded)."""
        total = len(first) + (len(second) if second is not None else 0)
        if max_length == 0:
            first.truncate(0, stride, self.truncation_side)
            if second is not None:
                second.truncate(0, stride, self.truncation_side)
            return
        if total <= max_length:
            return
        to_remove = total - max_length
        if strategy == "longest_first":
            if second is None:
                first.truncate(max_length, stride, self.truncation_side)
                return
            n1, n2 = len(first), len(second)
            short, long_ = min(n1, n2), max(n1, n2)
            long_ = short if short > max_length else max(short, max_length - short)
            if short + long_ > max_length:
                short = max_length // 2
                long_ = short + max_length % 2
            keep1, keep2 = (short, long_) if n1 <= n2 else (long_, short)
            first.truncate(keep1, stride, self.truncation_side)
            second.truncate(keep2, stride, self.truncation_side)
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
        target.truncate(len(target) - to_remove, stride, self.truncation_side)

    # --- the public encoding API ---

    def __call__(
        self,
        text=None,
        text_pair=None,
        add_special_tokens=True,
        padding=False,
        truncation=None,
        max_length=None,
        stride=0,
        is_split_into_words=False,
        pad_to_multiple_of=None,
        padding_side=None,
        return_tensors=None,
        return_token_type_ids=None,
        return_attention_mask=None,
        return_overflowing_tokens=False,
        return_special_tokens_mask=False,
        return_offsets_mapping=False,
        return_length=False,
        verbose=True,
    ):
        """Encode a text, a pair, or a batch of either, with transformers' arguments and outputs.

        Returns a BatchEncoding with input_ids, token_type_ids (returned by default: ALBERT's segment
        embeddings need them for pairs; transformers v5 leaves them out unless asked) and
        attention_mask, plus special_tokens_mask, offset_mapping, length, overflow_to_sample_mapping on
        request. A single text gives flat lists; a batch (list of texts) gives lists of lists.
        """
        if text is None:
            raise ValueError("You need to specify `text`: a string, or a list of strings for a batch.")
        if is_split_into_words:
            raise NotImplementedError(
                "is_split_into_words=True is not supported by albert_np's tokenizer; join the words with "
                "spaces and pass the string."
            )
        for name, value in (("text", text), ("text_pair", text_pair)):
            if value is not None and not _is_text_input(value):
                raise ValueError(
                    f"{name} input must be of type `str` (single example) or `list[str]` (batch), "
                    f"got {type(value).__name__}: {value!r:.80}"
                )
        is_batched = isinstance(text, (list, tuple))
        if is_batched:
            if isinstance(text_pair, str):
                raise TypeError(
                    "when tokenizing batches of text, `text_pair` must be a list or tuple with the same length "
                    "as `text`."
                )
            if text_pair is not None and len(text) != len(text_pair):
                raise ValueError(
                    f"batch length of `text`: {len(text)} does not match batch length of `text_pair`: {len(text_pair)}."
                )
            if not text:
                raise ValueError("`text` is an empty batch: pass at least one string.")
            batch = list(zip(text, text_pair)) if text_pair is not None else [(t, None) for t in text]
        else:
            if isinstance(text_pair, (list, tuple)):
                raise TypeError("`text` is a single string, so `text_pair` must be a single string too, not a list.")
            batch = [(text, text_pair or None)]
        for pair in batch:
            for item in pair:
                if item is not None and not isinstance(item, str):
                    raise ValueError(
                        f"every text in a batch must be a str, got {type(item).__name__}: {item!r:.80}"
                    )
        padding_strategy, truncation_strategy, max_length = self._resolve_strategies(
            padding, truncation, max_length, pad_to_multiple_of, verbose
        )
        if return_tensors not in (None, "np"):
            raise ValueError(
                f"return_tensors={return_tensors!r} is not supported: albert_np returns NumPy arrays "
                f"(return_tensors='np') or Python lists (None)."
            )
        side = padding_side if padding_side is not None else self.padding_side
        if side not in ("right", "left"):
            raise ValueError(f"padding_side must be 'right' or 'left', got {side!r}")

        truncation_params = None
        if truncation_strategy != "do_not_truncate":
            # Checked when transformers configures truncation, with the single-text count of special tokens.
            if max_length >= 2 and max_length - 2 < stride:
                raise ValueError(
                    f"stride={stride} is too large for max_length={max_length}: a window holds at most "
                    f"{max_length - 2} tokens besides the 2 special tokens, and stride must be smaller. Use a "
                    f"smaller stride or a larger max_length."
                )
            truncation_params = (truncation_strategy, max_length, stride)

        texts = [t for pair in batch for t in pair if t is not None]
        sequence_ids = [i for pair in batch for i, t in enumerate(pair) if t is not None]
        encoded = iter(self._encode_texts(texts, sequence_ids, return_offsets_mapping))
        rows = []
        for first_text, second_text in batch:
            first = next(encoded)
            second = next(encoded) if second_text is not None else None
            rows.append(self._post_process(first, second, add_special_tokens, truncation_params))

        if padding_strategy != "do_not_pad":
            length = max(len(r) for r in rows) if padding_strategy == "longest" else max_length
            if pad_to_multiple_of and length % pad_to_multiple_of:
                length += pad_to_multiple_of - length % pad_to_multiple_of
            for row in rows:
                row.pad(length, self.pad_token_id, self.pad_token, self.pad_token_type_id, side)
        return self._batch_encoding(
            rows, is_batched, return_tensors, return_token_type_ids, return_attention_mask,
            return_overflowing_tokens, return_special_tokens_mask, return_offsets_mapping, return_length,
        )  # fmt: skip

    def _resolve_strategies(self, padding, truncation, max_length, pad_to_multiple_of, verbose=True):
        """transformers' _get_padding_truncation_strategies: (padding, truncation, max_length)."""
        if max_length is not None and padding is False and truncation is None:
            truncation = "longest_first"  # max_length alone turns truncation on
        if padding is True and verbose and max_length is not None and truncation in (None, False, "do_not_truncate"):
            warnings.warn(
                "`max_length` is ignored when `padding`=`True` and there is no truncation strategy. "
                "To pad to max length, use `padding='max_length'`."
            )
        if padding is True:
            padding = "longest"
        elif padding is False or padding is None:
            padding = "do_not_pad"
        elif padding not in PADDING_STRATEGIES:
            raise ValueError(
                f"{padding} is not a valid PaddingStrategy, please select one of {list(PADDING_STRATEGIES)}"
            )
        if truncation is True:
            truncation = "longest_first"
        elif truncation is False or truncation is None:
            truncation = "do_not_truncate"
        elif truncation not in TRUNCATION_STRATEGIES:
            raise ValueError(
                f"{truncation} is not a valid TruncationStrategy, please select one of {list(TRUNCATION_STRATEGIES)}"
            )
        if max_length is None:
            no_limit = self.model_max_length > LARGE_INTEGER
            if padding == "max_length":
                padding = "do_not_pad" if no_limit else padding
                max_length = None if no_limit else self.model_max_length
            if truncation != "do_not_truncate":
                truncation = "do_not_truncate" if no_limit else truncation
                max_length = None if no_limit else self.model_max_length
        if (
            truncation != "do_not_truncate"
            and padding != "do_not_pad"
            and pad_to_multiple_of is not None
            and max_length is not None
            and max_length % pad_to_multiple_of != 0
        ):
            raise ValueError(
                "Truncation and padding are both activated but "
                f"truncation length ({max_length}) is not a multiple of pad_to_multiple_of ({pad_to_multiple_of})."
            )
        return padding, truncation, max_length

    def _batch_encoding(
        self, rows, is_batched, return_tensors, return_token_type_ids, return_attention_mask,
        return_overflowing_tokens, return_special_tokens_mask, return_offsets_mapping, return_length,
    ):  # fmt: skip
        """Flatten rows (and overflow windows, when asked) into transformers' BatchEncoding layout."""
        flat, sample_of = [], []
        for i, row in enumerate(rows):
            for r in [row] + (row.overflowing if return_overflowing_tokens else []):
                flat.append(r)
                sample_of.append(i)
        data = {"input_ids": [r.ids for r in flat]}
        if return_token_type_ids is not False:
            data["token_type_ids"] = [r.type_ids for r in flat]
        if return_attention_mask is not False:
            data["attention_mask"] = [r.attention_mask for r in flat]
        if return_special_tokens_mask:
            data["special_tokens_mask"] = [r.special_tokens_mask for r in flat]
        if return_offsets_mapping:
            data["offset_mapping"] = [r.offsets for r in flat]
        if return_length:
            data["length"] = [len(r) for r in flat]
        if return_overflowing_tokens:
            data["overflow_to_sample_mapping"] = sample_of
        if return_tensors == "np":
            data = {key: _to_numpy(value) for key, value in data.items()}
        elif not is_batched and not return_overflowing_tokens:
            # A single text loses the batch level, except for "length", whose rows are plain ints (as in transformers).
            data = {key: value[0] if isinstance(value[0], list) else value for key, value in data.items()}
        return BatchEncoding(data, flat)

    def encode(self, text, text_pair=None, add_special_tokens=True, padding=False, truncation=None,
               max_length=None, stride=0, padding_side=None, return_tensors=None):  # fmt: skip
        """The input_ids of __call__."""
        return self(
            text, text_pair, add_special_tokens=add_special_tokens, padding=padding, truncation=truncation,
            max_length=max_length, stride=stride, padding_side=padding_side, return_tensors=return_tensors,
            return_token_type_ids=False, return_attention_mask=False,
        )["input_ids"]  # fmt: skip

    def tokenize(self, text, pair=None, add_special_tokens=False):
        """The token strings of a text (or pair): "▁" marks word starts; unknown text keeps its characters."""
        return self(text, pair, add_special_tokens=add_special_tokens).tokens()

    # --- decoding ---

    def decode(self, token_ids, skip_special_tokens=False, clean_up_tokenization_spaces=None):
        """Ids back to text: pieces joined, "▁" read as a space (dropped in the first token). A batch (list
        of lists, 2-D array) gives a list of strings."""
        token_ids = _to_python(token_ids)
        if isinstance(token_ids, list) and token_ids and isinstance(token_ids[0], list):
            return [self._decode(ids, skip_special_tokens, clean_up_tokenization_spaces) for ids in token_ids]
        return self._decode(token_ids, skip_special_tokens, clean_up_tokenization_spaces)

    def batch_decode(self, sequences, skip_special_tokens=False, clean_up_tokenization_spaces=None):
        """decode() for each sequence of a batch."""
        sequences = _to_python(sequences)
        if not isinstance(sequences, list) or any(not isinstance(s, list) for s in sequences):
            raise TypeError(
                "batch_decode expects a batch: a list of id lists or a 2-D array; use decode() for one sequence."
            )
        return [self._decode(ids, skip_special_tokens, clean_up_tokenization_spaces) for ids in sequences]

    def _decode(self, ids, skip_special_tokens, clean_up_tokenization_spaces):
        if isinstance(ids, int):
            ids = [ids]
        if not isinstance(ids, list):
            raise TypeError(f"decode expects ids as int, list or array, got {type(ids).__name__}")
        tokens = [
            self._pieces[self._check_id(i)] for i in ids if not (skip_special_tokens and i in self._special_ids)
        ]
        text = self.convert_tokens_to_string(tokens)
        if clean_up_tokenization_spaces is None:
            clean_up_tokenization_spaces = self.clean_up_tokenization_spaces
        if clean_up_tokenization_spaces:
            text = self.clean_up_tokenization(text)
        return text

    @staticmethod
    def convert_tokens_to_string(tokens):
        """transformers' Metaspace decoder: "▁" becomes a space, except in the first token where it is dropped."""
        return "".join(token.replace(SPACE, "" if i == 0 else " ") for i, token in enumerate(tokens))

    @staticmethod
    def clean_up_tokenization(text):
        """transformers' optional clean-up of spaces before punctuation and contractions."""
        for before, after in (
            (" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
            (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"),
        ):  # fmt: skip
            text = text.replace(before, after)
        return text

    def __repr__(self):
        return (
            f"AlbertTokenizer(vocab_file={self.vocab_file!r}, vocab_size={self.vocab_size}, "
            f"do_lower_case={self.do_lower_case}, keep_accents={self.keep_accents})"
        )
