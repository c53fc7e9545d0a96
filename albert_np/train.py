"""Training ALBERT with albert_np: the loop, atomic checkpoints, and the `albert-np-train` command line.

One optimizer step of `train()`:

    accum micro-batches -> forward + backward each -> average their gradients -> stop if loss or norm is NaN/inf
        -> clip the global gradient norm -> lr = base_lr * linear warmup/decay -> AdamW step
        -> now and then: evaluate, write a checkpoint (staged, then switched in as a whole)

With --out, a run writes metrics.jsonl as it goes (a line per step: loss, learning_rate, grad_norm; a line per
evaluation: eval_*) and, with each checkpoint, trainer_state.json in transformers' TrainerState shape.

The command line fine-tunes on the user's own file (albert_np.finetuning), or runs two recipes on the project's
own synthetic data (albert_np.synthetic):
    albert-np-train finetune --task text-classification --train-file train.csv --validation-file dev.csv --out runs/x
    albert-np-train finetune --out runs/sentiment    # sentiment classification (400 steps), accuracy printed
    albert-np-train pretrain --out runs/tiny         # MLM + sentence-order pretraining on facts (4000 steps)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import warnings

import numpy as np
from tqdm.auto import tqdm

from . import synthetic
from .config import CONFIG_NAME, AlbertConfig
from .fill_mask import bundled_model_dir, fill_mask
from .io_utils import atomic_write_text, check_writable_folder, folder_transaction
from .grad_mode import no_grad
from .modeling import AlbertForPreTraining, AlbertForSequenceClassification
from .optim import AdamW, TrainingDiverged, array_namespace, clip_grad_norm, global_norm, linear_schedule  # noqa: F401
from .tokenizer import AlbertTokenizer
from .training_log import METRICS_NAME, TRAINER_STATE_NAME, MetricsLog, TrainHistory, _short, trainer_state  # noqa: F401

SYNTHETIC_STEPS = 400   # finetune's default on the synthetic reviews
FILE_TASKS = ("text-classification", "token-classification", "question-answering")
MIN_MAX_LENGTH = 5   # [CLS] A [SEP] B [SEP]: three special tokens and at least one token of each sentence


# ---- one step ------------------------------------------------------------------------------------------


def accumulate_gradients(model, micro_batches) -> tuple[float, dict]:
    """Forward and backward on each micro-batch; returns the mean loss and the mean gradient.

    With equal-sized micro-batches and a loss that is a mean over rows, this is the gradient of the whole
    batch, at the memory cost of one micro-batch. (For MLM the masked-token count varies between micro-batches,
    so it is the mean of per-micro-batch means, as transformers' Trainer computes it too.)
    """
    total_loss, grads = 0.0, None
    scale = 1.0 / len(micro_batches)
    for model_kwargs in micro_batches:
        out = model(**model_kwargs, return_dict=True)
        if out.loss is None:
            raise ValueError(f"{type(model).__name__} returned no loss: the batches must include labels")
        total_loss += float(out.loss) * scale
        step_grads = model.backward()
        if grads is None:
            grads = {name: g * scale for name, g in step_grads.items()}
        else:
            for name, g in step_grads.items():
                grads[name] += g * scale
    return total_loss, grads


def check_finite(value: float, what: str, step: int, lr: float, clip: float | None):
    """Raise TrainingDiverged naming the step and the quantity when `value` is NaN or inf."""
    if math.isfinite(value):
        return
    advice = f"lower the learning rate (it was {lr:.3g})"
    advice += f" or clip harder (--clip, now {clip})" if clip else " or turn on gradient clipping (e.g. --clip 1.0)"
    raise TrainingDiverged(
        f"training diverged at step {step}: the {what} is {value}. The weights were not updated with it; {advice}, "
        "and check the inputs for labels outside the model's range"
    )


def check_finite_weights(model):
    """Refuse to save weights holding NaN or inf: a checkpoint never carries them."""
    for name, w in model.parameters().items():
        xp = array_namespace(w)
        if not bool(xp.all(xp.isfinite(w))):
            raise ValueError(
                f"weight {name!r} holds NaN or inf; albert_np does not save such a checkpoint (nothing was written). "
                "Reload the last good checkpoint and train with a lower learning rate"
            )


# ---- checkpoints ---------------------------------------------------------------------------------------


def save_checkpoint(model, path, tokenizer=None, state: dict | None = None):
    """Write model (config.json, model.safetensors), tokenizer and trainer state into folder `path`, as one commit.

    Only these files are written; anything else in `path` (notes, other runs) is left alone, as transformers'
    save_pretrained does. The files are staged in a hidden folder inside `path` and switched in together
    (io_utils.folder_transaction, config.json last): a failure or crash leaves the previous checkpoint or the
    new one, never a mix, and the temp data of a killed save is removed by the next save or load.
    """
    check_finite_weights(model)
    with folder_transaction(path, last=(TRAINER_STATE_NAME, CONFIG_NAME)) as staging:
        model.write_pretrained_files(staging)
        if tokenizer is not None:
            tokenizer.save_pretrained(staging)
        if state is not None:
            atomic_write_text(os.path.join(staging, TRAINER_STATE_NAME), json.dumps(state, indent=2))


# ---- the loop ------------------------------------------------------------------------------------------


def evaluate(model, eval_fn) -> dict:
    """Run eval_fn(model) with dropout off and no backward caches, then restore the training mode."""
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            return {k: float(v) for k, v in eval_fn(model).items()}
    finally:
        model.train(was_training)


def train(model, batches, *, steps: int, lr: float = 1e-3, warmup: int = 0, clip: float | None = 1.0,
          accum: int = 1, weight_decay: float = 0.01, betas=(0.9, 0.999), eps: float = 1e-8,
          eval_fn=None, eval_every: int = 0, checkpoint_dir=None, save_every: int = 0, tokenizer=None,
          progress: bool = True, desc: str = "train", steps_per_epoch: float | None = None) -> TrainHistory:
    """Train `model` in place for `steps` optimizer steps on the dict batches `batches` yields (model kwargs with labels).

    accum: micro-batches per step (gradient accumulation); warmup: steps of linear warmup, then linear decay to 0;
    clip: global gradient-norm limit (None or 0 turns clipping off); eval_fn(model) -> {metric: value} runs every
    eval_every steps and at the end; checkpoint_dir is (over)written every save_every steps and at the end, with
    trainer_state.json in transformers' shape, and gets metrics.jsonl, one line per step and per evaluation, as
    training goes. steps_per_epoch (optimizer steps per pass over the data, when the stream has passes) puts the
    epoch into the log. Raises TrainingDiverged, before the bad update, when the loss or gradient norm is NaN or inf.
    """
    check_train_arguments(steps=steps, accum=accum, warmup=warmup, clip=clip, eval_every=eval_every,
                          save_every=save_every, eval_fn=eval_fn, batches=batches)
    if steps_per_epoch is not None and not (isinstance(steps_per_epoch, (int, float)) and steps_per_epoch > 0):
        raise ValueError(f"train() steps_per_epoch must be a number > 0 or None, got {steps_per_epoch!r}")
    if checkpoint_dir is not None:
        check_writable_folder(checkpoint_dir, "checkpoint_dir")   # fail now, not after every step has run
    optimizer = AdamW(model.parameters(), lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                      no_decay=("bias", "LayerNorm", "layer_norm"))
    history = TrainHistory()
    log = MetricsLog(os.path.join(checkpoint_dir, METRICS_NAME)) if checkpoint_dir is not None else None
    batch_rows = None

    def epoch_of(step):
        return {} if steps_per_epoch is None else {"epoch": round(step / steps_per_epoch, 4)}

    def record(entry):
        history.log_history.append(entry)
        if log is not None:
            log.write(entry)

    batches = iter(batches)
    model.train()
    start = time.perf_counter()
    bar = tqdm(total=steps, desc=desc, disable=not progress, dynamic_ncols=True)
    postfix = {}
    try:
        for step in range(1, steps + 1):
            optimizer.lr = lr * linear_schedule(step, warmup, steps)
            micro = [next_batch(batches, step) for _ in range(accum)]
            batch_rows = batch_rows or rows_of(micro[0])
            loss, grads = accumulate_gradients(model, micro)
            check_finite(loss, "loss", step, optimizer.lr, clip)
            norm = clip_grad_norm(grads, clip) if clip else global_norm(grads)
            check_finite(norm, "gradient norm", step, optimizer.lr, clip)
            try:
                optimizer.step(grads)
            except TrainingDiverged as e:
                raise TrainingDiverged(f"training diverged at step {step}: {e}") from None
            history.losses.append(loss)
            history.grad_norms.append(norm)
            history.lrs.append(optimizer.lr)
            record({"loss": _short([loss])[0], "grad_norm": _short([norm])[0],
                    "learning_rate": float(f"{optimizer.lr:.6g}"), **epoch_of(step), "step": step})
            postfix.update(loss=f"{loss:.4f}", lr=f"{optimizer.lr:.2e}")
            if eval_fn is not None and ((eval_every and step % eval_every == 0) or step == steps):
                began = time.perf_counter()
                metrics = evaluate(model, eval_fn)
                history.evals.append((step, metrics))
                record({**{f"eval_{k}": v for k, v in metrics.items()},
                        "eval_runtime": round(time.perf_counter() - began, 3), **epoch_of(step), "step": step})
                postfix.update({k: f"{v:.3f}" for k, v in metrics.items()})
                if progress:
                    bar.write(f"step {step}: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
            bar.set_postfix(postfix, refresh=False)
            bar.update(1)
            history.seconds = time.perf_counter() - start
            if step == steps:   # transformers' closing record of a run
                record({"train_runtime": round(history.seconds, 3), "train_loss": float(np.mean(history.losses)),
                        "train_steps_per_second": round(steps / max(history.seconds, 1e-9), 3),
                        "train_samples_per_second": round(steps * accum * batch_rows / max(history.seconds, 1e-9), 3),
                        "total_flos": 0, **epoch_of(step), "step": step})
            if checkpoint_dir is not None and ((save_every and step % save_every == 0) or step == steps):
                state = trainer_state(history, max_steps=steps, eval_steps=eval_every, save_steps=save_every,
                                      train_batch_size=batch_rows, epoch=epoch_of(step).get("epoch"),
                                      num_train_epochs=0 if steps_per_epoch is None else math.ceil(
                                          round(steps / steps_per_epoch, 4)))
                save_checkpoint(model, checkpoint_dir, tokenizer, state=state)
    finally:
        bar.close()
        model.eval()
        history.seconds = time.perf_counter() - start
    return history


def rows_of(batch: dict) -> int:
    """The number of rows of a batch of model kwargs (its first array's length)."""
    for value in batch.values():
        shape = getattr(value, "shape", None)
        if shape:
            return int(shape[0])
    return 0


def check_train_arguments(*, steps, accum, warmup, clip, eval_every, save_every, eval_fn, batches):
    """A ValueError/TypeError naming the argument of train() that is out of range, before anything runs."""
    for name, value, low in (("steps", steps, 1), ("accum", accum, 1), ("warmup", warmup, 0),
                             ("eval_every", eval_every, 0), ("save_every", save_every, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"train() {name} must be an integer >= {low}, got {value!r}")
    if clip is not None and (isinstance(clip, bool) or not isinstance(clip, (int, float))
                             or not math.isfinite(clip) or clip < 0):
        raise ValueError(f"train() clip must be None, 0 (off) or a finite norm > 0 such as 1.0, got {clip!r}")
    if eval_fn is not None and not callable(eval_fn):
        raise TypeError(f"train() eval_fn must be a function model -> {{metric: value}}, got {eval_fn!r}")
    if isinstance(batches, dict) or not hasattr(batches, "__iter__"):
        raise TypeError(
            f"train() batches must be an iterable of dicts of model inputs, got {type(batches).__name__}; "
            "wrap one batch as [batch], or use synthetic.iterate_batches"
        )


def next_batch(batches, step):
    try:
        return next(batches)
    except StopIteration:
        raise ValueError(
            f"the batch iterator ran out at step {step}; pass an endless stream (e.g. synthetic.iterate_batches "
            "with forever=True) or fewer steps"
        ) from None


# ---- evaluation helpers ----------------------------------------------------------------------------------


def classification_metrics(model, arrays: dict, batch_size: int = 128) -> dict:
    """Accuracy and mean cross-entropy of a sequence classifier over `arrays` (input_ids, ..., labels)."""
    correct, loss_sum, n = 0, 0.0, 0
    for model_kwargs in synthetic.iterate_batches(arrays, batch_size, shuffle=False, forever=False):
        out = model(**model_kwargs, return_dict=True)
        logits = model.backend.to_numpy(out.logits)
        correct += int(np.sum(np.argmax(logits, axis=-1) == model_kwargs["labels"]))
        loss_sum += float(out.loss) * len(model_kwargs["labels"])
        n += len(model_kwargs["labels"])
    return {"accuracy": correct / n, "loss": loss_sum / n}


def pretraining_metrics(model, arrays: dict, batch_size: int = 128) -> dict:
    """Masked-token accuracy, sentence-order accuracy and loss of AlbertForPreTraining over fixed, pre-masked `arrays`."""
    mlm_hits = mlm_total = sop_hits = n = 0
    loss_sum = 0.0
    for model_kwargs in synthetic.iterate_batches(arrays, batch_size, shuffle=False, forever=False):
        out = model(**model_kwargs, return_dict=True)
        predicted = np.argmax(model.backend.to_numpy(out.prediction_logits), axis=-1)
        target = model_kwargs["labels"] != -100
        mlm_hits += int(np.sum((predicted == model_kwargs["labels"]) & target))
        mlm_total += int(np.sum(target))
        sop = np.argmax(model.backend.to_numpy(out.sop_logits), axis=-1)
        sop_hits += int(np.sum(sop == model_kwargs["sentence_order_label"]))
        loss_sum += float(out.loss) * len(sop)
        n += len(sop)
    return {"mlm_accuracy": mlm_hits / max(1, mlm_total), "sop_accuracy": sop_hits / n, "loss": loss_sum / n}


def capital_recall(model, tokenizer) -> float:
    """Share of countries ranked first in "the capital of [MASK] is <capital>.": how many facts the model knows."""
    texts = [f"the capital of [MASK] is {capital}." for _, capital, _, _ in synthetic.COUNTRIES]
    enc = tokenizer(texts, padding=True, return_tensors="np")
    ids = np.asarray(enc["input_ids"], dtype=np.int64)
    out = model(input_ids=ids, attention_mask=np.asarray(enc["attention_mask"]),
                token_type_ids=np.asarray(enc["token_type_ids"]), return_dict=True)
    logits = model.backend.to_numpy(out.logits if "logits" in out else out.prediction_logits)
    rows, cols = np.nonzero(ids == tokenizer.mask_token_id)
    guesses = tokenizer.convert_ids_to_tokens([int(i) for i in logits[rows, cols].argmax(axis=-1)])
    return float(np.mean([g == "\u2581" + country for g, (country, *_) in zip(guesses, synthetic.COUNTRIES)]))


# ---- the recipes behind the command line -----------------------------------------------------------------


def load_tokenizer(path) -> AlbertTokenizer:
    return AlbertTokenizer.from_pretrained(path)


def encode_sentiment(tokenizer, texts, labels, max_length: int) -> dict:
    """Tokenize reviews to padded NumPy arrays with their labels (the model kwargs of the classification task)."""
    enc = tokenizer(list(texts), padding="max_length", truncation=True, max_length=max_length, return_tensors="np")
    return {"input_ids": np.asarray(enc["input_ids"], dtype=np.int64),
            "attention_mask": np.asarray(enc["attention_mask"], dtype=np.int64),
            "token_type_ids": np.asarray(enc["token_type_ids"], dtype=np.int64),
            "labels": np.asarray(labels, dtype=np.int64)}


def encode_pairs(tokenizer, text_a, text_b, order, max_length: int) -> dict:
    """Tokenize sentence-order pairs to padded arrays: [CLS] A [SEP] B [SEP], token types 0 then 1."""
    enc = tokenizer(list(text_a), list(text_b), padding="max_length", truncation=True, max_length=max_length,
                    return_tensors="np")
    return {"input_ids": np.asarray(enc["input_ids"], dtype=np.int64),
            "attention_mask": np.asarray(enc["attention_mask"], dtype=np.int64),
            "token_type_ids": np.asarray(enc["token_type_ids"], dtype=np.int64),
            "sentence_order_label": np.asarray(order, dtype=np.int64)}


def special_ids(tokenizer) -> list[int]:
    """The ids that MLM must never mask: <pad>, <unk>, [CLS], [SEP], [MASK]."""
    names = ("pad_token_id", "unk_token_id", "cls_token_id", "sep_token_id", "mask_token_id")
    return sorted({int(getattr(tokenizer, n)) for n in names if getattr(tokenizer, n, None) is not None})


def config_from_args(args, tokenizer, **extra) -> AlbertConfig:
    """A fresh AlbertConfig sized by the command line and the tokenizer's vocabulary and special ids."""
    return AlbertConfig(
        vocab_size=len(tokenizer), embedding_size=args.embedding_size, hidden_size=args.hidden_size,
        num_hidden_layers=args.layers, num_attention_heads=args.heads, intermediate_size=args.intermediate_size,
        max_position_embeddings=args.max_position_embeddings or max(64, args.max_length), pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.cls_token_id, eos_token_id=tokenizer.sep_token_id,
        initializer_range=args.initializer_range, **extra)


def finetune(args) -> dict:
    """Fine-tune AlbertForSequenceClassification on synthetic sentiment; returns accuracy before/after and the history.
    With --train-file, fine-tune the --task head on the user's file instead (albert_np.finetuning)."""
    if getattr(args, "train_file", None) is not None:
        from .finetuning import finetune_files   # imports this module: loaded only when asked for

        return finetune_files(args)
    if getattr(args, "validation_file", None) is not None:
        raise ValueError("--validation-file needs --train-file (without it, finetune trains on synthetic reviews)")
    if getattr(args, "task", "text-classification") != "text-classification":
        raise ValueError(f"--task {args.task} needs --train-file: the built-in synthetic data is text classification")
    if getattr(args, "steps", None) is None:
        args.steps = SYNTHETIC_STEPS
    model_dir = args.model or bundled_model_dir()
    tokenizer = load_tokenizer(args.tokenizer or model_dir)
    labels = {"id2label": dict(enumerate(synthetic.SENTIMENT_LABELS)),
              "label2id": {name: i for i, name in enumerate(synthetic.SENTIMENT_LABELS)}}
    if args.from_scratch:
        model = AlbertForSequenceClassification(config_from_args(args, tokenizer, **labels), dtype=args.dtype,
                                                backend=args.backend, seed=args.seed)
    else:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Some weights of")   # the new classifier, the unused MLM head
            model = AlbertForSequenceClassification.from_pretrained(model_dir, dtype=args.dtype, backend=args.backend,
                                                                    seed=args.seed, **labels)
    if args.max_length > model.config.max_position_embeddings:
        raise ValueError(f"--max-length {args.max_length} exceeds the {model.config.max_position_embeddings} positions "
                         f"of the model in {model_dir}; pass --max-length {model.config.max_position_embeddings} or less")
    train_arrays = encode_sentiment(tokenizer, *synthetic.make_sentiment_dataset(args.train_size, args.seed),
                                    args.max_length)
    eval_arrays = encode_sentiment(tokenizer, *synthetic.make_sentiment_dataset(args.eval_size, args.seed + 10_000),
                                   args.max_length)

    def eval_fn(m):
        return classification_metrics(m, eval_arrays)

    before = evaluate(model, eval_fn)
    say(args, f"{model.num_parameters():,} parameters; eval accuracy before training {before['accuracy']:.3f} "
              f"(chance {1 / len(synthetic.SENTIMENT_LABELS):.3f})")
    history = train(model, synthetic.iterate_batches(train_arrays, args.batch_size, seed=args.seed), steps=args.steps,
                    lr=args.lr, warmup=default_warmup(args), clip=args.clip, accum=args.accum,
                    weight_decay=args.weight_decay, eval_fn=eval_fn, eval_every=args.eval_every,
                    checkpoint_dir=args.out, save_every=args.save_every, tokenizer=tokenizer,
                    progress=not args.quiet, desc="finetune")
    after = history.evals[-1][1]
    say(args, f"eval accuracy after {history.steps} steps ({history.seconds:.0f} s): {after['accuracy']:.3f}"
              + (f"; checkpoint in {args.out}" if args.out else ""))
    return {"before": before, "after": after, "history": history, "model": model, "tokenizer": tokenizer}


def pretrain(args) -> dict:
    """Pretrain AlbertForPreTraining from scratch (MLM + SOP) on synthetic facts with an existing tokenizer."""
    tokenizer = load_tokenizer(args.tokenizer or bundled_model_dir())
    model = AlbertForPreTraining(config_from_args(args, tokenizer), dtype=args.dtype, backend=args.backend,
                                 seed=args.seed)
    specials = special_ids(tokenizer)
    train_arrays = encode_pairs(tokenizer, *synthetic.make_pretraining_pairs(args.examples, args.seed,
                                                                            args.review_fraction), args.max_length)
    eval_arrays = encode_pairs(tokenizer, *synthetic.make_pretraining_pairs(512, args.seed + 10_000,
                                                                           args.review_fraction), args.max_length)
    special = np.isin(eval_arrays["input_ids"], specials)
    eval_arrays["input_ids"], eval_arrays["labels"] = synthetic.mask_tokens(
        eval_arrays["input_ids"], special, tokenizer.mask_token_id, len(tokenizer), np.random.default_rng(0),
        first_random_id=max(specials) + 1)

    def eval_fn(m):
        metrics = pretraining_metrics(m, eval_arrays)
        metrics["capital_recall"] = capital_recall(m, tokenizer)
        top = fill_mask(m, tokenizer, "The capital of [MASK] is Paris.", top_k=1)[0][0]
        metrics["france_first"] = float(top[0] == "france")
        return metrics

    say(args, f"{model.num_parameters():,} parameters, {len(tokenizer)} tokens in the vocabulary, "
              f"{args.examples} sentence pairs")
    salient = [i for i in tokenizer.convert_tokens_to_ids(["\u2581" + w for w in synthetic.entity_words()])
               if i != tokenizer.unk_token_id]
    batches = synthetic.mlm_batches(train_arrays, args.batch_size, specials, tokenizer.mask_token_id, len(tokenizer),
                                    seed=args.seed, salient_ids=salient, salient_probability=args.salient_masking)
    history = train(model, batches, steps=args.steps, lr=args.lr, warmup=default_warmup(args), clip=args.clip,
                    accum=args.accum, weight_decay=args.weight_decay, eval_fn=eval_fn, eval_every=args.eval_every,
                    checkpoint_dir=args.out, save_every=args.save_every, tokenizer=tokenizer,
                    progress=not args.quiet, desc="pretrain")
    say(args, f"pretrained {history.steps} steps in {history.seconds:.0f} s, final loss {history.losses[-1]:.4f}"
              + (f"; checkpoint in {args.out}" if args.out else ""))
    return {"history": history, "model": model, "tokenizer": tokenizer}


def default_warmup(args) -> int:
    """--warmup, or a tenth of the steps."""
    return args.warmup if args.warmup is not None else max(1, args.steps // 10)


def say(args, message):
    if not args.quiet:
        print(message, flush=True)


# ---- command line --------------------------------------------------------------------------------------


def at_least(low):
    """An argparse type: an integer >= low (argparse prints `error: argument --x: ...` for anything else)."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value
    parse.__name__ = f"integer >= {low}"
    return parse


def finite_float(low=0.0, high=None, what="a finite number"):
    """An argparse type: a finite float in [low, high)."""
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value) or value < low or (high is not None and value >= high):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text}")
        return value
    parse.__name__ = what
    return parse


def add_common_arguments(p, steps, batch_size, lr, eval_every, steps_help=None):
    p.add_argument("--out", default=None, help="checkpoint folder, written atomically, with metrics.jsonl and "
                                               "trainer_state.json (default: no checkpoint)")
    p.add_argument("--tokenizer", default=None, help="folder with spiece.model (default: the model's, or the bundled one)")
    p.add_argument("--steps", type=at_least(1), default=steps, help=steps_help or f"optimizer steps (default {steps})")
    p.add_argument("--batch-size", type=at_least(1), default=batch_size, help=f"rows per micro-batch (default {batch_size})")
    p.add_argument("--accum", type=at_least(1), default=1, help="micro-batches per optimizer step (gradient accumulation)")
    p.add_argument("--lr", type=finite_float(what="a finite number >= 0"), default=lr, help=f"peak learning rate of AdamW (default {lr})")
    p.add_argument("--warmup", type=at_least(0), default=None, help="linear warmup steps, then linear decay (default steps/10)")
    p.add_argument("--clip", type=finite_float(what="a finite number >= 0"), default=1.0, help="global gradient-norm clipping; 0 turns it off (default 1.0)")
    p.add_argument("--weight-decay", type=finite_float(what="a finite number >= 0"), default=0.01, help="AdamW weight decay, not on biases/LayerNorm")
    p.add_argument("--eval-every", type=at_least(0), default=eval_every, help=f"evaluate every N steps (default {eval_every})")
    p.add_argument("--save-every", type=at_least(0), default=0, help="also checkpoint every N steps (default: only at the end)")
    p.add_argument("--seed", type=at_least(0), default=0, help="seed of the data, the initialisation and the masking")
    p.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    p.add_argument("--backend", default="numpy", choices=("numpy", "cupy"))
    p.add_argument("--quiet", action="store_true", help="no progress bar or messages")


def add_size_arguments(p, hidden, layers, intermediate, max_length):
    g = p.add_argument_group("model size (a new model only)")
    g.add_argument("--embedding-size", type=at_least(1), default=64)
    g.add_argument("--hidden-size", type=at_least(1), default=hidden)
    g.add_argument("--layers", type=at_least(1), default=layers, help="layers (all sharing one set of weights, as in ALBERT)")
    g.add_argument("--heads", type=at_least(1), default=4)
    g.add_argument("--intermediate-size", type=at_least(1), default=intermediate)
    g.add_argument("--max-position-embeddings", type=at_least(1), default=None,
                   help="positions of a new model (default: max(64, --max-length))")
    g.add_argument("--initializer-range", type=finite_float(what="a finite number >= 0"), default=0.02, help="std of the initial weights (default 0.02)")
    p.add_argument("--max-length", type=at_least(MIN_MAX_LENGTH), default=max_length, help=f"tokens per example after truncation (default {max_length})")


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad command line prints one line `error: ...` (no usage block) and exits with status 2."""

    def error(self, message):
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="albert-np-train",
        description="Train ALBERT in NumPy on your own CSV/JSONL files or on data the project generates itself "
                    "(no downloads).",
        epilog="examples:\n"
               "  albert-np-train finetune --task text-classification --train-file train.csv "
               "--validation-file dev.csv --out runs/mine\n"
               "  albert-np-train finetune --out runs/sentiment\n"
               "  albert-np-train finetune --from-scratch --steps 600 --accum 2\n"
               "  albert-np-train pretrain --out runs/tiny-albert\n"
               "  python -m albert_np.train finetune --help",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="{finetune,pretrain}",
                                parser_class=OneLineParser)

    ft = sub.add_parser("finetune", help="a head on your CSV/JSONL file (--train-file), or on synthetic sentiment",
                        description="Fine-tune a head on your own .csv or .jsonl file (--train-file, in the formats "
                                    "of transformers' run_glue / run_ner / run_qa) and score --validation-file; "
                                    "without --train-file, AlbertForSequenceClassification on synthetic reviews "
                                    "labelled negative/positive, where negation and 'but' decide the label. Starts "
                                    "from the bundled tiny pretrained ALBERT unless --model or --from-scratch says "
                                    "otherwise.",
                        epilog="example:\n  albert-np finetune --task text-classification --train-file train.csv "
                               "--validation-file dev.csv --text-column sentence --label-column label --out runs/mine",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    ft.add_argument("--model", default=None, help="pretrained checkpoint folder (default: the bundled tiny-albert)")
    ft.add_argument("--from-scratch", action="store_true", help="random weights of the size below, not a checkpoint")
    files = ft.add_argument_group("your own data (albert_np.finetuning)")
    files.add_argument("--task", default="text-classification", choices=FILE_TASKS,
                       help="the head to train (default text-classification)")
    files.add_argument("--train-file", default=None, help="a .csv (header line) or .jsonl file of labelled examples")
    files.add_argument("--validation-file", default=None, help="scored every --eval-every steps and at the end")
    files.add_argument("--text-column", default="text", help="text classification: the text (default: text)")
    files.add_argument("--text-pair-column", default=None, help="text classification: the second text of a pair")
    files.add_argument("--label-column", default=None,
                       help="the labels (default: label; ner_tags for token classification; answers for QA)")
    files.add_argument("--tokens-column", default="tokens", help="token classification: the words (default: tokens)")
    files.add_argument("--question-column", default="question", help="question answering (default: question)")
    files.add_argument("--context-column", default="context", help="question answering (default: context)")
    files.add_argument("--doc-stride", type=at_least(0), default=None,
                       help="question answering: overlap of context windows (default: min(128, max-length / 4))")
    files.add_argument("--epochs", type=finite_float(1e-9, what="a finite number > 0"), default=3.0,
                       help="passes over --train-file when --steps is not given (default 3, as transformers)")
    ft.add_argument("--train-size", type=at_least(1), default=4000, help="generated training reviews (default 4000)")
    ft.add_argument("--eval-size", type=at_least(1), default=500, help="generated held-out reviews (default 500)")
    add_common_arguments(ft, steps=None, batch_size=32, lr=1e-3, eval_every=100,
                         steps_help=f"optimizer steps (default: --epochs passes over --train-file; "
                                    f"{SYNTHETIC_STEPS} on the synthetic data)")
    add_size_arguments(ft, hidden=128, layers=2, intermediate=512, max_length=32)
    ft.set_defaults(func=finetune)

    pt = sub.add_parser("pretrain", help="MLM + sentence-order pretraining from scratch on synthetic facts",
                        description="Pretrain a new AlbertForPreTraining with masked-language modelling (15%, "
                                    "80/10/10) and sentence-order prediction on generated documents about countries. "
                                    "tools/pretrain_tiny.py runs this with a freshly trained SentencePiece model to "
                                    "rebuild the bundled checkpoint.")
    pt.add_argument("--examples", type=at_least(1), default=20000, help="generated sentence pairs (default 20000)")
    pt.add_argument("--review-fraction", type=finite_float(0.0, 1.0000001, "a number in [0, 1]"), default=0.1,
                    help="share of pairs taken from reviews rather than facts (default 0.1)")
    pt.add_argument("--salient-masking", type=finite_float(0.0, 1.0000001, "a number in [0, 1]"), default=1.0,
                    help="chance that a pair also gets one entity name masked (REALM's salient-span masking; "
                         "0 gives plain BERT masking; default 1.0)")
    add_common_arguments(pt, steps=4000, batch_size=64, lr=5e-3, eval_every=500)
    add_size_arguments(pt, hidden=128, layers=2, intermediate=512, max_length=48)
    pt.set_defaults(func=pretrain)
    return parser


def parse_args(argv=None):
    return build_parser().parse_args(argv)


def main(argv=None) -> int:
    """The `albert-np-train` / `python -m albert_np.train` entry point."""
    args = parse_args(argv)   # bad argument values: argparse prints usage and `error: ...`, exit status 2
    try:
        check_sizes(args)
        args.func(args)
    except (TrainingDiverged, ValueError, OSError, ImportError, RuntimeError) as e:
        # A user's error (a path, a value, no GPU, divergence): one line, no traceback.
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted; the last checkpoint written (if any) is complete", file=sys.stderr)
        return 130
    return 0


def check_sizes(args):
    """The combinations argparse cannot check one argument at a time."""
    if args.hidden_size % args.heads:
        raise ValueError(f"--hidden-size {args.hidden_size} must be a multiple of --heads {args.heads}")
    if args.max_position_embeddings is not None and args.max_length > args.max_position_embeddings:
        raise ValueError(f"--max-length {args.max_length} exceeds --max-position-embeddings "
                         f"{args.max_position_embeddings}; raise the latter or lower the former")
    if args.out is not None:
        check_writable_folder(args.out, "--out")


if __name__ == "__main__":
    sys.exit(main())
