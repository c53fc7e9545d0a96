"""Fill-mask with an ALBERT that has an MLM head: the bundled tiny checkpoint, the top-k guesses for each [MASK].

Library code (the demo and the training recipes use it); the command line lives in albert_np.demo.
"""

from __future__ import annotations

import os
import warnings

import numpy as np

from .grad_mode import no_grad
from .modeling import AlbertForMaskedLM
from .tokenizer import AlbertTokenizer


def bundled_model_dir() -> str:
    """The folder of the tiny pretrained ALBERT shipped inside the package."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "tiny-albert")


def load_model(path=None, dtype="float32", backend="numpy"):
    """AlbertForMaskedLM and its tokenizer from `path` (default: the bundled checkpoint), ready for inference."""
    path = path or bundled_model_dir()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Some weights of .* were not used")  # the unused SOP head
        model = AlbertForMaskedLM.from_pretrained(path, dtype=dtype, backend=backend)
    model.eval()
    return model, AlbertTokenizer.from_pretrained(path)


def fill_mask(model, tokenizer, text: str, top_k: int = 5) -> list[list[tuple[str, float]]]:
    """For each [MASK] in `text`, the top_k (token, probability) pairs, most likely first.

    `model` is any ALBERT with an MLM head (AlbertForMaskedLM or AlbertForPreTraining).
    """
    enc = tokenizer(text, return_tensors="np")
    ids = np.asarray(enc["input_ids"], dtype=np.int64)
    positions = np.nonzero(ids[0] == tokenizer.mask_token_id)[0]
    if len(positions) == 0:
        raise ValueError(f"no {tokenizer.mask_token} in {text!r}: write {tokenizer.mask_token} where a word should be guessed")
    with no_grad():                                     # inference: keep no tape for a backward
        out = model(input_ids=ids, attention_mask=np.asarray(enc["attention_mask"]),
                    token_type_ids=np.asarray(enc["token_type_ids"]), return_dict=True)
    logits = out.logits if "logits" in out else out.prediction_logits
    logits = model.backend.to_numpy(logits)[0].astype(np.float64)
    results = []
    for pos in positions:
        probs = np.exp(logits[pos] - logits[pos].max())
        probs /= probs.sum()
        best = np.argsort(-probs)[:top_k]
        results.append([(tokenizer.decode([int(i)]).strip(), float(probs[i])) for i in best])
    return results


def format_predictions(text: str, predictions) -> str:
    lines = [text]
    for k, candidates in enumerate(predictions):
        prefix = f"  [MASK] #{k + 1}:" if len(predictions) > 1 else " "
        lines.append(prefix + "  ".join(f" {token:<12} {p:6.1%}" for token, p in candidates))
    return "\n".join(lines)
