"""albert_np's tokenizer against transformers v5, live (skipped when transformers is not installed).

Models: the committed fixture, plus SentencePiece models trained here in ALBERT's layout (no downloads).
Texts: random strings drawn from many scripts, marks, whitespace and special tokens; strings full of
repeats (where unigram segmentations tie); a grid of padding / truncation / overflow calls. Everything
transformers returns must match: ids, tokens, token types, masks, offsets, decode. Also: what
save_pretrained writes loads in transformers and gives the same outputs, and the reverse.
"""

import importlib.util
import io
import itertools
import json
import random
from pathlib import Path

import pytest

transformers = pytest.importorskip("transformers")
spm = pytest.importorskip("sentencepiece")

from albert_np.tokenizer import AlbertTokenizer  # noqa: E402

transformers.logging.set_verbosity_error()
GOLDEN = Path(__file__).resolve().parent / "golden" / "tokenizer"

def _load_fixture_tool():
    """tools/make_tokenizer_golden.py as a module (tools/ is not a package), so live and fixture settings agree."""
    path = Path(__file__).resolve().parent.parent / "tools" / "make_tokenizer_golden.py"
    spec = importlib.util.spec_from_file_location("make_tokenizer_golden", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CONFIGS = _load_fixture_tool().CONFIGS  # the four do_lower_case x keep_accents settings
POOLS = [
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,.;:'\"`!?-()[]{}<>/\\@#$%^&*_+=~|",
    "àáâãäåæçèéêëìíîïñòóôõöøùúûüýÿÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÑÒÓÔÕÖØÙÚÛÜÝßẞİıŒœŠšŽžƒǅǄǆ",
    "\u0300\u0301\u0302\u0303\u0308\u0323\u0327\u0338\u20dd\u0488\u200d\u200c\ufe0f\u093f\u0903",
    "ΑΒΓΔΕΖΗΘΣσςαβγδεζηθικλμνξοπρτυφχψωАБВГДЕЖЗИЙабвгдежзийклмнопрстуфхцчшщъыьэюя",
    "東京日本首都北京中国的是一个人大在有这我们你他她它了不",
    "한국어문장도포함합니다서울은대한민국의수도입니다ᄀᄁ나ᅢᅣᆨᆩ",
    "ＡＢＣａｂｃ０１２！？（）＜＞ｐａｄｕｎｋﾊﾟｶﾞｱｲｳ",
    "ﬁﬂﬀﬃﬄ½¼¾²³¹µ™℡①②③Ⅻⅻℌℍ㎏㎞",
    "😀🎉👍🇫🇷🇩🇪👨‍👩‍👧❤©®🏻🏽",
    " \t\n\r\x0b\x0c\x85\xa0\u1680\u2000\u2028\u2029\u202f\u205f\u3000\u200b\ufeff\x00\x01\x1c\x7f\u00ad▁",
    "अआइईउऊकखगघङचछजझञािीुूेैोौ्ंः",
]
SPECIALS = ["[MASK]", "[CLS]", "[SEP]", "<pad>", "<unk>", "``", "''", "[mask]"]
REPEAT_UNITS = ["f", "ff", "fi", "l", "a", "aa", "ab", "e", "s", "ss", "th", "the", "1", "11", "0", "00", ",", ".",
                "..", "!", "ha", "na", "ﬀ", "ﬂ", "ﬃ", "ing", "in", "g"]  # fmt: skip


def random_texts(n, seed):
    rng = random.Random(seed)
    texts = []
    for _ in range(n):
        parts = [rng.choice(SPECIALS) if rng.random() < 0.05 else rng.choice(rng.choice(POOLS)) for _ in range(rng.randint(0, 40))]
        texts.append("".join(parts))
    return texts


def repetitive_texts(n, seed):
    rng = random.Random(seed)
    word = lambda: "".join(rng.choice(REPEAT_UNITS) for _ in range(rng.randint(1, 8)))  # noqa: E731
    return [" ".join(word() for _ in range(rng.randint(1, 4))) for _ in range(n)]


def prose_corpus(seed, n_lines=1500):
    """A training corpus unlike the fixture's: other sentences, other mixing."""
    rng = random.Random(seed)
    sentences = [
        "Natural language processing lets computers read, summarize and translate text.",
        "The committee approved 3,400 new projects in 2021, costing $12,500,000.",
        "Äpfel, Birnen und Kirschen wachsen im Süden; les élèves étudient à Montréal.",
        "日本語と中文の文章、そして한국어 문장이 섞여 있습니다.",
        "Ελληνικά και русский текст, plus emoji 🙂🚀 and ｆｕｌｌｗｉｄｔｈ letters.",
        "She asked: ``Where is the station?'' and he pointed north.",
    ]
    lines = []
    for i in range(n_lines):
        s = rng.choice(sentences)
        lines.append([s, s.upper(), s.lower(), " ".join(rng.sample(s.split(), len(s.split())))][i % 4])
    return lines


def train_albert_model(folder, seed, vocab_size, **extra):
    """A SentencePiece unigram model in ALBERT's layout, trained in memory."""
    buffer = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(prose_corpus(seed)), model_writer=buffer, model_type="unigram",
        vocab_size=vocab_size, hard_vocab_limit=False, normalization_rule_name="nmt_nfkc", pad_id=0, unk_id=1,
        bos_id=-1, eos_id=-1, control_symbols=["[CLS]", "[SEP]", "[MASK]"], byte_fallback=False,
        num_threads=1, minloglevel=2, **extra,
    )  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "spiece.model").write_bytes(buffer.getvalue())
    return folder


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory):
    base = tmp_path_factory.mktemp("albert_models")
    return {
        "fixture": GOLDEN,
        "trained": train_albert_model(base / "trained", seed=7, vocab_size=600),
        "user_defined": train_albert_model(base / "user_defined", seed=8, vocab_size=500, user_defined_symbols=["<ent>", "xyz"]),
    }


def compare_texts(model_dir, config, texts):
    """Mismatching texts (with both outputs) between transformers and albert_np on one batch."""
    theirs = transformers.AlbertTokenizer.from_pretrained(str(model_dir), **config)
    ours = AlbertTokenizer.from_pretrained(model_dir, **config)
    ref = theirs(texts, return_offsets_mapping=True, return_special_tokens_mask=True, return_token_type_ids=True)
    out = ours(texts, return_offsets_mapping=True, return_special_tokens_mask=True)
    bad = []
    for i, text in enumerate(texts):
        fields = ("input_ids", "token_type_ids", "attention_mask", "special_tokens_mask")
        same = all(ref[f][i] == out[f][i] for f in fields)
        same = same and [tuple(o) for o in ref["offset_mapping"][i]] == out["offset_mapping"][i]
        same = same and ref.tokens(i) == out.tokens(i)
        same = same and ref.word_ids(i) == out.word_ids(i) and ref.sequence_ids(i) == out.sequence_ids(i)
        for skip in (False, True):
            same = same and theirs.decode(ref["input_ids"][i], skip_special_tokens=skip) == ours.decode(out["input_ids"][i], skip_special_tokens=skip)
        if not same:
            bad.append((text, list(zip(ref.tokens(i), ref["input_ids"][i])), list(zip(out.tokens(i), out["input_ids"][i]))))
    return bad


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"lower={c['do_lower_case']}-accents={c['keep_accents']}")
@pytest.mark.parametrize("model", ["fixture", "trained"])
def test_random_texts_match_transformers(model_dirs, model, config):
    texts = random_texts(400, seed=CONFIGS.index(config) + 10 * ["fixture", "trained"].index(model))
    bad = compare_texts(model_dirs[model], config, texts)
    assert not bad, f"{len(bad)} of {len(texts)} texts differ, first: {bad[0]}"


@pytest.mark.parametrize("model", ["fixture", "trained"])
def test_tie_prone_repetitive_texts_match_transformers(model_dirs, model):
    texts = repetitive_texts(1500, seed=3)
    for config in CONFIGS[::2]:
        bad = compare_texts(model_dirs[model], config, texts)
        assert not bad, f"{len(bad)} of {len(texts)} texts differ, first: {bad[0]}"


def test_user_defined_pieces_match_transformers(model_dirs):
    texts = ["a <ent> b", "xyzxyz", "XYZ", "the<ent>x", "<ent>[MASK]xyz"] + random_texts(100, seed=11)
    bad = compare_texts(model_dirs["user_defined"], {}, texts)
    assert not bad, bad[:1]
    theirs = transformers.AlbertTokenizer.from_pretrained(str(model_dirs["user_defined"]))
    assert AlbertTokenizer.from_pretrained(model_dirs["user_defined"]).all_special_tokens == theirs.all_special_tokens


QUESTIONS = ["What is the capital of France?", "Who?", "", "Emoji 😀 test [MASK] here"]
CONTEXTS = ["The capital of France is Paris. It is known for the Eiffel Tower.", "Nobody knows.", "x", "Über café"]


def outcome(tokenizer, args, kwargs):
    """Output as plain lists, or the fact that it raised."""
    try:
        out = tokenizer(*args, **kwargs)
    except BaseException as err:  # transformers can raise a Rust panic, a BaseException
        if isinstance(err, (KeyboardInterrupt, SystemExit)):
            raise
        return "raised"
    result = {k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in out.items()}
    ids = result["input_ids"]
    rows = len(ids) if ids and isinstance(ids[0], list) else 1
    result["word_ids"] = [out.word_ids(i) for i in range(rows)]
    result["sequence_ids"] = [out.sequence_ids(i) for i in range(rows)]
    if "offset_mapping" in result:
        rows = result["offset_mapping"]
        nested = bool(rows) and isinstance(rows[0], list) and rows[0] and isinstance(rows[0][0], (list, tuple))
        result["offset_mapping"] = [[tuple(o) for o in row] for row in rows] if nested else [tuple(o) for o in rows]
    return result


@pytest.mark.filterwarnings("ignore:`max_length` is ignored when `padding`=`True`")
def test_padding_truncation_grid_matches_transformers(model_dirs):
    theirs = transformers.AlbertTokenizer.from_pretrained(str(model_dirs["fixture"]))
    ours = AlbertTokenizer.from_pretrained(model_dirs["fixture"])
    grid = itertools.product(
        [None, True, "only_first", "only_second", "longest_first"], [None, 0, 2, 3, 5, 10, 16], [0, 2],
        [False, True, "max_length"], [None, 4], ["right", "left"], ["right", "left"],
    )  # fmt: skip
    cases = bad = 0
    for truncation, max_length, stride, padding, multiple, padding_side, truncation_side in grid:
        kwargs = dict(truncation=truncation, max_length=max_length, stride=stride, padding=padding,
                      pad_to_multiple_of=multiple, padding_side=padding_side, return_overflowing_tokens=stride > 0,
                      return_offsets_mapping=True, return_special_tokens_mask=True, return_length=True)  # fmt: skip
        theirs.truncation_side = ours.truncation_side = truncation_side
        for args in ([QUESTIONS], [QUESTIONS, CONTEXTS], [QUESTIONS[0]], [QUESTIONS[0], CONTEXTS[0]]):
            cases += 1
            expected = outcome(theirs, args, dict(kwargs, return_token_type_ids=True))
            if outcome(ours, args, kwargs) != expected:
                bad += 1
    assert cases > 3000 and bad == 0, f"{bad} of {cases} calls differ"


def test_impossible_requests_fail_in_both():
    theirs = transformers.AlbertTokenizer.from_pretrained(str(GOLDEN))
    ours = AlbertTokenizer.from_pretrained(GOLDEN)
    for args, kwargs in [
        ([CONTEXTS[0] * 3, "Paris."], {"truncation": "only_second", "max_length": 10}),
        ([CONTEXTS[0]], {"truncation": "only_second", "max_length": 5}),
        ([QUESTIONS[0], CONTEXTS[0]], {"truncation": "only_second", "max_length": 20, "stride": 19, "return_overflowing_tokens": True}),
        ([QUESTIONS[0], CONTEXTS[0]], {"truncation": "only_second", "max_length": 24, "stride": 4, "return_overflowing_tokens": True}),
    ]:
        assert outcome(theirs, args, kwargs) == "raised"
        with pytest.raises(ValueError):
            ours(*args, **kwargs)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"lower={c['do_lower_case']}-accents={c['keep_accents']}")
def test_transformers_loads_what_save_pretrained_writes(tmp_path, config):
    ours = AlbertTokenizer.from_pretrained(GOLDEN, model_max_length=64, **config)
    ours.save_pretrained(tmp_path)
    theirs = transformers.AlbertTokenizer.from_pretrained(str(tmp_path))
    assert (theirs.do_lower_case, theirs.keep_accents, theirs.model_max_length) == (config["do_lower_case"], config["keep_accents"], 64)
    texts = random_texts(150, seed=5) + ["Café [MASK] ﬁ", "THE CAPITAL", " ".join(["long"] * 100)]
    ref = theirs(texts, return_offsets_mapping=True, return_token_type_ids=True, truncation=True)
    out = ours(texts, return_offsets_mapping=True, truncation=True)
    assert out["input_ids"] == ref["input_ids"] and out["token_type_ids"] == ref["token_type_ids"]
    assert out["offset_mapping"] == [[tuple(o) for o in row] for row in ref["offset_mapping"]]


def test_lstrip_option_survives_save_pretrained_in_both_directions(tmp_path):
    config = json.loads((GOLDEN / "expected.json").read_text(encoding="utf-8"))["configured"]["config"]
    source = tmp_path / "source"
    source.mkdir()
    (source / "spiece.model").write_bytes((GOLDEN / "spiece.model").read_bytes())
    (source / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    AlbertTokenizer.from_pretrained(source).save_pretrained(tmp_path / "ours")
    theirs = transformers.AlbertTokenizer.from_pretrained(str(tmp_path / "ours"))
    ours = AlbertTokenizer.from_pretrained(tmp_path / "ours")
    for text in ["is [MASK] ok", "a  [MASK]", "[MASK]"]:
        ref = theirs(text, return_offsets_mapping=True)
        out = ours(text, return_offsets_mapping=True)
        assert out.tokens() == ref.tokens() and out["offset_mapping"] == [tuple(o) for o in ref["offset_mapping"]]
