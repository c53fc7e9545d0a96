"""A vocabulary from your own text: a SentencePiece unigram model in ALBERT's layout, saved as a tokenizer folder.

google-research/albert trains its `30k-clean.model` with (README.md, "Pre-training Instructions"):

    spm_train --input {} --model_prefix=30k-clean --vocab_size=30000 --logtostderr
      --pad_id=0 --unk_id=1 --eos_id=-1 --bos_id=-1
      --control_symbols=[CLS],[SEP],[MASK]
      --user_defined_symbols="(,),\\",-,.,–,£,€"
      --shuffle_input_sentence=true --input_sentence_size=10000000
      --character_coverage=0.99995 --model_type=unigram

on text that `tokenization.preprocess_text(line, lower=True)` already prepared (whitespace collapsed, TeX quotes
made plain, accents stripped, lower-cased). `train_vocab` does the same with the `sentencepiece` library and
writes `spiece.model` + `tokenizer_config.json` that `albert_np.AlbertTokenizer` and transformers'
`AlbertTokenizer.from_pretrained` both load. The normalisation rule is SentencePiece's `nmt_nfkc`, as in the
released ALBERT models.
"""

from __future__ import annotations

import io
import os
import unicodedata
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .io_utils import atomic_write_bytes

if TYPE_CHECKING:
    from .tokenizer import AlbertTokenizer

SPIECE_MODEL = "spiece.model"
# ALBERT's layout: <pad>=0, <unk>=1, then the control symbols [CLS]=2, [SEP]=3, [MASK]=4.
CONTROL_SYMBOLS = ("[CLS]", "[SEP]", "[MASK]")
# The README's --user_defined_symbols: always pieces of their own, never merged into a longer piece.
USER_DEFINED_SYMBOLS = ("(", ")", '"', "-", ".", "\u2013", "\u00a3", "\u20ac")


def preprocess_text(text: str, lower: bool = True) -> str:
    """google's tokenization.preprocess_text: collapse whitespace, `` and '' -> ", strip accents (NFKD), lower."""
    text = " ".join(text.strip().split()).replace("``", '"').replace("''", '"')
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return text.lower() if lower else text


def spm_model_bytes(sentences: Iterable[str], vocab_size: int, *, character_coverage: float = 0.99995,
                    input_sentence_size: int = 1_000_000, hard_vocab_limit: bool = True, seed: int = 0,
                    user_defined_symbols=USER_DEFINED_SYMBOLS) -> bytes:
    """Train a unigram SentencePiece model in ALBERT's layout on `sentences` (already preprocessed); the file's bytes.

    The model is written to memory, not to a model_prefix path, so the file records no temp folder's name; one
    thread and a fixed seed make it the same on every run.
    """
    import sentencepiece as spm

    if not isinstance(vocab_size, int) or vocab_size < 6 + len(user_defined_symbols):
        raise ValueError(f"vocab_size={vocab_size!r} is too small: ALBERT's layout takes 5 special ids and "
                         f"{len(user_defined_symbols)} user symbols; pass at least {6 + len(user_defined_symbols)}")
    if not 0 < character_coverage <= 1:
        raise ValueError(f"character_coverage={character_coverage!r} must be in (0, 1]; ALBERT used 0.99995")
    spm.set_random_generator_seed(seed)
    buffer = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(sentences), model_writer=buffer, model_type="unigram",
            vocab_size=vocab_size, hard_vocab_limit=hard_vocab_limit,
            normalization_rule_name="nmt_nfkc", character_coverage=character_coverage,
            pad_id=0, unk_id=1, bos_id=-1, eos_id=-1,
            control_symbols=list(CONTROL_SYMBOLS), user_defined_symbols=list(user_defined_symbols),
            shuffle_input_sentence=True, input_sentence_size=input_sentence_size,
            byte_fallback=False, num_threads=1, minloglevel=2)
    except RuntimeError as e:
        if "Vocabulary size too high" in str(e):
            limit = str(e).rsplit("Please set it to a value", 1)[-1].strip(" .")
            raise ValueError(f"vocab_size={vocab_size} is more than this text supports (SentencePiece allows {limit}); "
                             "pass a smaller vocab_size, more text, or hard_vocab_limit=False") from e
        raise
    return buffer.getvalue()


def train_vocab(lines: Iterable[str], out_dir: str | os.PathLike, vocab_size: int = 8000, *,
                do_lower_case: bool = True, **spm_options: Any) -> AlbertTokenizer:
    """Train ALBERT's SentencePiece model on `lines` and save a tokenizer folder; returns the AlbertTokenizer.

    `lines` is raw text, one sentence per line (blank lines are skipped); each is prepared as ALBERT prepares
    its corpus before spm_train. `out_dir` gets spiece.model, tokenizer_config.json and special_tokens_map.json.
    """
    from .tokenizer import AlbertTokenizer

    def prepared():
        for line in lines:
            line = preprocess_text(line, lower=do_lower_case)
            if line:
                yield line

    model = spm_model_bytes(prepared(), vocab_size, **spm_options)
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, SPIECE_MODEL)
    atomic_write_bytes(path, model)
    tokenizer = AlbertTokenizer(path, do_lower_case=do_lower_case)
    tokenizer.save_pretrained(out_dir)
    return tokenizer
