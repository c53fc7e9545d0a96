"""Time albert_np's tokenizer against transformers' on 10,000 sentences, and on 1e6-character texts.

    python tools/bench_tokenizer.py [--sentences 10000] [--batch-size 32] [--runs 5]
                                    [--long-chars 1000000] [--long-runs 3]

Both tokenizers load the fixture model (tests/golden/tokenizer/spiece.model). First they encode the same
sentences with padding=True, return_tensors="np" (what a training loop asks for): after one warm-up pass
each, timed passes alternate ours / theirs; the medians and their ratio are printed. Then each encodes
one text of --long-chars characters of emoji (one emoji repeated: a single run of unknown characters, the
input that used to be quadratic), of CJK (random ideographs) and of ASCII (random words), alternating ours /
theirs --long-runs times, with offsets; medians and ratios are printed (target: within 3x). All outputs are
checked to be identical first. This is a benchmark, not a test: it needs transformers.
"""

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from albert_np.tokenizer import AlbertTokenizer  # noqa: E402

MODEL_DIR = ROOT / "tests" / "golden" / "tokenizer"
SUBJECTS = ["The committee", "A young researcher", "Our team", "The old museum", "Every student", "La ciudad", "Der Verein"]
VERBS = ["published", "reviewed", "described", "funded", "presented", "questioned", "celebrated"]
OBJECTS = [
    "a new study on language models", "the results of 1,250 experiments", "an exhibition about São Paulo",
    "the café near the théâtre", "a report on 東京 and 서울", "the budget of $3,400,000",
    "twelve papers on parameter sharing", "the ``final'' version of the dataset",
]  # fmt: skip
ENDINGS = [".", " last year.", " in 2021.", " without much success!", " — again?", " [MASK] today."]


def sentences(n, seed=0):
    """n varied sentences, mostly English, some accents, CJK, digits and a special token."""
    rng = random.Random(seed)
    return [
        f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} and {rng.choice(OBJECTS)}{rng.choice(ENDINGS)}"
        for _ in range(n)
    ]


def long_texts(n, seed=0):
    """{kind: one text of n characters}: the three inputs of the linear-time benchmark."""
    rng = random.Random(seed)
    words = [w.lower() for phrase in SUBJECTS + VERBS + OBJECTS for w in phrase.split() if w.isascii()]
    ascii_text = ""
    while len(ascii_text) < n:
        ascii_text += rng.choice(words) + " "
    return {
        "emoji": "\U0001F600" * n,
        "CJK": "".join(chr(rng.randint(0x4E00, 0x9FFF)) for _ in range(n)),
        "ASCII": ascii_text[:n],
    }


def time_long_texts(ours, theirs, n, runs):
    print(f"one text of {n:,} characters, return_offsets_mapping=True, median of {runs} alternating runs")
    for kind, text in long_texts(n).items():
        a = ours(text, return_offsets_mapping=True)
        b = theirs(text, return_offsets_mapping=True, return_token_type_ids=True)
        assert all(list(a[k]) == list(b[k]) for k in b), f"outputs differ on {kind}: run the tokenizer tests"
        times = {"albert_np": [], "transformers": []}
        for _ in range(runs):
            for name, tokenizer in (("albert_np", ours), ("transformers", theirs)):
                start = time.perf_counter()
                tokenizer(text, return_offsets_mapping=True)
                times[name].append(time.perf_counter() - start)
        ours_s, theirs_s = statistics.median(times["albert_np"]), statistics.median(times["transformers"])
        print(f"  {kind:6s} albert_np {ours_s:6.2f} s   transformers {theirs_s:6.2f} s   "
              f"ratio {ours_s / theirs_s:.2f}x (target <= 3x)")  # fmt: skip


def encode_all(tokenizer, texts, batch_size):
    for i in range(0, len(texts), batch_size):
        tokenizer(texts[i : i + batch_size], padding=True, return_tensors="np")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--long-chars", type=int, default=1_000_000, help="characters per long text (0: skip)")
    parser.add_argument("--long-runs", type=int, default=3)
    args = parser.parse_args(argv)

    import transformers

    transformers.logging.set_verbosity_error()
    ours = AlbertTokenizer.from_pretrained(MODEL_DIR)
    theirs = transformers.AlbertTokenizer.from_pretrained(str(MODEL_DIR))
    texts = sentences(args.sentences)

    sample = texts[:256]
    a = ours(sample, padding=True, return_tensors="np")
    b = theirs(sample, padding=True, return_tensors="np", return_token_type_ids=True)
    assert all((a[k] == b[k]).all() for k in b), "outputs differ: run the tokenizer tests"

    encode_all(ours, texts, args.batch_size)  # warm-up: both sides cache segmented words
    encode_all(theirs, texts, args.batch_size)
    times = {"albert_np": [], "transformers": []}
    for _ in range(args.runs):
        for name, tokenizer in (("albert_np", ours), ("transformers", theirs)):
            start = time.perf_counter()
            encode_all(tokenizer, texts, args.batch_size)
            times[name].append(time.perf_counter() - start)

    ours_s, theirs_s = statistics.median(times["albert_np"]), statistics.median(times["transformers"])
    print(f"{args.sentences} sentences, batches of {args.batch_size}, padding=True, return_tensors='np', "
          f"median of {args.runs} alternating runs")  # fmt: skip
    print(f"  albert_np     {ours_s:.3f} s   ({ours_s / args.sentences * 1e6:.1f} us/sentence)")
    print(f"  transformers  {theirs_s:.3f} s   ({theirs_s / args.sentences * 1e6:.1f} us/sentence)")
    print(f"  ratio albert_np / transformers = {ours_s / theirs_s:.2f}x (target <= 3x)")
    if args.long_chars:
        time_long_texts(ours, theirs, args.long_chars, args.long_runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
