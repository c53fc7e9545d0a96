"""albert_np's tokenizer against fixtures generated from transformers v5 (tools/make_tokenizer_golden.py).

Runs without transformers: tests/golden/tokenizer/ holds a small ALBERT-layout spiece.model and
transformers' outputs for it. Every field must match exactly. Deliberate differences, each tested here:
token_type_ids are returned by default (the fixtures asked transformers for them), and bad ids or
impossible requests raise ValueError with a message saying what to do.
"""

import json
import os
from pathlib import Path

import numpy as np
import pytest

from albert_np.tokenizer import AlbertTokenizer, BatchEncoding

GOLDEN = Path(__file__).resolve().parent / "golden" / "tokenizer"
EXPECTED = json.loads((GOLDEN / "expected.json").read_text(encoding="utf-8"))
CONFIG_IDS = [
    ("lower" if c["kwargs"]["do_lower_case"] else "cased") + ("-keep_accents" if c["kwargs"]["keep_accents"] else "-strip_accents")
    for c in EXPECTED["configs"]
]
CALLS = {call["name"]: call for call in EXPECTED["calls"]}
# Our message for each impossible request (transformers' own is kept in expected.json for reference).
ERROR_MESSAGES = {
    "error_only_second_first_too_long": r"truncation='only_second' cannot fit this input into max_length: the first text alone has 58 tokens, and only 9 fit beside the special tokens",
    "error_only_second_single_text": r"truncation='only_second' needs a second text",
    "error_stride_too_large": r"stride=19 is too large for max_length=20",
    "error_stride_window_too_small": r"stride=4 leaves no room to advance: each overflow window here holds only 3 tokens",
    "error_bad_padding": r"everything is not a valid PaddingStrategy",
    "error_bad_truncation": r"middle is not a valid TruncationStrategy",
    "error_multiple_of_mismatch": r"truncation length \(10\) is not a multiple of pad_to_multiple_of \(8\)",
}


def jsonable(value):
    """Outputs as the fixtures store them: arrays and tuples become lists."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


_LOADED = {}


def load(**kwargs):
    """The fixture tokenizer with the given options (cached: loading parses the model)."""
    key = tuple(sorted(kwargs.items()))
    if key not in _LOADED:
        _LOADED[key] = AlbertTokenizer.from_pretrained(GOLDEN, **kwargs)
    return _LOADED[key]


# --- text by text, four configurations ---------------------------------------------------------------


@pytest.mark.parametrize("config", range(len(EXPECTED["configs"])), ids=CONFIG_IDS)
@pytest.mark.parametrize("index", range(len(EXPECTED["texts"])), ids=[f"{t['category']}{i}" for i, t in enumerate(EXPECTED["texts"])])
def test_text_matches_transformers(config, index):
    text = EXPECTED["texts"][index]["text"]
    expected = EXPECTED["configs"][config]["outputs"][index]
    tokenizer = load(**EXPECTED["configs"][config]["kwargs"])
    enc = tokenizer(text, return_offsets_mapping=True)
    assert enc["input_ids"] == expected["input_ids"]
    assert enc.tokens() == expected["tokens"]
    assert jsonable(enc["offset_mapping"]) == expected["offset_mapping"]
    assert tokenizer.tokenize(text) == expected["tokenize"]
    assert tokenizer.decode(enc["input_ids"]) == expected["decode"]
    assert tokenizer.decode(enc["input_ids"], skip_special_tokens=True) == expected["decode_skip_special_tokens"]


# --- whole calls: pairs, batches, padding, truncation, overflow ---------------------------------------


def run(call):
    tokenizer = AlbertTokenizer.from_pretrained(GOLDEN)
    for name, value in call["attributes"].items():
        setattr(tokenizer, name, value)
    return tokenizer(*call["args"], **call["kwargs"])


@pytest.mark.parametrize("name", [n for n in CALLS if "error" not in CALLS[n]["expected"]])
def test_call_matches_transformers(name):
    call = CALLS[name]
    expected = call["expected"]
    out = run(call)
    assert jsonable(dict(out)) == expected["output"]
    assert list(out.keys()) == expected["keys"]
    assert [out.tokens(i) for i in range(len(expected["tokens"]))] == expected["tokens"]
    assert [out.sequence_ids(i) for i in range(len(expected["sequence_ids"]))] == expected["sequence_ids"]
    if "dtypes" in expected:
        assert {key: str(value.dtype) for key, value in out.items()} == expected["dtypes"]


@pytest.mark.parametrize("name", [n for n in CALLS if "error" in CALLS[n]["expected"]])
def test_impossible_request_raises_like_transformers(name):
    with pytest.raises(ValueError, match=ERROR_MESSAGES[name]):
        run(CALLS[name])


def test_pair_truncation_only_second_too_long_raises():
    tokenizer = load()
    question = "What is the capital of France? " * 3
    with pytest.raises(ValueError, match=r"the first text alone has \d+ tokens.*Use truncation='longest_first'"):
        tokenizer(question, "Paris.", truncation="only_second", max_length=10)


def test_qa_windows_cover_the_context_with_offsets_into_it():
    tokenizer = load()
    question, context = "Where is Paris?", "Paris is the capital of France. " * 4
    enc = tokenizer(question, context, truncation="only_second", max_length=30, stride=5,
                    return_overflowing_tokens=True, return_offsets_mapping=True)  # fmt: skip
    assert len(enc["input_ids"]) > 1 and set(enc["overflow_to_sample_mapping"]) == {0}
    for i, offsets in enumerate(enc["offset_mapping"]):
        context_spans = [o for o, s in zip(offsets, enc.sequence_ids(i)) if s == 1]
        assert all(0 <= a <= b <= len(context) for a, b in context_spans)


# --- decoding and the special-token helpers --------------------------------------------------------------


@pytest.mark.parametrize("case", EXPECTED["decode"], ids=lambda c: f"{c['ids'][:4]}-{c['kwargs']}")
def test_decode_matches_transformers(case):
    assert load().decode(case["ids"], **case["kwargs"]) == case["expected"]


def test_batch_decode_matches_transformers():
    case = EXPECTED["batch_decode"]
    assert load().batch_decode(case["ids"]) == case["expected"]
    assert load().batch_decode(case["ids"], skip_special_tokens=True) == case["expected_skip"]
    assert load().decode(case["ids"]) == case["expected"]
    rows = np.array([case["ids"][0][:4], case["ids"][0][-4:]])
    assert load().batch_decode(rows) == [load().decode(list(row)) for row in rows.tolist()]


def test_special_token_helpers_agree_with_the_encoder():
    api, tokenizer = EXPECTED["api"], load()
    a, b = api["ids_a"], api["ids_b"]
    assert tokenizer.build_inputs_with_special_tokens(a) == api["single"]["input_ids"]
    assert tokenizer.build_inputs_with_special_tokens(a, b) == api["pair"]["input_ids"]
    assert tokenizer.create_token_type_ids_from_sequences(a) == api["single"]["token_type_ids"]
    assert tokenizer.create_token_type_ids_from_sequences(a, b) == api["pair"]["token_type_ids"]
    assert tokenizer.get_special_tokens_mask(a) == api["single"]["special_tokens_mask"]
    assert tokenizer.get_special_tokens_mask(a, b) == api["pair"]["special_tokens_mask"]
    formatted = api["pair"]["input_ids"] + [1]
    assert tokenizer.get_special_tokens_mask(formatted, already_has_special_tokens=True) == api["mask_already_formatted"]
    assert tokenizer.num_special_tokens_to_add(False) == api["num_special_tokens_to_add"][0]
    assert tokenizer.num_special_tokens_to_add(True) == api["num_special_tokens_to_add"][1]


def test_already_formatted_mask_with_second_sequence_raises():
    with pytest.raises(ValueError, match="should not supply a second sequence"):
        load().get_special_tokens_mask([2, 5, 3], [5], already_has_special_tokens=True)


def test_vocabulary_and_special_tokens_match_transformers():
    api, tokenizer = EXPECTED["api"], load()
    assert tokenizer.vocab_size == api["vocab_size"] and len(tokenizer) == api["len"]
    assert sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1]) == [tuple(kv) for kv in api["vocab_items"]]
    assert tokenizer.convert_ids_to_tokens(list(range(12))) == api["convert_ids_to_tokens"]
    assert tokenizer.convert_tokens_to_ids(["▁the", "[MASK]", "not-a-piece", "<pad>", "▁"]) == api["convert_tokens_to_ids"]
    assert tokenizer.convert_tokens_to_ids("[MASK]") == 4 and tokenizer.convert_ids_to_tokens(4) == "[MASK]"
    for name, token in api["special_tokens"].items():
        assert getattr(tokenizer, name) == token
        assert getattr(tokenizer, name + "_id") == api["special_token_ids"][name]
    assert tokenizer.all_special_tokens == api["all_special_tokens"]
    assert tokenizer.all_special_ids == api["all_special_ids"]
    assert tokenizer.model_max_length == api["model_max_length"]


def test_saved_configuration_with_lstrip_mask_matches_transformers(tmp_path):
    configured = EXPECTED["configured"]
    (tmp_path / "spiece.model").write_bytes((GOLDEN / "spiece.model").read_bytes())
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(configured["config"]), encoding="utf-8")
    tokenizer = AlbertTokenizer.from_pretrained(tmp_path)
    for expected in configured["outputs"]:
        enc = tokenizer(expected["text"], return_offsets_mapping=True)
        assert enc["input_ids"] == expected["input_ids"]
        assert enc.tokens() == expected["tokens"]
        assert jsonable(enc["offset_mapping"]) == expected["offset_mapping"]
    assert tokenizer.model_max_length == configured["model_max_length"]
    assert len(tokenizer(configured["long_text"], truncation=True)["input_ids"]) == configured["truncation_true_length"]


# --- behaviour of our own API ---------------------------------------------------------------------------


def test_token_type_ids_are_returned_by_default_and_can_be_dropped():
    tokenizer = load()
    enc = tokenizer("Who?", "Nobody.")
    assert list(enc) == ["input_ids", "token_type_ids", "attention_mask"]
    assert enc["token_type_ids"] == tokenizer.create_token_type_ids_from_sequences(
        tokenizer.encode("Who?", add_special_tokens=False), tokenizer.encode("Nobody.", add_special_tokens=False)
    )
    assert "token_type_ids" not in tokenizer("Who?", "Nobody.", return_token_type_ids=False)


def test_return_tensors_np_gives_int64_arrays_with_a_batch_axis():
    tokenizer = load()
    enc = tokenizer(["The capital of [MASK] is Paris.", "Hi"], padding=True, return_tensors="np", return_offsets_mapping=True)
    assert enc["input_ids"].dtype == np.int64 and enc["input_ids"].shape == enc["attention_mask"].shape
    assert enc["offset_mapping"].shape == enc["input_ids"].shape + (2,)
    single = tokenizer("The capital of [MASK] is Paris.", return_tensors="np")
    assert single["input_ids"].shape[0] == 1
    assert (single["input_ids"][0] == np.array(tokenizer.encode("The capital of [MASK] is Paris."))).all()


def test_padding_true_with_max_length_but_no_truncation_warns_like_transformers():
    with pytest.warns(UserWarning, match="`max_length` is ignored when `padding`=`True`"):
        enc = load()(["a b c d e f", "a"], padding=True, max_length=2, truncation=False)
    assert len(enc["input_ids"][0]) > 2


def test_batch_encoding_reads_keys_as_attributes():
    enc = load()("Paris")
    assert isinstance(enc, BatchEncoding) and enc.input_ids == enc["input_ids"]
    with pytest.raises(AttributeError, match="no key or attribute 'labels'"):
        enc.labels


def test_encode_and_tokenize_agree_with_call():
    tokenizer = load()
    text = "Über café, 1,234 items [MASK]!"
    assert tokenizer.encode(text) == tokenizer(text)["input_ids"]
    assert tokenizer.convert_tokens_to_ids(tokenizer.tokenize(text)) == tokenizer.encode(text, add_special_tokens=False)


def test_constructor_loads_the_model_file_directly():
    tokenizer = AlbertTokenizer(GOLDEN / "spiece.model", do_lower_case=False, keep_accents=True, remove_space=True)
    cased = EXPECTED["configs"][CONFIG_IDS.index("cased-keep_accents")]["outputs"][0]["input_ids"]
    assert tokenizer(EXPECTED["texts"][0]["text"])["input_ids"] == cased


def test_save_pretrained_round_trips_options(tmp_path):
    tokenizer = AlbertTokenizer.from_pretrained(GOLDEN, keep_accents=True, model_max_length=128)
    paths = tokenizer.save_pretrained(tmp_path / "saved")
    assert sorted(os.path.basename(p) for p in paths) == ["special_tokens_map.json", "spiece.model", "tokenizer_config.json"]
    assert sorted(os.listdir(tmp_path / "saved")) == sorted(os.path.basename(p) for p in paths)  # no temp files left
    reloaded = AlbertTokenizer.from_pretrained(tmp_path / "saved")
    assert (reloaded.keep_accents, reloaded.do_lower_case, reloaded.model_max_length) == (True, True, 128)
    text = "Café crème [MASK] ﬁ"
    assert reloaded(text, return_offsets_mapping=True) == tokenizer(text, return_offsets_mapping=True)
    assert (tmp_path / "saved" / "spiece.model").read_bytes() == (GOLDEN / "spiece.model").read_bytes()


def test_save_pretrained_twice_gives_identical_files(tmp_path):
    load().save_pretrained(tmp_path / "a")
    load().save_pretrained(tmp_path / "b")
    for name in os.listdir(tmp_path / "a"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_encoding_is_the_same_on_a_second_call():
    tokenizer = AlbertTokenizer.from_pretrained(GOLDEN)
    texts = [t["text"] for t in EXPECTED["texts"]]
    assert tokenizer(texts)["input_ids"] == tokenizer(texts)["input_ids"]  # the second run reads the word cache


# --- errors on bad input ---------------------------------------------------------------------------------


def test_missing_spiece_model_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"SentencePiece model not found: .*spiece.model"):
        AlbertTokenizer.from_pretrained(tmp_path)


def test_nonexistent_path_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="is neither a folder nor a file.*never downloads"):
        AlbertTokenizer.from_pretrained(tmp_path / "albert-base-v2")


def test_corrupt_spiece_model_raises_value_error(tmp_path):
    (tmp_path / "spiece.model").write_bytes(b"this is not a protobuf \xff\xfe" * 20)
    with pytest.raises(ValueError, match="is not a valid SentencePiece model.*replace it"):
        AlbertTokenizer.from_pretrained(tmp_path)


def test_truncated_spiece_model_raises_value_error(tmp_path):
    data = (GOLDEN / "spiece.model").read_bytes()
    (tmp_path / "spiece.model").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="is not a valid SentencePiece model"):
        AlbertTokenizer.from_pretrained(tmp_path)


def test_invalid_tokenizer_config_json_raises(tmp_path):
    (tmp_path / "spiece.model").write_bytes((GOLDEN / "spiece.model").read_bytes())
    (tmp_path / "tokenizer_config.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match=r"tokenizer_config.json is not valid JSON"):
        AlbertTokenizer.from_pretrained(tmp_path)


def test_unsupported_added_token_option_raises(tmp_path):
    (tmp_path / "spiece.model").write_bytes((GOLDEN / "spiece.model").read_bytes())
    config = {"added_tokens_decoder": {"4": {"content": "[MASK]", "normalized": True}}}
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(NotImplementedError, match=r"'\[MASK\]' sets normalized=True"):
        AlbertTokenizer.from_pretrained(tmp_path)


def _train_tiny_model(path, **options):
    import io

    import sentencepiece as spm

    lines = ["the cat sat on the mat", "a dog ran in the park", "tokenizers split words into pieces"] * 20
    buffer = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_writer=buffer, model_type="unigram",
                                   vocab_size=40, hard_vocab_limit=False, num_threads=1, minloglevel=2, **options)  # fmt: skip
    path.write_bytes(buffer.getvalue())


def test_model_without_albert_special_pieces_raises(tmp_path):
    _train_tiny_model(tmp_path / "spiece.model", pad_id=0, unk_id=1, bos_id=-1, eos_id=-1)
    with pytest.raises(ValueError, match=r"'\[CLS\]' is not a piece of .*spiece.model"):
        AlbertTokenizer.from_pretrained(tmp_path)


def test_model_with_unknown_piece_elsewhere_raises(tmp_path):
    _train_tiny_model(tmp_path / "spiece.model", unk_id=0, pad_id=1, bos_id=-1, eos_id=-1,
                      control_symbols=["[CLS]", "[SEP]", "[MASK]"])  # fmt: skip
    with pytest.raises(ValueError, match="not in ALBERT's layout: its unknown piece must have id 1"):
        AlbertTokenizer.from_pretrained(tmp_path)


@pytest.mark.parametrize("bad", [5, 3.5, None, b"bytes", [1, 2], {"text": "x"}])
def test_non_string_input_raises(bad):
    with pytest.raises(ValueError, match=r"must be of type `str`|specify `text`"):
        load()(bad)


def test_non_string_inside_a_batch_raises():
    with pytest.raises(ValueError, match="every text in a batch must be a str, got int"):
        load()(["fine", 3])


def test_non_string_text_pair_raises():
    with pytest.raises(ValueError, match="text_pair input must be of type `str`"):
        load()("question", 42)


def test_batch_pair_length_mismatch_raises():
    with pytest.raises(ValueError, match="batch length of `text`: 2 does not match batch length of `text_pair`: 1"):
        load()(["a", "b"], ["c"])


def test_empty_batch_raises():
    with pytest.raises(ValueError, match="empty batch"):
        load()([])


def test_unsupported_tensor_type_raises():
    with pytest.raises(ValueError, match=r"return_tensors='pt' is not supported.*'np'"):
        load()("hello", return_tensors="pt")


def test_split_into_words_raises_not_implemented():
    with pytest.raises(NotImplementedError, match="is_split_into_words=True is not supported"):
        load()(["hello", "world"], is_split_into_words=True)


@pytest.mark.parametrize("bad_id", [1000, 10**9, -1])
def test_decode_out_of_range_id_raises(bad_id):
    with pytest.raises(ValueError, match=rf"token id {bad_id} is out of range: this vocabulary has ids 0\.\.999"):
        load().decode([5, bad_id, 6])


def test_decode_non_integer_id_raises():
    with pytest.raises(TypeError, match="token ids must be integers, got 'a'"):
        load().decode([5, "a"])


def test_convert_ids_to_tokens_out_of_range_raises():
    with pytest.raises(ValueError, match="token id 5000 is out of range"):
        load().convert_ids_to_tokens([5, 5000])


def test_batch_decode_of_a_single_sequence_raises():
    with pytest.raises(TypeError, match="batch_decode expects a batch"):
        load().batch_decode([5, 6, 7])


def test_save_pretrained_into_a_file_raises(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match="needs a folder"):
        load().save_pretrained(tmp_path / "file")


def test_a_long_run_of_unknown_characters_gives_one_unk_token_with_its_offsets():
    tok = load()
    enc = tok("x " + "\U0001F600" * 100_000, add_special_tokens=False, return_offsets_mapping=True)
    assert enc["input_ids"] == [5, 97, 5, 1]
    assert enc.tokens()[3] == "\U0001F600" * 100_000
    assert enc["offset_mapping"][3] == (2, 100_002)


@pytest.mark.parametrize("text, argument, position", [
    ("ab\ud800c", "text", 2), (["ok", "\udfffx"], r"text\[1\]", 0), (("a", "b\ud83d"), "text_pair", 1),
])  # fmt: skip
def test_lone_surrogate_raises_naming_argument_and_position(text, argument, position):
    tok = load()
    args = (text[0], text[1]) if isinstance(text, tuple) else (text,)
    with pytest.raises(ValueError, match=rf"{argument} holds a lone surrogate U\+D[89A-F][0-9A-F]{{2}} at position {position}"):
        tok(*args)


def test_word_ids_number_the_words_of_each_text_as_transformers_fast_tokenizer():
    # Expected values: transformers 5.24's AlbertTokenizer (fast) on the bundled tiny-albert tokenizer;
    # tests/test_model_api_live.py and test_tokenizer_live.py compare many more texts live.
    from albert_np.demo import bundled_model_dir

    tokenizer = AlbertTokenizer.from_pretrained(bundled_model_dir())
    enc = tokenizer("hello [MASK] world")
    assert enc.tokens() == ["[CLS]", "▁", "h", "e", "l", "l", "o", "[MASK]", "▁", "w", "o", "r", "l", "d", "[SEP]"]
    assert enc.word_ids() == [None, 0, 0, 0, 0, 0, 0, 1, 2, 2, 2, 2, 2, 2, None]
    assert tokenizer("x▁y z").word_ids() == [None, 0, 0, 1, 1, 2, 2, None]      # cut before a "▁" inside a word
    pair = tokenizer(["a b", "x"], ["c d e", "y"], padding=True)
    assert pair.tokens(0) == ["[CLS]", "▁a", "▁", "b", "[SEP]", "▁", "c", "▁", "d", "▁", "e", "[SEP]"]
    assert pair.word_ids(0) == [None, 0, 1, 1, None, 0, 0, 1, 1, 2, 2, None]     # each text counts from 0
    assert pair.sequence_ids(0) == [None, 0, 0, 0, None, 1, 1, 1, 1, 1, 1, None]
    assert pair.word_ids(1)[-4:] == [None, None, None, None]                      # [SEP] and padding
    windows = tokenizer(["a b c d e f"], truncation=True, max_length=5, stride=1, return_overflowing_tokens=True)
    assert [windows.word_ids(i) for i in range(3)] == [[None, 0, 1, 1, None], [None, 1, 2, 2, None], [None, 2, 3, 3, None]]
