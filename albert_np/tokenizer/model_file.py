"""Stage 0 of the tokenizer: reading spiece.model, the SentencePiece model file.

The file is a serialized protobuf ``ModelProto``. We need two things from it: the pieces (string, score,
type) and the normaliser's ``precompiled_charsmap``, a darts-clone double-array trie from UTF-8 keys to
replacement strings (``nmt_nfkc`` for ALBERT). sentencepiece validates the file; the few protobuf fields
we use are read here by hand, so that protobuf is not a runtime dependency.
"""

import os
import struct
import sys
from array import array

import sentencepiece as spm

# SentencePiece piece types (sentencepiece_model.proto).
NORMAL, UNKNOWN, CONTROL, USER_DEFINED = 1, 2, 3, 4


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


def read_model(model_bytes):
    """The pieces [(piece, score, type)] and the normalisation table (bytes) of a serialized ModelProto."""
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


def load_model_file(path):
    """The bytes of the spiece.model at `path`, checked by sentencepiece and by our reader."""
    if os.path.isdir(path):
        raise IsADirectoryError(
            f"vocab_file={path!r} is a folder, not a SentencePiece model. Pass the path of its spiece.model, "
            f"or use AlbertTokenizer.from_pretrained({path!r})."
        )
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"SentencePiece model not found: {path}. ALBERT's tokenizer needs the checkpoint's "
            f"spiece.model; pass its path, or a folder containing it to from_pretrained()."
        )
    with open(path, "rb") as f:
        data = f.read()
    try:
        spm.SentencePieceProcessor(model_proto=data)
        if not read_model(data)[0]:
            raise ValueError("it holds no pieces")
    except Exception as err:  # sentencepiece raises RuntimeError, our reader ValueError/IndexError/UnicodeError
        raise ValueError(
            f"{path} is not a valid SentencePiece model ({err}). The file is corrupt or not a "
            f"spiece.model: replace it with the one that came with the checkpoint."
        ) from None
    return data


class PerCharacter(dict):
    """A cache of a function of one character: missing entries are computed on first lookup."""

    def __init__(self, function):
        super().__init__()
        self.function = function

    def __missing__(self, char):
        value = self[char] = self.function(char)
        return value


class CharsMap:
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
        self.for_char = PerCharacter(self.shortest_match)  # replacement of one character, or None

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
