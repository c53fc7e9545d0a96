"""Rebuild the bundled checkpoint albert_np/data/tiny-albert from nothing, in about six minutes on 2 CPU cores.

    synthetic corpus -> SentencePiece unigram model (ALBERT layout) -> AlbertTokenizer
        -> MLM + SOP pretraining of a tiny AlbertForPreTraining (float32, NumPy) -> save -> fill-mask check

Run from the repository root:  python tools/pretrain_tiny.py [--out DIR] [--steps N]
Everything is seeded, so a rerun on the same machine and library versions gives the same checkpoint.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import sentencepiece as spm  # noqa: E402

from albert_np import synthetic, train  # noqa: E402
from albert_np.io_utils import atomic_write_text  # noqa: E402
from albert_np.demo import DEMO_SENTENCES, bundled_model_dir, fill_mask, format_predictions, load_model  # noqa: E402
from albert_np.tokenizer import AlbertTokenizer  # noqa: E402

# The tiny model: one shared layer run twice, E=64, H=128, 4 heads; 0.25M weights, 1 MB in float32.
# (Four layers learn the facts later: within this budget they never got past guessing a country at random.)
MODEL_ARGS = ["--embedding-size", "64", "--hidden-size", "128", "--layers", "2", "--heads", "4",
              "--intermediate-size", "512", "--max-position-embeddings", "64", "--max-length", "48"]
# The facts click late: capital recall stays near chance for ~2000 steps, then climbs to ~100% within ~1000;
# the last 1000 steps widen the margins.
TRAIN_ARGS = ["--steps", "4000", "--batch-size", "64", "--lr", "5e-3", "--warmup", "200", "--clip", "1.0",
              "--examples", "20000", "--review-fraction", "0.1", "--salient-masking", "1.0",
              "--eval-every", "500", "--seed", "0"]
CHECK = ("The capital of [MASK] is Paris.", "france")


def train_sentencepiece(lines, folder) -> str:
    """Train a unigram SentencePiece model in ALBERT's layout (<pad>=0, <unk>=1, [CLS]=2, [SEP]=3, [MASK]=4)."""
    model = io.BytesIO()   # not model_prefix=...: that would record the temp folder's name in the file
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_writer=model, model_type="unigram",
        vocab_size=512, hard_vocab_limit=False,   # as many pieces as the corpus supports (about 250)
        normalization_rule_name="nmt_nfkc", character_coverage=1.0,
        pad_id=0, unk_id=1, bos_id=-1, eos_id=-1, control_symbols=["[CLS]", "[SEP]", "[MASK]"],
        num_threads=1, minloglevel=2)
    path = os.path.join(folder, "spiece.model")
    with open(path, "wb") as f:
        f.write(model.getvalue())
    return path


def build_tokenizer(folder) -> AlbertTokenizer:
    """SentencePiece on the synthetic corpus, wrapped as a lower-casing AlbertTokenizer saved into `folder`."""
    model_file = train_sentencepiece(synthetic.tokenizer_corpus(seed=0), folder)
    # model_max_length = the model's positions, so truncation=True cuts where the model must
    positions = int(MODEL_ARGS[MODEL_ARGS.index("--max-position-embeddings") + 1])
    tokenizer = AlbertTokenizer(model_file, do_lower_case=True, model_max_length=positions)
    for word in ("france", "paris", "tokyo", "italy", "portuguese"):
        pieces = tokenizer.tokenize(word)
        if len(pieces) != 1:
            raise RuntimeError(f"{word!r} is split into {pieces}; fill-mask needs it as one piece: check the corpus")
    tokenizer.save_pretrained(folder)
    return tokenizer


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=bundled_model_dir(), help="where to write the checkpoint (default: the bundled one)")
    parser.add_argument("--steps", type=int, default=None, help="override the number of pretraining steps")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as workdir:
        tokenizer = build_tokenizer(workdir)
        print(f"SentencePiece model: {len(tokenizer)} pieces")
        extra = ["--steps", str(args.steps)] if args.steps else []
        run = train.parse_args(["pretrain", "--tokenizer", workdir, "--out", args.out, *MODEL_ARGS, *TRAIN_ARGS, *extra])
        result = train.pretrain(run)
    minutes = (time.perf_counter() - start) / 60
    history = result["history"]
    # The bundled folder keeps trainer_state.json in its first schema (per-step lists, which the notebooks and
    # tests/test_cli.py read; albert_np.plotting reads both) and ships no metrics.jsonl: train() wrote both in
    # transformers' shape, so the rebuilt folder holds the same files as the committed one.
    atomic_write_text(os.path.join(args.out, train.TRAINER_STATE_NAME), json.dumps(history.to_dict(), indent=2))
    with contextlib.suppress(FileNotFoundError):
        os.remove(os.path.join(args.out, train.METRICS_NAME))
    print(f"done in {minutes:.1f} min: {history.steps} steps, final loss {history.losses[-1]:.4f}, "
          f"last eval {history.evals[-1][1]}")

    model, tokenizer = load_model(args.out)
    for text in DEMO_SENTENCES:
        print(format_predictions(text, fill_mask(model, tokenizer, text)))
    size = sum(os.path.getsize(os.path.join(args.out, f)) for f in os.listdir(args.out))
    print(f"checkpoint {args.out}: {size / 1e6:.2f} MB")
    text, expected = CHECK
    top = fill_mask(model, tokenizer, text, top_k=1)[0][0][0]
    if top != expected:
        print(f"FAILED: {text!r} ranks {top!r} first, not {expected!r}", file=sys.stderr)
        return 1
    print(f"ok: {text!r} ranks {expected!r} first")
    return 0


if __name__ == "__main__":
    sys.exit(main())
