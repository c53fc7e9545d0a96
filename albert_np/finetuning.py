"""Fine-tune a head on the user's own CSV / JSON-lines file, as transformers' example scripts prepare the data.

    albert-np finetune --task text-classification --train-file train.csv --validation-file dev.csv --out runs/x

* text classification (run_glue / run_classification): label names become ids in sorted order (label2id and
  id2label go into config.json); integer labels are class ids, named LABEL_i;
* token classification (run_ner): the words are joined by spaces, the first piece of each word carries its tag,
  every other piece and the special tokens -100 (label_all_tokens=False);
* question answering (run_qa, `prepare_train_features`): the context is cut into windows of max_length tokens
  overlapping by doc_stride (truncation="only_second"); a window holding the first answer gets its first and last
  token as start/end positions (found from answer_start through the offset mapping), any other window (and a
  question without answers) points at [CLS] (position 0).

The validation file is scored with albert_np.evaluation (accuracy and macro F1, seqeval entity F1, SQuAD exact
match and F1) through the task's pipeline, as `albert-np evaluate` scores a saved model, plus the mean loss.
"""

from __future__ import annotations

import json
import math
import os
import warnings

import numpy as np

from . import datasets, evaluation, synthetic
from .fill_mask import bundled_model_dir
from .io_utils import atomic_write_text
from .modeling import AlbertForQuestionAnswering, AlbertForSequenceClassification, AlbertForTokenClassification
from .pipelines import pipeline
from .train import config_from_args, default_warmup, load_tokenizer, say, train

TASKS = {  # task -> (model class, metrics of albert_np.evaluation, the main metric printed)
    "text-classification": (AlbertForSequenceClassification, evaluation.evaluate_classification, "accuracy"),
    "token-classification": (AlbertForTokenClassification, evaluation.evaluate_token_classification, "f1"),
    "question-answering": (AlbertForQuestionAnswering, evaluation.evaluate_question_answering, "f1"),
}
EVAL_RESULTS_NAME = "eval_results.json"


# ---- reading and labels ----------------------------------------------------------------------------------


def read_examples(task: str, path, text_column="text", text_pair_column=None, label_column=None,
                  tokens_column="tokens", question_column="question", context_column="context",
                  records=None) -> list:
    """The examples of a .csv/.jsonl file (or of `records`, dicts of its rows) for `task`, with the columns
    transformers' scripts use by default."""
    records = datasets.read_records(path) if records is None else records
    where = "the records" if path is None else os.fspath(path)
    if task == "text-classification":
        return datasets.classification_examples(records, text_column, text_pair_column, label_column or "label",
                                                path=where)
    if task == "token-classification":
        return datasets.token_classification_examples(records, tokens_column, label_column or "ner_tags", path=where)
    if task == "question-answering":
        return datasets.question_answering_examples(records, question_column, context_column,
                                                    label_column or "answers", path=where)
    raise ValueError(f"unknown task {task!r}: fine-tuning knows {sorted(TASKS)}")


def labels_of(task: str, examples) -> list:
    if task == "text-classification":
        return [e.label for e in examples]
    return [tag for e in examples for tag in e.tags]


def label_maps(labels, path="the training file") -> tuple[dict, dict]:
    """(id2label, label2id) from a training file's labels: names in sorted order (run_glue / run_ner's
    get_label_list); integer labels are class ids 0..max, named LABEL_i as transformers names them."""
    ints = [isinstance(y, int) and not isinstance(y, bool) for y in labels]
    if all(ints):
        if min(labels) < 0:
            raise ValueError(f"{path} has the label id {min(labels)}: class ids start at 0")
        id2label = {i: f"LABEL_{i}" for i in range(max(labels) + 1)}
    elif any(ints):
        raise ValueError(f"{path} mixes label names and integer ids ({sorted(set(map(str, labels)))[:6]}): "
                         "use one or the other")
    else:
        id2label = dict(enumerate(sorted(set(map(str, labels)))))
    if len(id2label) < 2:
        raise ValueError(f"{path} has only the label {id2label[0]!r}: a classifier needs at least two classes")
    return id2label, {name: i for i, name in id2label.items()}


def label_id(label, label2id: dict, n: int, path) -> int:
    if isinstance(label, int) and not isinstance(label, bool):
        if not 0 <= label < n:
            raise ValueError(f"{path} has the label id {label}, but the training file has {n} classes (0..{n - 1})")
        return label
    if label not in label2id:
        raise ValueError(f"{path} has the label {label!r}, which the training file does not have "
                         f"(its labels: {sorted(label2id)})")
    return label2id[label]


# ---- encoding ----------------------------------------------------------------------------------------------


def _arrays(enc, names=("input_ids", "attention_mask")) -> dict:
    return {name: np.asarray(enc[name], dtype=np.int64) for name in names}


def encode_classification(tokenizer, examples, label2id, max_length: int, path="the file") -> dict:
    """Padded arrays and `labels`. No token_type_ids: the text-classification pipeline runs pairs as segment 0
    (transformers 5.24's ALBERT tokenizer returns none), and training must see what inference sees."""
    texts = [e.text for e in examples]
    pairs = [e.text_pair for e in examples] if examples and examples[0].text_pair is not None else None
    enc = tokenizer(texts, pairs, padding="max_length", truncation=True, max_length=max_length)
    arrays = _arrays(enc)
    arrays["labels"] = np.asarray([label_id(e.label, label2id, len(label2id), path) for e in examples], np.int64)
    return arrays


def encode_token_classification(tokenizer, examples, label2id, max_length: int, path="the file") -> dict:
    """Padded arrays and per-token `labels`: a word's tag on its first piece, -100 elsewhere (as run_ner)."""
    enc = tokenizer([" ".join(e.tokens) for e in examples], padding="max_length", truncation=True,
                    max_length=max_length, return_offsets_mapping=True)
    labels = np.full((len(examples), max_length), -100, dtype=np.int64)
    for row, e in enumerate(examples):
        starts = np.cumsum([0] + [len(w) + 1 for w in e.tokens[:-1]])
        tags = [label_id(t, label2id, len(label2id), path) for t in e.tags]
        seen = set()
        for j, (sequence, (begin, _)) in enumerate(zip(enc.sequence_ids(row), enc["offset_mapping"][row])):
            if sequence is None:
                continue
            word = int(np.searchsorted(starts, begin, side="right")) - 1
            if word not in seen:
                seen.add(word)
                labels[row, j] = tags[word]
    arrays = _arrays(enc)
    arrays["labels"] = labels
    return arrays


def answer_span(example, path="the file", row=0) -> tuple[int, int] | None:
    """(first, end) characters of the example's first answer in its context, or None without an answer."""
    if not example.answers:
        return None
    text = example.answers[0]
    start = example.answer_starts[0] if example.answer_starts else example.context.find(text)
    if not isinstance(start, int) or start < 0 or example.context[start:start + len(text)] != text:
        raise ValueError(f"{path} row {row + 1}: the answer {text!r:.40} is not at answer_start {start} of its "
                         "context; answer_start counts characters of the context from 0")
    return start, start + len(text)


def encode_question_answering(tokenizer, examples, max_length: int, doc_stride: int, path="the file") -> dict:
    """One row per window: input_ids, token_type_ids, attention_mask, start_positions, end_positions
    (run_qa's prepare_train_features; both 0, the [CLS] token, where the window lacks the answer)."""
    try:
        enc = tokenizer([e.question for e in examples], [e.context for e in examples], truncation="only_second",
                        max_length=max_length, stride=doc_stride, return_overflowing_tokens=True,
                        return_offsets_mapping=True, padding="max_length")
    except ValueError as e:
        raise ValueError(f"--doc-stride {doc_stride} with --max-length {max_length}: {e}") from None
    spans = [answer_span(e, path, i) for i, e in enumerate(examples)]
    starts, ends = [], []
    for row, sample in enumerate(enc["overflow_to_sample_mapping"]):
        offsets, sequence = enc["offset_mapping"][row], enc.sequence_ids(row)
        cls = enc["input_ids"][row].index(tokenizer.cls_token_id)
        context = [j for j, s in enumerate(sequence) if s == 1]
        span = spans[sample]
        if span is None or not context or not (offsets[context[0]][0] <= span[0] and offsets[context[-1]][1] >= span[1]):
            starts.append(cls)
            ends.append(cls)
            continue
        first = context[0]
        while first <= context[-1] and offsets[first][0] <= span[0]:
            first += 1
        last = context[-1]
        while last >= context[0] and offsets[last][1] >= span[1]:
            last -= 1
        starts.append(first - 1)
        ends.append(last + 1)
    arrays = _arrays(enc, ("input_ids", "token_type_ids", "attention_mask"))
    arrays["start_positions"] = np.asarray(starts, dtype=np.int64)
    arrays["end_positions"] = np.asarray(ends, dtype=np.int64)
    return arrays


def encode(task, tokenizer, examples, label2id, max_length, doc_stride, path) -> dict:
    if task == "text-classification":
        return encode_classification(tokenizer, examples, label2id, max_length, path)
    if task == "token-classification":
        return encode_token_classification(tokenizer, examples, label2id, max_length, path)
    return encode_question_answering(tokenizer, examples, max_length, doc_stride, path)


def mean_loss(model, arrays: dict, batch_size: int = 64) -> float:
    """The model's mean loss over `arrays` (a forward pass per batch, no tape when called inside no_grad)."""
    total, n = 0.0, 0
    for batch in synthetic.iterate_batches(arrays, batch_size, shuffle=False, forever=False):
        rows = len(batch["input_ids"])
        total += float(model(**batch, return_dict=True).loss) * rows
        n += rows
    return total / max(n, 1)


def majority_baseline(task, train_examples, eval_examples) -> dict:
    """What always answering the training file's most common label scores on the validation file."""
    if task == "question-answering":
        return {}
    counts = {}
    for y in labels_of(task, train_examples):
        counts[y] = counts.get(y, 0) + 1
    top = max(sorted(counts, key=str), key=counts.get)
    refs = labels_of(task, eval_examples)
    return {"majority_label": top, "majority_accuracy": float(np.mean([y == top for y in refs])) if refs else 0.0}


# ---- the recipe ----------------------------------------------------------------------------------------


def build_model(args, tokenizer, id2label, label2id):
    model_class = TASKS[args.task][0]
    labels = {} if args.task == "question-answering" else {"id2label": id2label, "label2id": label2id}
    if args.from_scratch:
        return model_class(config_from_args(args, tokenizer, **labels), dtype=args.dtype, backend=args.backend,
                           seed=args.seed)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Some weights of")   # the new head, the unused pretraining heads
        return model_class.from_pretrained(args.model or bundled_model_dir(), dtype=args.dtype, backend=args.backend,
                                           seed=args.seed, **labels)


def finetune_files(args) -> dict:
    """`albert-np finetune --task T --train-file F [--validation-file F]`: train the task's head on the file and
    score the validation file; returns the history, the last metrics, the majority baseline, model and tokenizer."""
    task = args.task
    columns = dict(text_column=args.text_column, text_pair_column=args.text_pair_column,
                   label_column=args.label_column, tokens_column=args.tokens_column,
                   question_column=args.question_column, context_column=args.context_column)
    train_examples = read_examples(task, args.train_file, **columns)
    eval_examples = read_examples(task, args.validation_file, **columns) if args.validation_file else None
    id2label, label2id = ({}, {}) if task == "question-answering" else label_maps(labels_of(task, train_examples),
                                                                                 args.train_file)
    tokenizer = load_tokenizer(args.tokenizer or args.model or bundled_model_dir())
    model = build_model(args, tokenizer, id2label, label2id)
    if args.max_length > model.config.max_position_embeddings:
        raise ValueError(f"--max-length {args.max_length} exceeds the {model.config.max_position_embeddings} "
                         f"positions of the model; pass --max-length {model.config.max_position_embeddings} or less")
    doc_stride = args.doc_stride if args.doc_stride is not None else min(128, args.max_length // 4)
    train_arrays = encode(task, tokenizer, train_examples, label2id, args.max_length, doc_stride, args.train_file)
    rows = len(train_arrays["input_ids"])
    full = int(np.sum(train_arrays["attention_mask"][:, -1]))
    batch_size = min(args.batch_size, rows)   # an endless stream yields only full batches
    steps_per_epoch = (rows // batch_size) / args.accum
    if args.steps is None:
        args.steps = max(1, math.ceil(args.epochs * steps_per_epoch))
    say(args, f"{task}: {len(train_examples)} training examples ({rows} rows of --max-length {args.max_length} "
              f"tokens, {full} of them full: cut or just fitting)" + (f", {len(id2label)} labels" if id2label else "")
              + f"; {args.steps} steps of {batch_size} x {args.accum} rows = "
                f"{args.steps / steps_per_epoch:.2g} epochs; {model.num_parameters():,} weights")

    eval_fn, baseline = None, {}
    if eval_examples is not None:
        eval_arrays = encode(task, tokenizer, eval_examples, label2id, args.max_length, doc_stride,
                             args.validation_file)
        pipe = pipeline(task, model=model, tokenizer=tokenizer, batch_size=64)
        score = TASKS[task][1]
        options = ({"max_seq_len": args.max_length, "doc_stride": doc_stride} if task == "question-answering" else
                   {"max_length": args.max_length} if task == "text-classification" else {})
        baseline = majority_baseline(task, train_examples, eval_examples)

        def eval_fn(m):
            metrics = {k: v for k, v in score(pipe, eval_examples, **options).items() if k != "examples"}
            return {**metrics, "loss": mean_loss(m, eval_arrays)}

    history = train(model, synthetic.iterate_batches(train_arrays, batch_size, seed=args.seed), steps=args.steps,
                    lr=args.lr, warmup=default_warmup(args), clip=args.clip, accum=args.accum,
                    weight_decay=args.weight_decay, eval_fn=eval_fn, eval_every=args.eval_every,
                    checkpoint_dir=args.out, save_every=args.save_every, tokenizer=tokenizer,
                    progress=not args.quiet, desc="finetune", steps_per_epoch=steps_per_epoch)
    metrics = history.evals[-1][1] if history.evals else {}
    if metrics and args.out:
        results = {f"eval_{k}": v for k, v in metrics.items()}
        results.update(eval_samples=len(eval_examples), epoch=round(args.steps / steps_per_epoch, 4),
                       **{f"baseline_{k}": v for k, v in baseline.items()})
        atomic_write_text(os.path.join(args.out, EVAL_RESULTS_NAME), json.dumps(results, indent=2) + "\n")
    main = TASKS[task][2]
    summary = f"trained {history.steps} steps in {history.seconds:.0f} s, final loss {history.losses[-1]:.4f}"
    if metrics:
        summary += f"; validation {main} {metrics[main]:.4f}" + "".join(
            f", {k} {v:.4f}" for k, v in metrics.items() if k != main)
        if baseline:
            summary += f" (majority label {baseline['majority_label']!r}: accuracy {baseline['majority_accuracy']:.4f})"
    say(args, summary + (f"; model in {args.out}" if args.out else ""))
    return {"history": history, "metrics": metrics, "baseline": baseline, "model": model, "tokenizer": tokenizer,
            "after": metrics}


__all__ = ["TASKS", "encode_classification", "encode_question_answering", "encode_token_classification",
           "finetune_files", "label_maps", "read_examples"]
