"""Property-based fuzz: albert_np's tokenizer gives transformers' ids, tokens and offsets on random text.

hypothesis draws texts from mixed scripts, emoji (with ZWJ and skin tones), whitespace of every kind,
combining accents, special tokens and arbitrary code points; derandomize=True makes every run draw the
same examples, so a failure reproduces. Skipped when transformers is not installed.
"""

from pathlib import Path

import pytest

transformers = pytest.importorskip("transformers")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from albert_np.tokenizer import AlbertTokenizer  # noqa: E402

transformers.logging.set_verbosity_error()
GOLDEN = Path(__file__).resolve().parent / "golden" / "tokenizer"
CONFIGS = [{"do_lower_case": lower, "keep_accents": keep} for lower in (True, False) for keep in (False, True)]
FRAGMENTS = [
    "the", "The", "ing", " ", "  ", "\t", "\n", "\r\n", "\u3000", "\xa0", "\u2028", "\u200b", "\ufeff",
    "é", "e\u0301", "\u0301", "\u0308", "ñ", "Ø", "ß", "İ", "ı", "Σ", "ς", "ﬁ", "½", "²", "™", "①", "㎏", "㋿",
    "東京", "中文", "한국어", "\u1100\u1161", "ｱｲｳ", "ﾊﾟ", "Ａｂｃ", "Привет", "مرحبا", "שלום", "नमस्ते", "ไทย",
    "😀", "👍🏽", "👨\u200d👩\u200d👧", "🇫🇷", "❤\ufe0f", "©", "\U0001FBF5", "\u1ac9", "\U00011935",
    "[MASK]", "[CLS]", "[SEP]", "<pad>", "<unk>", "[mask]", "``", "''", "▁", "\x00", "\x01", "\x7f", "\u00ad",
]  # fmt: skip
TEXTS = st.lists(
    st.one_of(st.sampled_from(FRAGMENTS), st.characters(codec="utf-8"), st.text(max_size=4)),
    max_size=24,
).map("".join)
FUZZ = settings(max_examples=600, derandomize=True, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_LOADED = {}


def pair_of_tokenizers(config):
    key = tuple(sorted(config.items()))
    if key not in _LOADED:
        _LOADED[key] = (
            AlbertTokenizer.from_pretrained(GOLDEN, **config),
            transformers.AlbertTokenizer.from_pretrained(str(GOLDEN), **config),
        )
    return _LOADED[key]


def fields(enc, n_rows):
    return [
        (enc["input_ids"][i], enc.tokens(i), [tuple(o) for o in enc["offset_mapping"][i]], enc["token_type_ids"][i],
         enc["attention_mask"][i])
        for i in range(n_rows)
    ]  # fmt: skip


@FUZZ
@given(text=TEXTS, config=st.sampled_from(CONFIGS))
def test_random_text_matches_transformers(text, config):
    ours, theirs = pair_of_tokenizers(config)
    a = ours([text], return_offsets_mapping=True)
    b = theirs([text], return_offsets_mapping=True, return_token_type_ids=True)
    assert fields(a, 1) == fields(b, 1)
    assert ours.decode(a["input_ids"][0]) == theirs.decode(b["input_ids"][0])


@FUZZ
@given(
    texts=st.lists(st.tuples(TEXTS, TEXTS), min_size=1, max_size=3),
    max_length=st.integers(4, 24),
    stride=st.integers(0, 2),
    truncation=st.sampled_from([True, "only_first", "only_second", "longest_first"]),
    padding=st.sampled_from([True, "max_length", False]),
)
def test_random_pairs_truncated_and_padded_match_transformers(texts, max_length, stride, truncation, padding):
    ours, theirs = pair_of_tokenizers(CONFIGS[0])
    first, second = [a for a, _ in texts], [b for _, b in texts]
    kwargs = dict(max_length=max_length, stride=stride, truncation=truncation, padding=padding,
                  return_overflowing_tokens=True, return_offsets_mapping=True)  # fmt: skip
    outcomes = []
    for tokenizer, extra in ((ours, {}), (theirs, {"return_token_type_ids": True})):
        try:
            enc = tokenizer(first, second, **kwargs, **extra)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as err:  # both must refuse the same requests (tokenizers may panic: BaseException)
            outcomes.append(type(err).__name__ if isinstance(err, ValueError) else "error")
            continue
        outcomes.append((fields(enc, len(enc["input_ids"])), list(enc["overflow_to_sample_mapping"])))
    if outcomes[1] == "error":  # transformers' Rust side raises its own exception types
        outcomes[1] = outcomes[0] if isinstance(outcomes[0], str) else "error"
    assert outcomes[0] == outcomes[1]
