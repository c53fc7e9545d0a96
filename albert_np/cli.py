"""The `albert-np` command (also `python -m albert_np`): pipelines, evaluation and training from a shell.

    albert-np fill-mask MODEL "The capital of [MASK] is Paris."     # one JSON line per input
    albert-np text-classification MODEL --file reviews.txt           # one text per line (or stdin)
    albert-np question-answering MODEL --question "..." --context "..."
    albert-np evaluate MODEL --task text-classification --file dev.csv --text-column sentence
    albert-np finetune --out runs/sentiment                          # = albert-np-train finetune ...

Every user error prints one line `error: ...` on stderr and exits with status 2 (1 for a diverged training).
CLI code lives only here; the library never imports it.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings

from . import datasets, evaluation, plotting, train
from .checkpoint import CheckpointError
from .pipelines import AGGREGATION_STRATEGIES, TASKS, pipeline

TRAIN_COMMANDS = ("train", "finetune", "pretrain")
EVALUATE = {  # task -> (reader of the file's records, evaluation)
    "text-classification": (datasets.classification_examples, evaluation.evaluate_classification),
    "token-classification": (datasets.token_classification_examples, evaluation.evaluate_token_classification),
    "question-answering": (datasets.question_answering_examples, evaluation.evaluate_question_answering),
}


class UserError(Exception):
    """A mistake in the command line or its files: printed as one `error:` line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UserError(f"{message} (see `{self.prog} --help`)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="albert-np", description="ALBERT in NumPy: pipelines, evaluation and training.",
                     epilog="training: albert-np finetune|pretrain [...] runs albert-np-train (see "
                            "`albert-np finetune --help`); albert-np train ... is albert-np-train ...")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser,
                                metavar="{" + ",".join([*TASKS, "evaluate", "plot", *TRAIN_COMMANDS]) + "}")
    for task in TASKS:
        p = sub.add_parser(task, help=f"run the {task} pipeline; JSON lines out",
                           description=f"Run the {task} pipeline on the texts given, or on each line of --file "
                                       "(or of stdin when neither is given); print one JSON result per input.")
        p.add_argument("model", help="model folder (written by save_pretrained)")
        add_model_options(p)
        if task == "question-answering":
            p.add_argument("--question", help="the question (with --context); else JSON lines {question, context}")
            p.add_argument("--context", help="the text to find the answer in")
            p.add_argument("--max-answer-len", type=int, default=15, help="longest answer in tokens (default 15)")
            p.add_argument("--handle-impossible-answer", action="store_true", help="allow the empty answer")
            p.add_argument("--max-seq-len", type=int, default=None, help="window length in tokens (default 384)")
            p.add_argument("--doc-stride", type=int, default=None, help="overlap of windows (default 128)")
        else:
            p.add_argument("texts", nargs="*", help="input texts (default: one per line of --file or stdin)")
        if task in ("fill-mask", "text-classification", "question-answering"):
            p.add_argument("--top-k", type=int, default=None, help="how many results per input")
        if task == "token-classification":
            p.add_argument("--aggregation-strategy", choices=AGGREGATION_STRATEGIES, default="none")
        p.add_argument("--file", help="read inputs from this file, one per line (JSON objects for question-answering "
                                      "and text pairs)")

    ev = sub.add_parser("evaluate", help="accuracy / F1 / exact match of a model on a CSV or JSONL file",
                        description="Evaluate MODEL on a CSV or JSON-lines file in the format of transformers' "
                                    "example scripts; prints one JSON line of metrics.")
    ev.add_argument("model", help="model folder (written by save_pretrained)")
    ev.add_argument("--file", required=True, help="a .csv or .jsonl file of labelled examples")
    ev.add_argument("--task", required=True, choices=sorted(EVALUATE))
    ev.add_argument("--text-column", default="text", help="text classification: the text (default: text)")
    ev.add_argument("--text-pair-column", default=None, help="text classification: the second text of a pair")
    ev.add_argument("--label-column", default=None,
                    help="the labels (default: label; ner_tags for token classification; answers for QA)")
    ev.add_argument("--tokens-column", default="tokens", help="token classification: the words (default: tokens)")
    ev.add_argument("--question-column", default="question")
    ev.add_argument("--context-column", default="context")
    add_model_options(ev)
    pl = sub.add_parser("plot", help="draw a run's training curves to a PNG (needs matplotlib)",
                        description="Plot loss, learning rate, gradient norm and eval metrics of a run folder "
                                    "(metrics.jsonl or trainer_state.json) to a PNG.")
    pl.add_argument("run_dir", help="the folder a training run wrote (its --out)")
    pl.add_argument("--out", default=None, help="PNG path (default: RUN_DIR/training_curves.png)")
    for name in TRAIN_COMMANDS:
        sub.add_parser(name, add_help=False, help=f"albert-np-train {name if name != 'train' else ''}...".strip())
    return parser


def add_model_options(p):
    p.add_argument("--tokenizer", default=None, help="tokenizer folder (default: the model folder)")
    p.add_argument("--batch-size", type=int, default=8, help="sequences per model call (default 8)")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    p.add_argument("--backend", default="numpy", help="numpy (default) or cupy")


def read_inputs(args, parse_json: bool) -> list:
    if getattr(args, "texts", None):
        return list(args.texts)
    if args.file:
        try:
            with open(args.file, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except OSError as e:
            raise UserError(f"cannot read --file {args.file!r}: {e.strerror}") from None
    else:
        lines = sys.stdin.read().splitlines()
    lines = [line for line in lines if line.strip()]
    if not lines:
        raise UserError("no input: give texts as arguments, --file FILE, or lines on stdin")
    if not parse_json:
        return lines
    items = []
    for number, line in enumerate(lines, 1):
        if line.lstrip().startswith("{"):
            try:
                items.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise UserError(f"input line {number} is not valid JSON ({e.msg})") from None
        else:
            items.append(line)
    return items


def run_task(args) -> int:
    pipe = pipeline(args.command, model=args.model, tokenizer=args.tokenizer, batch_size=args.batch_size,
                    dtype=args.dtype, backend=args.backend)
    kwargs = {}
    if getattr(args, "top_k", None) is not None:
        kwargs["top_k"] = args.top_k
    if args.command == "token-classification":
        kwargs["aggregation_strategy"] = args.aggregation_strategy
    if args.command == "question-answering":
        kwargs.update(max_answer_len=args.max_answer_len, handle_impossible_answer=args.handle_impossible_answer,
                      max_seq_len=args.max_seq_len, doc_stride=args.doc_stride)
        if (args.question is None) != (args.context is None):
            raise UserError("give both --question and --context, or neither (then JSON lines on --file or stdin)")
        if args.question is not None:
            items = [{"question": args.question, "context": args.context}]
        else:
            items = read_inputs(args, parse_json=True)
            if not all(isinstance(i, dict) for i in items):
                raise UserError('question-answering reads JSON lines {"question": ..., "context": ...}')
        results = pipe(items, **kwargs)
    else:
        items = read_inputs(args, parse_json=args.command == "text-classification")
        results = pipe(items, **kwargs)
    for result in results:
        print(json.dumps(result, ensure_ascii=False))
    return 0


def run_evaluate(args) -> int:
    read, evaluate = EVALUATE[args.task]
    records = datasets.read_records(args.file)
    label = args.label_column
    if args.task == "text-classification":
        examples = read(records, args.text_column, args.text_pair_column, label or "label", path=args.file)
    elif args.task == "token-classification":
        examples = read(records, args.tokens_column, label or "ner_tags", path=args.file)
    else:
        examples = read(records, args.question_column, args.context_column, label or "answers", path=args.file)
    pipe = pipeline(args.task, model=args.model, tokenizer=args.tokenizer, batch_size=args.batch_size,
                    dtype=args.dtype, backend=args.backend)
    print(json.dumps(evaluate(pipe, examples)))
    return 0


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    print(f"warning: {message}", file=sys.stderr)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in TRAIN_COMMANDS:
        return train.main(argv[1:] if argv[0] == "train" else argv)
    with warnings.catch_warnings():
        warnings.showwarning = _one_line_warning
        # a head loaded from a pretraining checkpoint leaves the other head's weights unused: expected, not news
        warnings.filterwarnings("ignore", message="Some weights of .* were not used")
        try:
            args = build_parser().parse_args(argv)
            if args.command == "plot":
                print(plotting.plot_run(args.run_dir, args.out))
                return 0
            return run_evaluate(args) if args.command == "evaluate" else run_task(args)
        except (UserError, ValueError, TypeError, OSError, KeyError, ImportError, CheckpointError) as e:
            message = e.args[0] if isinstance(e, KeyError) and e.args else e
            print(f"error: {message}", file=sys.stderr)
            return 2

if __name__ == "__main__":
    sys.exit(main())
