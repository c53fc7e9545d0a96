"""From a text file to a pretrained ALBERT, the google-research/albert way: `python -m albert_np.pretrain_corpus`.

    corpus.txt (one sentence per line, blank line between documents)
      -> hold out every Nth document for evaluation
      -> SentencePiece vocabulary on the rest (albert_np.vocab, google's spm_train line)
      -> SOP pairs with n-gram masking, streamed (albert_np.pretraining_data, create_pretraining_data.py)
      -> AlbertForPreTraining, MLM + SOP loss, LAMB (or AdamW) with warmup + polynomial decay, clipping at 1.0
         (albert_np.lamb, run_pretraining.py + optimization.py + lamb_optimizer.py)
      -> OUT/: config.json, model.safetensors, spiece.model, tokenizer_config.json (transformers loads it),
         metrics.jsonl (step, loss, lr, held-out mlm_accuracy / sop_accuracy), checkpoint/ (to resume)

Rerunning the same command with the same --out resumes from OUT/checkpoint: weights, optimizer moments, the
position in the example stream and the dropout generator, so a stopped run ends with the weights an
uninterrupted one would have. This is a command-line module: library modules never import it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass

import numpy as np
from tqdm.auto import tqdm

from . import pretraining_data as pdata
from .checkpoint import read_safetensors, write_safetensors
from .config import CONFIG_NAME, AlbertConfig
from .io_utils import atomic_write_text, finish_interrupted_save, folder_transaction
from .lamb import LAMB, polynomial_warmup_schedule
from .modeling import AlbertForPreTraining
from .optim import AdamW, clip_grad_norm, global_norm
from .tokenizer import AlbertTokenizer
from .train import TrainingDiverged, check_finite, evaluate, save_checkpoint
from .vocab import train_vocab

CHECKPOINT_DIR = "checkpoint"
STATE_NAME = "pretrain_state.json"
OPTIMIZER_NAME = "optimizer.safetensors"
METRICS_NAME = "metrics.jsonl"
# Settings that must not change between a run and its resumption (the rest, e.g. --quiet, may).
RUN_SETTINGS = ("vocab_size", "embedding_size", "hidden_size", "layers", "heads", "intermediate_size",
                "max_seq_length", "short_seq_prob", "masked_lm_prob", "max_predictions_per_seq", "ngram",
                "dupe_factor", "shuffle_buffer", "heldout_every", "eval_examples", "steps", "batch_size",
                "optimizer", "lr", "warmup", "weight_decay", "clip", "seed", "dtype", "dropout")


class UsageError(ValueError):
    """A setting or file the user can fix; main() prints it as one `error: ...` line."""


@dataclass
class RunState:
    """Where a run stands; saved as checkpoint/pretrain_state.json beside the weights and optimizer moments."""

    step: int                 # optimizer steps done
    examples_used: int        # examples taken from the training stream (the data position)
    dropout_rng: dict         # the model backend's numpy bit-generator state
    settings: dict            # RUN_SETTINGS of the run, to refuse resuming with others
    seconds: float            # training time so far


# ---- pieces --------------------------------------------------------------------------------------------


def is_heldout(index: int, every: int) -> bool:
    """Document `index` of the file is held out when it is the last of each group of `every`."""
    return every > 0 and index % every == every - 1


def data_config(args) -> pdata.PretrainingDataConfig:
    return pdata.PretrainingDataConfig(
        max_seq_length=args.max_seq_length, short_seq_prob=args.short_seq_prob, masked_lm_prob=args.masked_lm_prob,
        max_predictions_per_seq=args.max_predictions_per_seq, ngram=args.ngram, dupe_factor=args.dupe_factor,
        shuffle_buffer=args.shuffle_buffer)


def build_tokenizer(args) -> AlbertTokenizer:
    """The run's vocabulary: OUT/spiece.model if the run has one, else trained on the training documents."""
    if os.path.isfile(os.path.join(args.out, "spiece.model")):
        return AlbertTokenizer.from_pretrained(args.out)
    use_document = lambda i: not is_heldout(i, args.heldout_every)  # noqa: E731
    lines = (line for doc in pdata.read_documents(args.corpus, use_document) for line in doc)
    return train_vocab(lines, args.out, vocab_size=args.vocab_size, hard_vocab_limit=False, seed=args.seed)


def build_model(args, tokenizer) -> AlbertForPreTraining:
    config = AlbertConfig(
        vocab_size=len(tokenizer), embedding_size=args.embedding_size, hidden_size=args.hidden_size,
        num_hidden_layers=args.layers, num_attention_heads=args.heads, intermediate_size=args.intermediate_size,
        max_position_embeddings=args.max_seq_length, pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.cls_token_id, eos_token_id=tokenizer.sep_token_id,
        hidden_dropout_prob=args.dropout, attention_probs_dropout_prob=args.dropout)
    return AlbertForPreTraining(config, dtype=args.dtype, backend=args.backend, seed=args.seed)


def build_optimizer(args, model):
    if args.optimizer == "lamb":
        return LAMB(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    return AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay, eps=1e-6,
                 no_decay=("bias", "LayerNorm", "layer_norm"))


def heldout_batches(args, tokenizer) -> list[dict]:
    """The first eval_examples held-out examples (dupe_factor passes, fixed masks and order, seed + 1), in batches of 64."""
    use_document = lambda i: is_heldout(i, args.heldout_every)  # noqa: E731
    cfg = pdata.PretrainingDataConfig(**{**asdict(data_config(args)), "shuffle_buffer": 1})
    examples = []
    stream = pdata.example_stream(args.corpus, tokenizer, cfg, seed=args.seed + 1, use_document=use_document,
                                  repeat=False)
    for example in stream:
        examples.append(example)
        if len(examples) == args.eval_examples:
            break
    return [pdata.collate(examples[i:i + 64]) for i in range(0, len(examples), 64)]


def pretraining_accuracy(model, batches) -> dict:
    """MLM accuracy over the masked positions and SOP accuracy over the pairs of `batches`, and the mean loss."""
    mlm_hits = mlm_total = sop_hits = pairs = 0
    loss_sum = 0.0
    for batch in batches:
        out = model(**batch, return_dict=True)
        logits = model.backend.to_numpy(out.prediction_logits)
        sop = model.backend.to_numpy(out.sop_logits)
        where = batch["labels"] != pdata.IGNORE_INDEX
        mlm_hits += int((logits.argmax(-1)[where] == batch["labels"][where]).sum())
        mlm_total += int(where.sum())
        sop_hits += int((sop.argmax(-1) == batch["sentence_order_label"]).sum())
        pairs += len(sop)
        loss_sum += float(out.loss) * len(sop)
    return {"mlm_accuracy": mlm_hits / max(1, mlm_total), "sop_accuracy": sop_hits / max(1, pairs),
            "eval_loss": loss_sum / max(1, pairs)}


# ---- checkpoints ---------------------------------------------------------------------------------------


def save_run(out, model, tokenizer, optimizer, state: RunState):
    """Write the resumable OUT/checkpoint, then the model itself into OUT, each as one commit.

    io_utils.folder_transaction stages the files and switches them in together (the run state last): other
    files in the folders are left alone, and a fault leaves the previous checkpoint or the new one whole.
    """
    with folder_transaction(os.path.join(out, CHECKPOINT_DIR), last=(STATE_NAME, CONFIG_NAME)) as staging:
        model.write_pretrained_files(staging)
        opt = optimizer.state_dict()
        host = {f"{k}.{name}": model.backend.to_numpy(a) for k in ("m", "v") for name, a in opt[k].items()}
        write_safetensors(os.path.join(staging, OPTIMIZER_NAME), host,
                          metadata={"t": str(opt["t"]), "lr": repr(opt["lr"])})
        atomic_write_text(os.path.join(staging, STATE_NAME), json.dumps(asdict(state), indent=1))
    save_checkpoint(model, out, tokenizer)


def load_run(out, args, optimizer_factory):
    """(model, optimizer, RunState) from OUT/checkpoint; refuses a checkpoint made with other settings."""
    path = os.path.join(out, CHECKPOINT_DIR)
    finish_interrupted_save(path)   # a save killed after its commit is completed before anything is read
    with open(os.path.join(path, STATE_NAME), encoding="utf-8") as f:
        state = RunState(**json.load(f))
    mine = run_settings(args)
    changed = {k: (state.settings.get(k), v) for k, v in mine.items() if state.settings.get(k) != v}
    if changed:
        listed = ", ".join(f"{k}: {old!r} -> {new!r}" for k, (old, new) in changed.items())
        raise UsageError(f"--out {out} holds a run made with other settings ({listed}); rerun with the same "
                         "settings to resume it, or pass a new --out")
    model = AlbertForPreTraining.from_pretrained(path, dtype=args.dtype, backend=args.backend, seed=args.seed)
    model.backend.rng_state = state.dropout_rng
    optimizer = optimizer_factory(model)
    tensors, meta = read_safetensors(os.path.join(path, OPTIMIZER_NAME))
    xp = model.xp
    moments = {"m": {}, "v": {}}
    for key, a in tensors.items():
        kind, name = key.split(".", 1)
        moments[kind][name] = xp.asarray(np.array(a))
    optimizer.load_state_dict({"t": int(meta["t"]), "lr": float(meta["lr"]), **moments})
    return model, optimizer, state


def run_settings(args) -> dict:
    return {k: getattr(args, k) for k in RUN_SETTINGS}


def trim_metrics(out, step: int):
    """Drop metrics.jsonl lines logged after `step` (a stopped run may have logged past its last checkpoint)."""
    path = os.path.join(out, METRICS_NAME)
    if not os.path.exists(path):
        return
    with open(path, encoding="utf-8") as f:
        kept = [line for line in f if line.strip() and json.loads(line)["step"] <= step]
    atomic_write_text(path, "".join(kept))


# ---- the run -------------------------------------------------------------------------------------------


def pretrain(args) -> dict:
    """Run (or resume) the whole recipe; returns the last held-out metrics and the model."""
    check_args(args)
    os.makedirs(args.out, exist_ok=True)
    tokenizer = build_tokenizer(args)
    eval_batches = heldout_batches(args, tokenizer)
    if not eval_batches:
        raise UsageError(f"no held-out examples: {args.corpus} has too few documents for --heldout-every "
                         f"{args.heldout_every}; pass a smaller --heldout-every or more documents")
    resuming = os.path.isfile(os.path.join(args.out, CHECKPOINT_DIR, STATE_NAME))
    if resuming:
        model, optimizer, state = load_run(args.out, args, lambda m: build_optimizer(args, m))
        trim_metrics(args.out, state.step)
    else:
        model = build_model(args, tokenizer)
        optimizer = build_optimizer(args, model)
        state = RunState(0, 0, model.backend.rng_state, run_settings(args), 0.0)
        trim_metrics(args.out, 0)
    say(args, f"{'resuming at step ' + str(state.step) if resuming else 'new run'}: {model.num_parameters():,} "
              f"weights, {len(tokenizer)} pieces, {args.optimizer}, {sum(len(b['labels']) for b in eval_batches)} "
              f"held-out pairs")
    use_document = lambda i: not is_heldout(i, args.heldout_every)  # noqa: E731
    stream = pdata.example_stream(args.corpus, tokenizer, data_config(args), seed=args.seed, use_document=use_document)
    for _ in range(state.examples_used):     # the data position: replay the seeded stream up to it
        next(stream)
    stop_at = args.steps if args.stop_after is None else min(args.steps, state.step + args.stop_after)
    metrics = {}
    losses = []
    start = time.perf_counter() - state.seconds
    model.train()
    bar = tqdm(total=args.steps, initial=state.step, desc="pretrain", disable=args.quiet, dynamic_ncols=True)
    try:
        for step in range(state.step + 1, stop_at + 1):
            optimizer.lr = args.lr * polynomial_warmup_schedule(step - 1, args.warmup, args.steps)
            batch = pdata.collate([next(stream) for _ in range(args.batch_size)])
            out = model(**batch, return_dict=True)
            loss = float(out.loss)
            check_finite(loss, "loss", step, optimizer.lr, args.clip)
            grads = model.backward()
            norm = clip_grad_norm(grads, args.clip) if args.clip else global_norm(grads)
            check_finite(norm, "gradient norm", step, optimizer.lr, args.clip)
            optimizer.step(grads)
            losses.append(loss)
            state.step, state.examples_used = step, state.examples_used + args.batch_size
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.3f}", lr=f"{optimizer.lr:.2e}", refresh=False)
            if step % args.eval_every == 0 or step == args.steps:
                metrics = evaluate(model, lambda m: pretraining_accuracy(m, eval_batches))
                record = {"step": step, "loss": float(np.mean(losses)), "lr": optimizer.lr,
                          **metrics, "seconds": round(time.perf_counter() - start, 1)}
                losses = []
                with open(os.path.join(args.out, METRICS_NAME), "a", encoding="utf-8") as f:
                    f.write(json.dumps(record) + "\n")
                if not args.quiet:
                    bar.write(f"step {step}: loss {record['loss']:.3f}, held-out MLM accuracy "
                              f"{metrics['mlm_accuracy']:.3f}, SOP accuracy {metrics['sop_accuracy']:.3f}")
            if (args.save_every and step % args.save_every == 0) or step == stop_at:
                state.seconds = time.perf_counter() - start
                state.dropout_rng = model.backend.rng_state
                save_run(args.out, model, tokenizer, optimizer, state)
    finally:
        bar.close()
    done = state.step >= args.steps
    say(args, f"{'finished' if done else 'stopped at step ' + str(state.step) + ' of ' + str(args.steps)} "
              f"({state.seconds:.0f} s of training); model in {args.out}"
              + ("" if done else "; rerun the same command to resume"))
    return {"metrics": metrics, "model": model, "tokenizer": tokenizer, "state": state}


def check_args(args):
    if not os.path.isfile(args.corpus):
        raise UsageError(f"corpus {args.corpus!r} is not a file; pass a text file with one sentence per line "
                         "and a blank line between documents")
    positive = ("steps", "batch_size", "vocab_size", "eval_every", "eval_examples", "hidden_size", "layers",
                "heads", "embedding_size", "intermediate_size")
    for name in positive:
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} {getattr(args, name)} is invalid: pass 1 or more")
    for name in ("warmup", "save_every", "heldout_every"):
        if getattr(args, name) < 0:
            raise UsageError(f"--{name.replace('_', '-')} {getattr(args, name)} is invalid: pass 0 or more")
    if args.stop_after is not None and args.stop_after < 1:
        raise UsageError(f"--stop-after {args.stop_after} is invalid: pass 1 or more steps")
    if args.hidden_size % args.heads:
        raise UsageError(f"--hidden-size {args.hidden_size} is not a multiple of --heads {args.heads}; "
                         "pick sizes where it is (e.g. 256 and 4)")
    if args.heldout_every == 1:
        raise UsageError("--heldout-every 1 would hold out every document; pass 0 (none) or 2 or more")
    try:
        data_config(args)
    except ValueError as e:
        raise UsageError(str(e).replace("max_seq_length=", "--max-seq-length ")) from e


def say(args, message):
    if not args.quiet:
        print(message, flush=True)


# ---- command line --------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m albert_np.pretrain_corpus",
        description="Pretrain ALBERT (MLM + SOP) on your own text, the google-research/albert way: SentencePiece "
                    "vocabulary, SOP pairs with n-gram masking, LAMB. Rerun the same command to resume.",
        epilog="example:\n  python tools/stdlib_corpus.py --out runs/stdlib.txt\n"
               "  python -m albert_np.pretrain_corpus runs/stdlib.txt --out runs/stdlib-albert",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("corpus", help="text file: one sentence per line, a blank line between documents")
    p.add_argument("--out", required=True, help="folder of the model, its vocabulary, metrics.jsonl and checkpoint/")
    d = p.add_argument_group("data (create_pretraining_data.py's flags)")
    d.add_argument("--vocab-size", type=int, default=8000, help="SentencePiece pieces, at most (default 8000)")
    d.add_argument("--max-seq-length", type=int, default=128)
    d.add_argument("--short-seq-prob", type=float, default=0.1)
    d.add_argument("--masked-lm-prob", type=float, default=0.15)
    d.add_argument("--max-predictions-per-seq", type=int, default=20)
    d.add_argument("--ngram", type=int, default=3)
    d.add_argument("--dupe-factor", type=int, default=5)
    d.add_argument("--shuffle-buffer", type=int, default=10_000)
    d.add_argument("--heldout-every", type=int, default=20, help="hold out every Nth document for evaluation (default 20)")
    d.add_argument("--eval-examples", type=int, default=512, help="held-out pairs evaluated (default 512)")
    m = p.add_argument_group("model")
    m.add_argument("--embedding-size", type=int, default=128)
    m.add_argument("--hidden-size", type=int, default=256)
    m.add_argument("--layers", type=int, default=4, help="layers, all sharing one set of weights")
    m.add_argument("--heads", type=int, default=4)
    m.add_argument("--intermediate-size", type=int, default=1024)
    m.add_argument("--dropout", type=float, default=0.0, help="hidden and attention dropout (ALBERT v2: 0)")
    m.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    m.add_argument("--backend", default="numpy", choices=("numpy", "cupy"))
    t = p.add_argument_group("training (run_pretraining.py's flags)")
    t.add_argument("--steps", type=int, default=10_000)
    t.add_argument("--batch-size", type=int, default=64)
    t.add_argument("--optimizer", default="lamb", choices=("lamb", "adamw"))
    t.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (default 2e-3)")
    t.add_argument("--warmup", type=int, default=None, help="warmup steps (default steps/20)")
    t.add_argument("--weight-decay", type=float, default=0.01)
    t.add_argument("--clip", type=float, default=1.0, help="global gradient-norm clipping; 0 turns it off")
    t.add_argument("--eval-every", type=int, default=100, help="held-out evaluation and a metrics.jsonl line every N steps")
    t.add_argument("--save-every", type=int, default=500, help="checkpoint every N steps (and at the end)")
    t.add_argument("--stop-after", type=int, default=None, help="stop (with a checkpoint) after N more steps; "
                   "rerun to go on")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--quiet", action="store_true", help="no progress bar or messages")
    return p


def parse_args(argv=None):
    args = build_parser().parse_args(argv)
    if args.warmup is None:
        args.warmup = args.steps // 20
    return args


def main(argv=None) -> int:
    """`python -m albert_np.pretrain_corpus` (and `albert-np pretrain`): returns the exit status."""
    args = parse_args(argv)
    try:
        pretrain(args)
    except (ValueError, TrainingDiverged, OSError) as e:   # UsageError and CheckpointError are ValueErrors
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
