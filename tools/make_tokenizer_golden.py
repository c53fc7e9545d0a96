"""Generate the tokenizer fixtures in tests/golden/tokenizer/ from transformers.

    python tools/make_tokenizer_golden.py            # train spiece.model, write expected.json
    python tools/make_tokenizer_golden.py --check    # regenerate into a temp dir; exit 1 naming what differs

What it writes (deterministic: two runs give byte-identical files):

* ``spiece.model``: a small SentencePiece unigram model in ALBERT's layout (<pad>=0, <unk>=1, [CLS]=2,
  [SEP]=3, [MASK]=4 as control symbols, ALBERT's nmt_nfkc normalisation, no byte fallback), trained on
  a corpus this script builds itself: English prose, capitals, accents, digits, CJK, Korean, Greek,
  Cyrillic, emoji, full-width forms. No downloads.
* ``expected.json``: what transformers' ``AlbertTokenizer.from_pretrained(dir)`` returns for that model
  on a broad text set (four do_lower_case x keep_accents configurations), for pair / padding /
  truncation / overflow calls (or the error it raises), for decode calls and for the special-token
  helpers. tests/test_tokenizer.py compares albert_np's tokenizer with it, without transformers.

``--check`` compares the retrained spiece.model with the committed one (pieces and types exactly, scores
within a float32 rounding tolerance) and transformers' outputs on the committed model with expected.json
exactly: a CPU that rounds the trainer's float32 scores differently passes, a changed vocabulary or a
changed transformers behaviour fails.

Needs transformers, tokenizers and sentencepiece (the dev environment), not albert_np.
"""

import argparse
import io
import json
import os
import random
import shutil
import sys
import tempfile
from pathlib import Path

os.environ["RUST_BACKTRACE"] = "0"  # transformers' Rust panics (an expected error case) print one line, not a backtrace
GOLDEN_DIR = Path(__file__).resolve().parent.parent / "tests" / "golden" / "tokenizer"
sys.path.insert(0, str(GOLDEN_DIR.parent.parent))  # tests/: golden_utils holds the tolerance table
MODEL_FILE, EXPECTED_FILE = "spiece.model", "expected.json"
VOCAB_SIZE = 1000
SPECIAL_TOKEN_NAMES = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")
CONFIGS = [
    {"do_lower_case": True, "keep_accents": False},  # ALBERT's released checkpoints
    {"do_lower_case": True, "keep_accents": True},
    {"do_lower_case": False, "keep_accents": False},
    {"do_lower_case": False, "keep_accents": True},
]

# --- the training corpus -------------------------------------------------------------------------------

TRAINING_SENTENCES = [
    "The capital of France is Paris, and it is known for the Eiffel Tower.",
    "ALBERT is a lite BERT for self-supervised learning of language representations.",
    "In 2019, researchers reported 1,234,567 parameters and a score of 89.4 percent.",
    'She said, "It\'s a beautiful day," and walked to the café near the old théâtre.',
    "Über die Brücke gingen wir schnell; Straße und Gärten waren grün.",
    "El niño comió piña y jalapeño en la mañana; ¿Dónde está la estación?",
    "Tiếng Việt có nhiều dấu: người, được, những, đẹp.",
    "東京は日本の首都です。北京是中国的首都。",
    "한국어 문장도 포함합니다. 서울은 대한민국의 수도입니다.",
    "Москва — столица России. Αθήνα είναι η πρωτεύουσα της Ελλάδας.",
    "Emoji are fun 😀🎉👍 and flags 🇫🇷 too!",
    "Ｆｕｌｌ－ｗｉｄｔｈ ｆｏｒｍｓ ａｎｄ ｌｉｇａｔｕｒｅｓ ﬁ ﬂ ﬀ appear in old PDFs.",
    "Numbers like 3.14159, 2,718, $1,000.00 and 50% matter.",
    "The quick brown fox jumps over the lazy dog while the cat sleeps.",
    "Question answering models read a context and find the answer span.",
    "Machine learning, deep learning and natural language processing are related fields.",
    "He wrote ``quoted text'' in the old LaTeX style.",
    "Jürgen Müller and François Dupont met José García in São Paulo.",
]
WORDS = (
    "time year people way day man thing woman life child world school state family student group country "
    "problem hand part place case week company system program question work government number night point "
    "home water room mother area money story fact month lot right study book eye job word business issue "
    "side kind head house service friend father power hour game line end member law car city community name "
    "president team minute idea kid body information back parent face others level office door health person "
    "art war history party result change morning reason research girl guy moment air teacher force education"
).split()


def training_corpus(n_lines=3000, seed=0):
    """Lines mixing the sentences above (as written, upper-cased, lower-cased), word salad and numbers."""
    rng = random.Random(seed)
    lines = []
    for i in range(n_lines):
        kind = i % 6
        if kind < 2:
            lines.append(TRAINING_SENTENCES[i % len(TRAINING_SENTENCES)])
        elif kind == 2:
            lines.append(" ".join(rng.choice(WORDS) for _ in range(12)).capitalize() + ".")
        elif kind == 3:
            lines.append(TRAINING_SENTENCES[(i * 7) % len(TRAINING_SENTENCES)].upper())
        elif kind == 4:
            amount, cents, year = rng.randint(0, 99999), rng.randint(0, 99), rng.randint(1900, 2030)
            lines.append(f"Item {amount:,} costs {rng.randint(1, 999)}.{cents:02d} dollars in {year}.")
        else:
            lines.append(TRAINING_SENTENCES[(i * 5) % len(TRAINING_SENTENCES)].lower())
    return lines


def train_model():
    """Train the fixture model in ALBERT's layout; returns the serialized model (deterministic)."""
    import sentencepiece as spm

    spm.set_random_generator_seed(1)
    buffer = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(training_corpus()),
        model_writer=buffer,
        model_type="unigram",
        vocab_size=VOCAB_SIZE,
        normalization_rule_name="nmt_nfkc",  # what ALBERT's released spiece.model uses
        pad_id=0,
        unk_id=1,
        bos_id=-1,
        eos_id=-1,
        control_symbols=["[CLS]", "[SEP]", "[MASK]"],
        byte_fallback=False,
        character_coverage=0.9995,  # leaves a few rare characters unknown, to exercise <unk>
        num_threads=1,
        minloglevel=2,
    )
    return buffer.getvalue()


# --- what the fixtures compare -------------------------------------------------------------------------

LONG_PROSE = " ".join(TRAINING_SENTENCES[i % 6] for i in range(30))

TEXTS = {
    "prose": [
        "The capital of France is Paris.",
        "ALBERT shares parameters across layers, which keeps the model small.",
        "A tokenizer turns text into ids; the model never sees raw characters.",
        "Researchers trained the network on books and encyclopedia articles for weeks.",
        "It's the student's book, isn't it? Yes -- and the teacher's, too!",
    ],
    "uppercase": ["THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG", "iPhone, McDonald's and NASA", "Hello World", "ΟΔΟΣ ΣΑΣ", "İstanbul", "Ǆ ǅ ǆ ẞ"],
    "accents": [
        "Café crème brûlée à la française",
        "Jürgen Müller met François in São Paulo",
        "Tiếng Việt có nhiều dấu",
        "decomposed e\u0301 and a\u0308\u0301 and e\u0301\u0302",
        "Åström Øresund Ångström",
        "naïve coöperate résumé",
    ],
    "ligatures": ["ﬁnance ﬂow oﬀer eﬃcient baﬄe", "ﬀﬂ ﬁ\u0301 Ⅻ ½ ² ™ ℌ ℍ ① ㎏"],
    "full_width": ["Ｆｕｌｌ－ｗｉｄｔｈ ＡＢＣ １２３！", "＜pad＞ ＜unk＞ a＜pad＞b x＜unk＞＜unk＞", "ｶﾞ ﾊﾟ ｱｲｳ", "Ａ\u0301x"],
    "cjk": ["東京は日本の首都です。", "北京是中国的首都。", "混合 mixed 文本 text", "日本語のテキストとEnglish"],
    "korean": ["한국어 문장도 포함합니다.", "서울은 대한민국의 수도입니다", "처음 보는 글자 읽기"],
    "scripts": ["Москва — столица России", "Αθήνα είναι η πρωτεύουσα", "नमस्ते दुनिया", "مرحبا بالعالم", "สวัสดีครับ", "שלום עולם"],
    "emoji": ["Emoji are fun 😀🎉👍 and flags 🇫🇷 too!", "family 👨‍👩‍👧 and skin 👍🏽", "©️ ™ ❤️ ©\ufe0f"],
    "digits": ["1,234,567", "$1,000.00 and 3.14159", "2,718 and 50% of 100,000,000", "Call 555-0100 at 9:30", "1111 2000 0.5"],
    "whitespace": [
        "  leading and trailing  ",
        "multiple     spaces   between",
        "tabs\tand\nnewlines\r\nhere",
        "\u3000ideographic\u3000space\u00a0nbsp",
        "zero\u200bwidth and\u2028line\u2029para",
        "odd\x0bvertical\x0cform\x1cfile\x85nel\u1680ogham",
        "x\u200dy a\u200d\u200cb",
    ],
    "quotes": ["``tex quotes'' here", "'single' and \"double\"", "“curly” ‘quotes’", "```triple''' and ''''", "it''s"],
    "special_tokens": [
        "The capital of [MASK] is Paris.",
        "[CLS] hello [SEP] world [SEP]",
        "<pad><pad> padded <unk> token",
        "x[MASK]y and [MASK][MASK]",
        "[mask] is not special, [ MASK ] neither",
        "  [MASK]  spaced  ",
    ],
    "empty": ["", " ", "\t\n  \r\n"],
    "long": [LONG_PROSE, "a" * 600, "supercalifragilisticexpialidocious" * 10, ("word " * 300).strip()],
    "edge": [
        "\x01abc \x01\x02ab c ab\x01 a\x01b",
        "fffl ffff aaaa .... !!!! ----",
        "▁literal ▁ space a▁b",
        "\u0301\u0301 lone marks",
        "\x00null\x00",
        "a\u0301\u0302\u0303 many marks",
        "😀\u200d™\u0301 ™\u0301",
    ],
}

QUESTIONS = ["What is the capital of France?", "Who wrote it?", "Wo ist São Paulo?"]
CONTEXTS = [
    "The capital of France is Paris. It is known for the Eiffel Tower and many museums along the river.",
    "Nobody knows who wrote the old book, but many people have read it.",
    "São Paulo liegt in Brasilien.",
]


def call_specs():
    """Calls whose whole output (or error) is compared: pairs, batches, padding, truncation, overflow."""
    q, c = QUESTIONS, CONTEXTS
    full = {"return_offsets_mapping": True, "return_special_tokens_mask": True, "return_length": True}
    specs = [
        ("single_all_fields", [c[0]], full),
        ("single_no_special_tokens", [c[0]], dict(full, add_special_tokens=False)),
        ("single_no_token_types", [c[0]], {"return_token_type_ids": False}),
        ("single_no_attention_mask", [c[0]], {"return_attention_mask": False}),
        ("pair_all_fields", [q[0], c[0]], full),
        ("pair_no_special_tokens", [q[0], c[0]], dict(full, add_special_tokens=False)),
        ("pair_empty_texts", ["", ""], full),
        ("batch_unpadded", [q], full),
        ("batch_pad_true", [q], dict(full, padding=True)),
        ("batch_pad_longest_left", [q], dict(full, padding="longest", padding_side="left")),
        ("batch_pad_max_length", [q], dict(full, padding="max_length", max_length=24)),
        ("batch_pad_multiple_of", [q], dict(full, padding=True, pad_to_multiple_of=8)),
        ("batch_pad_np", [q], dict(full, padding=True, return_tensors="np")),
        ("batch_ragged_np", [q], {"return_tensors": "np"}),
        ("single_np", [c[0]], {"return_tensors": "np", "return_offsets_mapping": True}),
        ("batch_pairs_pad", [q, c], dict(full, padding=True)),
        ("max_length_alone_truncates", [c[0]], {"max_length": 10}),
        ("truncate_true", [c[0]], dict(full, truncation=True, max_length=12)),
        ("truncate_tiny_max_length", [c[0]], {"truncation": True, "max_length": 2}),
        ("truncate_max_length_below_specials", [c[0]], {"truncation": True, "max_length": 1}),
        ("truncate_pair_below_specials", [q[0], c[0]], {"truncation": True, "max_length": 2}),
        ("truncate_pair_to_specials", [q[0], c[0]], {"truncation": True, "max_length": 3}),
        ("truncate_longest_first_pair", [q[0], c[0]], dict(full, truncation="longest_first", max_length=20)),
        ("truncate_longest_first_both", [c[1], c[0]], dict(full, truncation="longest_first", max_length=15)),
        ("truncate_only_first", [c[0], q[1]], dict(full, truncation="only_first", max_length=16)),
        ("truncate_only_second", [q[0], c[0]], dict(full, truncation="only_second", max_length=24)),
        ("truncate_then_pad", [q, c], dict(full, truncation=True, padding="max_length", max_length=16)),
        ("truncate_without_max_length", [c[0]], {"truncation": True}),
        ("pad_max_length_without_max_length", [q], {"padding": "max_length"}),
        ("qa_overflow_stride", [q, c], dict(full, padding=True, truncation="only_second", max_length=32, stride=6,
                                             return_overflowing_tokens=True, return_tensors="np")),
        ("qa_overflow_lists", [q[0], c[0]], dict(full, truncation="only_second", max_length=30, stride=4,
                                                  return_overflowing_tokens=True)),
        ("overflow_single", [c[0]], dict(full, truncation=True, max_length=10, stride=3, return_overflowing_tokens=True)),
        ("overflow_longest_first_pair", [c[1], c[2]], dict(truncation="longest_first", max_length=14, stride=1,
                                                            return_overflowing_tokens=True, padding=True)),
        ("overflow_left_truncation", [c[0]], dict(full, truncation=True, max_length=9, stride=2,
                                                  return_overflowing_tokens=True), {"truncation_side": "left"}),
        ("left_truncation_pair", [q[0], c[0]], dict(full, truncation="longest_first", max_length=18),
         {"truncation_side": "left"}),
        ("error_only_second_first_too_long", [c[0], q[1]], {"truncation": "only_second", "max_length": 12}),
        ("error_only_second_single_text", [c[0]], {"truncation": "only_second", "max_length": 8}),
        ("error_stride_too_large", [q[0], c[0]], {"truncation": "only_second", "max_length": 20, "stride": 19,
                                                  "return_overflowing_tokens": True}),
        ("error_stride_window_too_small", [q[0], c[0]], {"truncation": "only_second", "max_length": 24, "stride": 4,
                                                         "return_overflowing_tokens": True}),
        ("error_bad_padding", [c[0]], {"padding": "everything"}),
        ("error_bad_truncation", [c[0]], {"truncation": "middle", "max_length": 8}),
        ("error_multiple_of_mismatch", [q], {"padding": True, "truncation": True, "max_length": 10, "pad_to_multiple_of": 8}),
    ]
    return [
        {"name": s[0], "args": s[1], "kwargs": s[2], "attributes": s[3] if len(s) > 3 else {}} for s in specs
    ]


def jsonable(value):
    """Tokenizer outputs as JSON values: arrays and tuples become lists."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def run_call(tokenizer, spec):
    """Output of one call spec, or the error it raises. ALBERT's token type ids are requested unless the
    spec decides, because albert_np returns them by default (transformers v5 leaves them out)."""
    kwargs = dict(spec["kwargs"])
    kwargs.setdefault("return_token_type_ids", True)
    saved = {name: getattr(tokenizer, name) for name in spec["attributes"]}
    for name, value in spec["attributes"].items():
        setattr(tokenizer, name, value)
    try:
        out = tokenizer(*spec["args"], **kwargs)
        rows = range(len(out.encodings))
        result = {
            "output": jsonable(dict(out)),
            "keys": list(out.keys()),
            "tokens": [out.tokens(i) for i in rows],
            "sequence_ids": [out.sequence_ids(i) for i in rows],
        }
        if kwargs.get("return_tensors") == "np":
            result["dtypes"] = {key: str(value.dtype) for key, value in out.items()}
        return result
    except BaseException as err:  # transformers may raise Exception, ValueError or a Rust panic
        if isinstance(err, (KeyboardInterrupt, SystemExit)):
            raise
        return {"error": {"type": type(err).__name__, "message": str(err).splitlines()[0] if str(err) else ""}}
    finally:
        for name, value in saved.items():
            setattr(tokenizer, name, value)


def build_expected(model_dir):
    """Everything expected.json holds, computed with transformers from the model in model_dir."""
    import sentencepiece
    import tokenizers
    import transformers

    transformers.logging.set_verbosity_error()
    load = lambda **kw: transformers.AlbertTokenizer.from_pretrained(str(model_dir), **kw)  # noqa: E731
    texts = [{"category": cat, "text": t} for cat, items in TEXTS.items() for t in items]
    configs = []
    for config in CONFIGS:
        tokenizer = load(**config)
        outputs = []
        for item in texts:
            enc = tokenizer(item["text"], return_offsets_mapping=True)
            outputs.append({
                "input_ids": enc["input_ids"],
                "tokens": enc.tokens(),
                "offset_mapping": jsonable(enc["offset_mapping"]),
                "tokenize": tokenizer.tokenize(item["text"]),
                "decode": tokenizer.decode(enc["input_ids"]),
                "decode_skip_special_tokens": tokenizer.decode(enc["input_ids"], skip_special_tokens=True),
            })  # fmt: skip
        configs.append({"kwargs": config, "outputs": outputs})

    tokenizer = load()
    calls = []
    for spec in call_specs():
        calls.append(dict(spec, expected=run_call(tokenizer, spec)))

    decode_cases = []
    ids_a = tokenizer.encode("Hello world, the capital of France.", add_special_tokens=False)
    for ids in ([2, 4, 3, 0, 0], [5, 5, 5], [1, 1, 5, 1], ids_a, [], [6, 7, 8, 9, 10, 11, 12], [2] + ids_a + [3, 0]):
        for skip in (False, True):
            for cleanup in (None, True):
                kwargs = {"skip_special_tokens": skip}
                if cleanup is not None:
                    kwargs["clean_up_tokenization_spaces"] = cleanup
                decode_cases.append({"ids": ids, "kwargs": kwargs, "expected": tokenizer.decode(ids, **kwargs)})
    batch = [[2] + ids_a + [3], [2, 5, 6, 3, 0, 0]]
    batch_decode = {"ids": batch, "expected": tokenizer.batch_decode(batch), "expected_skip": tokenizer.batch_decode(batch, skip_special_tokens=True)}

    a = tokenizer.encode(QUESTIONS[0], add_special_tokens=False)
    b = tokenizer.encode(CONTEXTS[1], add_special_tokens=False)
    single, pair = tokenizer(QUESTIONS[0], return_special_tokens_mask=True, return_token_type_ids=True), tokenizer(
        QUESTIONS[0], CONTEXTS[1], return_special_tokens_mask=True, return_token_type_ids=True
    )
    api = {
        "ids_a": a,
        "ids_b": b,
        # transformers v5 has no build_inputs_with_special_tokens / create_token_type_ids_from_sequences /
        # get_special_tokens_mask(a, b) for this class: the expected values are what its encoder produces.
        "single": {k: single[k] for k in ("input_ids", "token_type_ids", "special_tokens_mask")},
        "pair": {k: pair[k] for k in ("input_ids", "token_type_ids", "special_tokens_mask")},
        "mask_already_formatted": tokenizer.get_special_tokens_mask(pair["input_ids"] + [1], already_has_special_tokens=True),
        "convert_ids_to_tokens": tokenizer.convert_ids_to_tokens(list(range(12))),
        "convert_tokens_to_ids": tokenizer.convert_tokens_to_ids(["▁the", "[MASK]", "not-a-piece", "<pad>", "▁"]),
        "vocab_size": tokenizer.vocab_size,
        "len": len(tokenizer),
        "vocab_items": sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1]),
        "special_tokens": {name: getattr(tokenizer, name) for name in SPECIAL_TOKEN_NAMES},
        "special_token_ids": {name: getattr(tokenizer, name + "_id") for name in SPECIAL_TOKEN_NAMES},
        "all_special_tokens": tokenizer.all_special_tokens,
        "all_special_ids": tokenizer.all_special_ids,
        "num_special_tokens_to_add": [tokenizer.num_special_tokens_to_add(False), tokenizer.num_special_tokens_to_add(True)],
        "model_max_length": tokenizer.model_max_length,
    }  # fmt: skip
    configured = build_configured(model_dir)
    return {
        "configured": configured,
        "meta": {
            "generator": "tools/make_tokenizer_golden.py",
            "transformers_version": transformers.__version__,
            "tokenizers_version": tokenizers.__version__,
            "sentencepiece_version": sentencepiece.__version__,
            "note": "token_type_ids were requested from transformers in 'calls' unless the call sets them",
        },
        "texts": texts,
        "configs": configs,
        "calls": calls,
        "decode": decode_cases,
        "batch_decode": batch_decode,
        "api": api,
    }


# A saved configuration like ALBERT's published one: [MASK] takes the whitespace before it (lstrip) and
# model_max_length is 512.
SAVED_CONFIG = {
    "added_tokens_decoder": {
        str(i): {"content": token, "lstrip": token == "[MASK]", "normalized": False, "rstrip": False,
                 "single_word": False, "special": True}
        for i, token in enumerate(["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"])
    },
    "do_lower_case": True,
    "keep_accents": False,
    "remove_space": True,
    "model_max_length": 512,
    "mask_token": "[MASK]",
    "tokenizer_class": "AlbertTokenizer",
}  # fmt: skip
CONFIGURED_TEXTS = ["is [MASK] ok", "is  [MASK]  ok", "[MASK]x", "a[MASK]", " [MASK]", "The capital of [MASK] is Paris."]


def build_configured(model_dir):
    """Outputs of a tokenizer loaded from a folder with SAVED_CONFIG next to the model."""
    import transformers

    with tempfile.TemporaryDirectory() as tmp:
        shutil.copyfile(Path(model_dir) / MODEL_FILE, Path(tmp) / MODEL_FILE)
        (Path(tmp) / "tokenizer_config.json").write_text(json.dumps(SAVED_CONFIG), encoding="utf-8")
        tokenizer = transformers.AlbertTokenizer.from_pretrained(tmp)
        outputs = []
        for text in CONFIGURED_TEXTS:
            enc = tokenizer(text, return_offsets_mapping=True)
            outputs.append({"text": text, "input_ids": enc["input_ids"], "tokens": enc.tokens(),
                            "offset_mapping": jsonable(enc["offset_mapping"])})  # fmt: skip
        long_text = " ".join(["word"] * 600)
        truncated = tokenizer(long_text, truncation=True)["input_ids"]
        return {
            "config": SAVED_CONFIG,
            "outputs": outputs,
            "model_max_length": tokenizer.model_max_length,
            "truncation_true_length": len(truncated),
            "long_text": long_text,
        }


def generate(out_dir, reuse_model=None):
    """Write spiece.model and expected.json into out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    model = reuse_model.read_bytes() if reuse_model else train_model()
    (out_dir / MODEL_FILE).write_bytes(model)
    expected = build_expected(out_dir)
    (out_dir / EXPECTED_FILE).write_text(dump_json(expected) + "\n", encoding="utf-8")


def dump_json(value, depth=0):
    """JSON with one record per line down to depth 3 and compact below: small, stable and diff-friendly."""
    compact = lambda v: json.dumps(v, sort_keys=True, ensure_ascii=True, separators=(",", ":"))  # noqa: E731
    pad = " " * (depth + 1)
    if depth < 3 and isinstance(value, dict) and value:
        items = [f"{pad}{json.dumps(k)}: {dump_json(value[k], depth + 1)}" for k in sorted(value)]
        return "{\n" + ",\n".join(items) + "\n" + " " * depth + "}"
    if depth < 3 and isinstance(value, list) and value and isinstance(value[0], (dict, list)):
        return "[\n" + ",\n".join(pad + dump_json(v, depth + 1) for v in value) + "\n" + " " * depth + "]"
    return compact(value)


def differences(old, new, path="expected.json"):
    """Paths (like expected.json/configs/0/outputs/3/input_ids) where two JSON values differ."""
    if isinstance(old, dict) and isinstance(new, dict):
        found = [f"{path}/{k}: only in {'committed' if k in old else 'regenerated'}" for k in sorted(set(old) ^ set(new))]
        for key in sorted(set(old) & set(new)):
            if path == "expected.json/meta" and key.endswith("_version"):
                continue  # versions are informative; outputs are what must match
            found += differences(old[key], new[key], f"{path}/{key}")
        return found
    if isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            return [f"{path}: length {len(old)} committed vs {len(new)} regenerated"]
        return [d for i, (a, b) in enumerate(zip(old, new)) for d in differences(a, b, f"{path}/{i}")]
    return [] if old == new else [f"{path}: {old!r:.80} committed vs {new!r:.80} regenerated"]


def model_differences(committed: bytes, regenerated: bytes) -> list[str]:
    """Where two serialized SentencePiece models differ: pieces, types and specs exactly, scores by tolerance.

    The scores are float32 log-probabilities from the trainer's EM, computed with the C library's
    exp/log/digamma: another CPU may round them differently in the last bits, so they get
    golden_utils.RTOL's float32 "draws" tolerance (relative to the largest |score|); a different
    vocabulary, piece order or piece type is a real difference.
    """
    from sentencepiece import sentencepiece_model_pb2

    import golden_utils

    old, new = sentencepiece_model_pb2.ModelProto(), sentencepiece_model_pb2.ModelProto()
    old.ParseFromString(committed)
    new.ParseFromString(regenerated)
    found = [f"{MODEL_FILE}: {spec} differs" for spec in ("trainer_spec", "normalizer_spec", "denormalizer_spec")
             if getattr(old, spec) != getattr(new, spec)]
    pieces = lambda m: [(p.piece, p.type) for p in m.pieces]  # noqa: E731
    if pieces(old) != pieces(new):
        changed = sum(a != b for a, b in zip(pieces(old), pieces(new))) + abs(len(old.pieces) - len(new.pieces))
        return found + [f"{MODEL_FILE}: {changed} of {len(old.pieces)} pieces differ (text, type or order)"]
    scores_old = [p.score for p in old.pieces]
    err = golden_utils.rel_err([p.score for p in new.pieces], scores_old)
    tolerance = golden_utils.rtol("float32", "draws")
    print(f"largest float32 SentencePiece score error {err:.2e} (tolerance {tolerance:g})")
    if not err <= tolerance:
        found.append(f"{MODEL_FILE}: piece scores rel err {err:.3e} > {tolerance:g}")
    return found


def check():
    """Regenerate and compare with the committed fixtures; 0 when they agree.

    Two stages, as in make_golden.py: the trained spiece.model against the committed one (see
    `model_differences`), then transformers' outputs computed *on the committed model* against
    expected.json, exactly (ids, tokens, offsets and errors are integers and strings: no tolerance).
    """
    committed_model, committed_expected = GOLDEN_DIR / MODEL_FILE, GOLDEN_DIR / EXPECTED_FILE
    problems = [f"{path.name}: missing from {GOLDEN_DIR}" for path in (committed_model, committed_expected)
                if not path.exists()]
    if not problems:
        problems += model_differences(committed_model.read_bytes(), train_model())
        with tempfile.TemporaryDirectory() as tmp:
            generate(Path(tmp), reuse_model=committed_model)
            old = json.loads(committed_expected.read_text(encoding="utf-8"))
            new = json.loads((Path(tmp) / EXPECTED_FILE).read_text(encoding="utf-8"))
            problems += differences(old, new)
    for problem in problems[:50]:
        print("DIFFERS:", problem)
    if len(problems) > 50:
        print(f"... and {len(problems) - 50} more differences")
    print("tokenizer fixtures are up to date" if not problems else f"{len(problems)} difference(s)")
    return 1 if problems else 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="regenerate into a temp dir and compare with tests/golden/tokenizer")
    parser.add_argument("--reuse-model", action="store_true", help="keep the committed spiece.model, only recompute expected.json")
    args = parser.parse_args(argv)
    if args.check:
        return check()
    with tempfile.TemporaryDirectory() as tmp:
        committed = GOLDEN_DIR / MODEL_FILE
        reuse = None
        if args.reuse_model:
            reuse = Path(tmp) / "committed.model"
            shutil.copyfile(committed, reuse)
        generate(GOLDEN_DIR, reuse)
    print(f"wrote {GOLDEN_DIR / MODEL_FILE} and {GOLDEN_DIR / EXPECTED_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
