"""Bad inputs to the tokenizer: texts, sizes, strategies, pairs, and broken spiece.model folders.

Every case names the argument (and the value, or its position) in its message; from_pretrained cases
also check that nothing in the folder changed.
"""

import json
from functools import cache
from pathlib import Path

from albert_np.tokenizer import AlbertTokenizer

from . import Case

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "tokenizer"
TEXT = "The quick brown fox jumps over the lazy dog"


@cache
def tok():
    return AlbertTokenizer.from_pretrained(GOLDEN)


def call(*args, **kwargs):
    return lambda tmp: tok()(*args, **kwargs)


def folder_with(**files):
    """A setup writing `files` ({name: bytes}) into the case's folder; spiece=True copies the fixture model."""

    def setup(tmp):
        for name, data in files.items():
            (tmp / name).write_bytes((GOLDEN / "spiece.model").read_bytes() if data is True else data)

    return setup


CASES = [
    # --- texts ---
    Case("text_int", call(5), ValueError, r"text input must be of type `str`.*got int"),
    Case("text_bytes", call(b"hello"), ValueError, r"text input must be of type `str`.*got bytes"),
    Case("text_none", call(None), ValueError, r"specify `text`"),
    Case("text_dict", call({"text": "x"}), ValueError, r"text input must be of type `str`.*got dict"),
    Case("text_pair_int", call("a", 7), ValueError, r"text_pair input must be of type `str`"),
    Case("batch_with_int", call(["a", 3]), ValueError, r"must be a str, got int at text\[1\]"),
    Case("batch_pair_with_none", call(["a", "b"], ["c", None]), ValueError, r"got NoneType at text_pair\[1\]"),
    Case("empty_batch", call([]), ValueError, r"`text` is an empty batch"),
    Case("lone_surrogate", call("ab\ud800c"), ValueError, r"text holds a lone surrogate U\+D800 at position 2.*decode"),
    Case("lone_surrogate_in_pair", call("ok", "\udc80"), ValueError, r"text_pair holds a lone surrogate U\+DC80 at position 0"),
    Case("lone_surrogate_in_batch", call(["ok", "x\udfff"]), ValueError, r"text\[1\] holds a lone surrogate U\+DFFF at position 1"),
    Case("split_utf16_pair", call("\ud83d\ude00"), ValueError, r"lone surrogate U\+D83D at position 0"),
    # --- pairs ---
    Case("batch_with_single_pair", call(["a", "b"], "c"), TypeError, r"`text_pair` must be a list or tuple"),
    Case("single_text_with_pair_batch", call("a", ["b"]), TypeError, r"`text_pair` must be a single string"),
    Case("pair_batch_length_mismatch", call(["a", "b"], ["c"]), ValueError, r"batch length of `text`: 2 does not match .*`text_pair`: 1"),
    Case("only_second_without_pair", call(TEXT, truncation="only_second", max_length=5), ValueError, r"truncation='only_second' needs a second text"),
    Case("only_first_cannot_fit", call("a", TEXT, truncation="only_first", max_length=6), ValueError, r"truncation='only_first' cannot fit.*longest_first"),
    # --- sizes ---
    Case("negative_stride", call(TEXT, truncation=True, max_length=8, stride=-1), ValueError, r"stride=-1 is negative.*0 or more"),
    Case("negative_max_length", call(TEXT, truncation=True, max_length=-3), ValueError, r"max_length=-3 is negative"),
    Case("negative_max_length_padding", call(TEXT, padding="max_length", max_length=-1), ValueError, r"max_length=-1 is negative"),
    Case("negative_pad_to_multiple_of", call([TEXT, "a"], padding=True, pad_to_multiple_of=-8), ValueError, r"pad_to_multiple_of=-8 is negative"),
    Case("float_max_length", call(TEXT, truncation=True, max_length=5.5), TypeError, r"max_length must be an int.*got float: 5.5"),
    Case("float_stride", call(TEXT, truncation=True, max_length=8, stride=1.5), TypeError, r"stride must be an int.*got float"),
    Case("float_pad_to_multiple_of", call(TEXT, padding=True, pad_to_multiple_of=2.5), TypeError, r"pad_to_multiple_of must be an int"),
    Case("string_max_length", call(TEXT, truncation=True, max_length="7"), TypeError, r"max_length must be an int.*got str: '7'"),
    Case("bool_max_length", call(TEXT, truncation=True, max_length=True), TypeError, r"max_length must be an int.*got bool"),
    Case("none_stride", call(TEXT, truncation=True, max_length=8, stride=None), TypeError, r"stride must be an int.*got NoneType"),
    Case("stride_too_large", call(TEXT, truncation=True, max_length=6, stride=5), ValueError, r"stride=5 is too large for max_length=6"),
    Case("max_length_not_multiple", call(TEXT, padding="max_length", truncation=True, max_length=10, pad_to_multiple_of=8),
         ValueError, r"truncation length \(10\) is not a multiple of pad_to_multiple_of \(8\)"),  # fmt: skip
    # --- strategies and flags ---
    Case("bad_padding_strategy", call(TEXT, padding="left"), ValueError, r"padding='left'.*not a valid PaddingStrategy.*'longest'"),
    Case("padding_as_list", call(TEXT, padding=["longest"]), ValueError, r"not a valid PaddingStrategy"),
    Case("bad_truncation_strategy", call(TEXT, truncation="yes"), ValueError, r"truncation='yes'.*not a valid TruncationStrategy"),
    Case("return_tensors_pt", call(TEXT, return_tensors="pt"), ValueError, r"return_tensors='pt' is not supported.*'np'"),
    Case("return_tensors_typo", call(TEXT, return_tensors="numpy"), ValueError, r"return_tensors='numpy' is not supported"),
    Case("bad_padding_side", call(TEXT, padding=True, padding_side="up"), ValueError, r"padding_side='up' is not supported.*'right', 'left'"),
    Case("add_special_tokens_string", call(TEXT, add_special_tokens="no"), TypeError, r"add_special_tokens must be True or False.*'no'"),
    Case("return_offsets_int", call(TEXT, return_offsets_mapping=1), TypeError, r"return_offsets_mapping must be True or False"),
    Case("split_into_words", call(["a", "b"], is_split_into_words=True), NotImplementedError, r"is_split_into_words=True.*join the words"),
    # --- decoding ---
    Case("decode_out_of_range", lambda tmp: tok().decode([2, 5000]), ValueError, r"token id 5000 is out of range.*0\.\.999"),
    Case("decode_negative", lambda tmp: tok().decode([-1]), ValueError, r"token id -1 is out of range"),
    Case("decode_float", lambda tmp: tok().decode([2.0]), TypeError, r"token ids must be integers, got 2.0"),
    Case("batch_decode_flat", lambda tmp: tok().batch_decode([2, 3]), TypeError, r"batch_decode expects a batch.*use decode\(\)"),
    # --- constructor options ---
    Case("lower_case_string", lambda tmp: AlbertTokenizer.from_pretrained(GOLDEN, do_lower_case="yes"), TypeError, r"do_lower_case must be True or False.*'yes'"),
    Case("negative_model_max_length", lambda tmp: AlbertTokenizer.from_pretrained(GOLDEN, model_max_length=-1), ValueError, r"model_max_length=-1 is negative"),
    Case("bad_truncation_side", lambda tmp: AlbertTokenizer.from_pretrained(GOLDEN, truncation_side="middle"), ValueError, r"truncation_side='middle' is not supported"),
    Case("unknown_special_token", lambda tmp: AlbertTokenizer.from_pretrained(GOLDEN, mask_token="<mask>"), ValueError, r"mask_token='<mask>' is not a piece"),
    Case("from_pretrained_typo_keyword", lambda tmp: AlbertTokenizer.from_pretrained(GOLDEN, do_lower_cas=False), TypeError, r"unexpected keyword argument\(s\) do_lower_cas"),
    # --- spiece.model on disk ---
    Case("folder_without_spiece_model", lambda tmp: AlbertTokenizer.from_pretrained(tmp), FileNotFoundError, r"has no spiece.model",
         setup=folder_with(**{"config.json": b"{}"})),  # fmt: skip
    Case("garbage_spiece_model", lambda tmp: AlbertTokenizer.from_pretrained(tmp), ValueError, r"spiece.model is not a valid SentencePiece model.*replace it",
         setup=folder_with(**{"spiece.model": b"\x00garbage\xff" * 40})),  # fmt: skip
    Case("empty_spiece_model", lambda tmp: AlbertTokenizer.from_pretrained(tmp), ValueError, r"not a valid SentencePiece model",
         setup=folder_with(**{"spiece.model": b""})),  # fmt: skip
    Case("truncated_spiece_model", lambda tmp: AlbertTokenizer.from_pretrained(tmp), ValueError, r"not a valid SentencePiece model",
         setup=lambda tmp: (tmp / "spiece.model").write_bytes((GOLDEN / "spiece.model").read_bytes()[:5000])),  # fmt: skip
    Case("file_path_not_a_model", lambda tmp: AlbertTokenizer.from_pretrained(tmp / "config.json"), ValueError, r"config.json is not a valid SentencePiece model",
         setup=folder_with(**{"config.json": json.dumps({"model_type": "albert"}).encode()})),  # fmt: skip
    Case("missing_path", lambda tmp: AlbertTokenizer.from_pretrained(tmp / "nope"), FileNotFoundError, r"nope is neither a folder nor a file.*never downloads"),
    Case("vocab_file_is_a_folder", lambda tmp: AlbertTokenizer(tmp), IsADirectoryError, r"vocab_file=.* is a folder.*from_pretrained"),
    Case("tokenizer_config_not_json", lambda tmp: AlbertTokenizer.from_pretrained(tmp), ValueError, r"tokenizer_config.json is not valid JSON.*fix or delete",
         setup=folder_with(**{"spiece.model": True, "tokenizer_config.json": b"{not json"})),  # fmt: skip
    Case("tokenizer_config_not_utf8", lambda tmp: AlbertTokenizer.from_pretrained(tmp), ValueError, r"tokenizer_config.json is not valid JSON.*UTF-8",
         setup=folder_with(**{"spiece.model": True, "tokenizer_config.json": b'{"do_lower_case": "\xe9"}'})),  # fmt: skip
    Case("tokenizer_config_a_list", lambda tmp: AlbertTokenizer.from_pretrained(tmp), ValueError, r"tokenizer_config.json must hold a JSON object, not list",
         setup=folder_with(**{"spiece.model": True, "tokenizer_config.json": b"[1, 2]"})),  # fmt: skip
    Case("tokenizer_config_bad_option", lambda tmp: AlbertTokenizer.from_pretrained(tmp), TypeError, r"keep_accents must be True or False.*'no'",
         setup=folder_with(**{"spiece.model": True, "tokenizer_config.json": b'{"keep_accents": "no"}'})),  # fmt: skip
    Case("save_pretrained_into_a_file", lambda tmp: tok().save_pretrained(tmp / "notes.txt"), NotADirectoryError, r"needs a folder, but .*notes.txt is a file",
         setup=folder_with(**{"notes.txt": b"keep me"})),  # fmt: skip
]
