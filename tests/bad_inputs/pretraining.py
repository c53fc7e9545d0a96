"""Bad inputs of pretraining on your own text: LAMB's settings, the example settings, the vocabulary, resuming."""

import numpy as np

from albert_np import pretrain_corpus
from albert_np.lamb import LAMB
from albert_np.pretraining_data import PretrainingDataConfig
from albert_np.vocab import train_vocab

from . import Case

TINY = ["--vocab-size", "200", "--hidden-size", "16", "--embedding-size", "8", "--layers", "1", "--heads", "2",
        "--intermediate-size", "32", "--max-seq-length", "24", "--max-predictions-per-seq", "3", "--batch-size", "2",
        "--steps", "2", "--eval-every", "1", "--heldout-every", "4", "--eval-examples", "4", "--dupe-factor", "1",
        "--quiet"]


def weights():
    return {"dense.weight": np.ones((2, 2)), "dense.bias": np.zeros(2)}


def write_corpus(tmp):
    from pydoc_data.topics import topics

    docs = ["\n".join(s for s in topics[name].replace("\n", " ").split(". ") if len(s.split()) > 2)
            for name in sorted(topics)[:12]]
    (tmp / "corpus.txt").write_text("\n\n".join(docs) + "\n", encoding="utf-8")


def trained_run(tmp):
    write_corpus(tmp)
    assert pretrain_corpus.main([str(tmp / "corpus.txt"), "--out", str(tmp / "run"), *TINY]) == 0


def resume_with(tmp, *changed):
    args = pretrain_corpus.parse_args([str(tmp / "corpus.txt"), "--out", str(tmp / "run"), *TINY, *changed])
    pretrain_corpus.pretrain(args)


def load_other_shapes(tmp):
    opt = LAMB(weights())
    opt.load_state_dict({"t": 1, "lr": 0.1, "m": {"dense.weight": np.zeros((3, 3))}, "v": {}})


CASES = [
    Case("lamb_negative_lr", lambda tmp: LAMB(weights(), lr=-1.0), ValueError, r"lr=-1\.0 is invalid: pass a learning rate >= 0"),
    Case("lamb_beta_of_one", lambda tmp: LAMB(weights(), betas=(0.9, 1.0)), ValueError,
         r"betas=\(0\.9, 1\.0\) is invalid: pass two numbers in \[0, 1\)"),
    Case("lamb_zero_eps", lambda tmp: LAMB(weights(), eps=0.0), ValueError, r"eps=0\.0 is invalid: pass a small positive"),
    Case("lamb_nan_weight_decay", lambda tmp: LAMB(weights(), weight_decay=float("nan")), ValueError,
         r"weight_decay=nan is invalid: pass 0 or more"),
    Case("lamb_no_weights", lambda tmp: LAMB({}), ValueError, r"params must be a non-empty dict.*model\.parameters\(\)"),
    Case("lamb_state_of_another_model", load_other_shapes, ValueError,
         r"'dense\.weight' has shape \(3, 3\), the weight has \(2, 2\)"),
    Case("data_masked_lm_prob_above_one", lambda tmp: PretrainingDataConfig(masked_lm_prob=1.5), ValueError,
         r"masked_lm_prob=1\.5 is invalid: pass a probability in \[0, 1\]"),
    Case("data_max_seq_length_too_short", lambda tmp: PretrainingDataConfig(max_seq_length=4), ValueError,
         r"max_seq_length=4 is invalid: pass at least 5"),
    Case("data_zero_dupe_factor", lambda tmp: PretrainingDataConfig(dupe_factor=0), ValueError,
         r"dupe_factor=0 is invalid: pass 1 or more"),
    Case("vocab_smaller_than_the_specials", lambda tmp: train_vocab(["a few words"], tmp / "v", vocab_size=8),
         ValueError, r"vocab_size=8 is too small.*pass at least 14"),
    Case("vocab_larger_than_the_text_supports",
         lambda tmp: train_vocab(["hello world this is it"] * 10, tmp / "v", vocab_size=5000),
         ValueError, r"vocab_size=5000 is more than this text supports \(SentencePiece allows <= \d+\); pass a smaller"),
    Case("resume_with_other_steps", lambda tmp: resume_with(tmp, "--steps", "3"), ValueError,
         r"holds a run made with other settings \(steps: 2 -> 3\).*same settings.*new --out", setup=trained_run),
    Case("resume_with_another_model_size", lambda tmp: resume_with(tmp, "--hidden-size", "32"), ValueError,
         r"hidden_size: 16 -> 32", setup=trained_run),
]
