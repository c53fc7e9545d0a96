"""Fill-mask with the bundled tiny ALBERT: `python -m albert_np.demo [--text "..."] [--model DIR]`.

The bundled checkpoint (albert_np/data/tiny-albert, rebuilt by tools/pretrain_tiny.py) was pretrained from
scratch on the project's synthetic facts about countries, so it knows that the capital of france is paris.
"""

from __future__ import annotations

import argparse
import sys

from .fill_mask import bundled_model_dir, fill_mask, format_predictions, load_model  # noqa: F401 (re-exported)
from .train import at_least

DEMO_SENTENCES = (
    "The capital of [MASK] is Paris.",
    "The capital of Japan is [MASK].",
    "Rome is the capital of [MASK].",
    "People in Brazil speak [MASK].",
    "Egypt is a country in [MASK].",
)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m albert_np.demo",
        description="Fill in [MASK] with the bundled tiny ALBERT (pretrained in NumPy on synthetic facts).")
    parser.add_argument("--text", action="append", help="a sentence with [MASK] (repeatable; default: a few examples)")
    parser.add_argument("--model", default=None, help="checkpoint folder (default: the bundled tiny-albert)")
    parser.add_argument("--top-k", type=at_least(1), default=5, help="candidates shown per [MASK] (default 5)")
    args = parser.parse_args(argv)
    try:
        model, tokenizer = load_model(args.model)
        for text in args.text or DEMO_SENTENCES:
            print(format_predictions(text, fill_mask(model, tokenizer, text, args.top_k)))
    except (ValueError, OSError, ImportError, RuntimeError) as e:   # a user's error: one line, no traceback
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
