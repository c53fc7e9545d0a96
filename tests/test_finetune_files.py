"""`albert-np finetune --task T --train-file F`: each task end to end on small generated files, the logs a run
writes (metrics.jsonl as it goes, trainer_state.json in transformers' shape), the encodings against transformers'
example scripts, and one `error:` line for each user mistake."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

import albert_np as an
from albert_np import cli, finetuning, plotting, train

TINY = os.path.join(os.path.dirname(an.__file__), "data", "tiny-albert")
COUNTRIES = [("france", "paris", "europe"), ("japan", "tokyo", "asia"), ("egypt", "cairo", "africa"),
             ("italy", "rome", "europe"), ("brazil", "brasilia", "america"), ("kenya", "nairobi", "africa")]
FAST = ["--steps", "4", "--eval-every", "2", "--batch-size", "4", "--max-length", "32", "--quiet"]
TRAINER_STATE_KEYS = {"best_global_step", "best_metric", "best_model_checkpoint", "epoch", "eval_steps", "global_step",
                      "is_hyper_param_search", "is_local_process_zero", "is_world_process_zero", "log_history",
                      "logging_steps", "max_steps", "num_input_tokens_seen", "num_train_epochs", "save_steps",
                      "stateful_callbacks", "total_flos", "train_batch_size", "trial_name", "trial_params"}


def write_csv(path, header, rows):
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return str(path)


def reviews(n=24):
    return [(("i loved this film" if i % 2 else "i hated this film") + f" number {i}", "positive" if i % 2 else "negative")
            for i in range(n)]


def ner_records():
    return [{"tokens": ["the", "capital", "of", c, "is", cap], "ner_tags": ["O", "O", "O", "B-LOC", "O", "B-LOC"]}
            for c, cap, _ in COUNTRIES * 2]


def qa_records(padding=""):
    out = []
    for c, cap, continent in COUNTRIES * 2:
        context = f"{padding}{c} is a country in {continent}. its capital is {cap}."
        out.append({"question": f"what is the capital of {c}?", "context": context,
                    "answers": {"text": [cap], "answer_start": [context.index(cap)]}})
    out.append({"question": "who wrote it?", "context": "egypt is a country in africa.",
                "answers": {"text": [], "answer_start": []}})
    return out


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


# ---- each task end to end --------------------------------------------------------------------------------


def test_text_classification_from_csv_writes_model_logs_and_scores_like_evaluate(tmp_path, capsys):
    data = write_csv(tmp_path / "train.csv", ["sentence", "label"], reviews())
    out = tmp_path / "run"
    code, _, err = run(capsys, "finetune", "--task", "text-classification", "--train-file", data, "--validation-file",
                       data, "--text-column", "sentence", "--out", str(out), *FAST)
    assert code == 0, err
    assert {"config.json", "model.safetensors", "spiece.model", "metrics.jsonl", "trainer_state.json",
            "eval_results.json"} <= set(os.listdir(out))
    config = json.loads((out / "config.json").read_text())
    assert config["id2label"] == {"0": "negative", "1": "positive"} and config["label2id"] == {"negative": 0, "positive": 1}
    assert config["architectures"] == ["AlbertForSequenceClassification"]

    lines = read_jsonl(out / "metrics.jsonl")
    steps = [r for r in lines if "loss" in r]
    assert [r["step"] for r in steps] == [1, 2, 3, 4]
    assert all({"loss", "grad_norm", "learning_rate", "epoch", "step"} == set(r) for r in steps)
    evals = [r for r in lines if "eval_accuracy" in r]
    assert [r["step"] for r in evals] == [2, 4]
    assert {"eval_accuracy", "eval_f1", "eval_loss", "eval_runtime", "epoch", "step"} == set(evals[0])
    assert "train_runtime" in lines[-1] and lines[-1]["step"] == 4

    state = json.loads((out / "trainer_state.json").read_text())
    assert set(state) == TRAINER_STATE_KEYS
    assert state["log_history"] == lines and state["global_step"] == state["max_steps"] == 4
    assert state["epoch"] == round(4 / (24 // 4), 4)     # 6 batches of 4 per pass, 4 digits as transformers
    results = json.loads((out / "eval_results.json").read_text())
    assert results["eval_accuracy"] == evals[-1]["eval_accuracy"] and results["eval_samples"] == 24
    assert results["baseline_majority_accuracy"] == 0.5

    code, printed, err = run(capsys, "evaluate", str(out), "--task", "text-classification", "--file", data,
                             "--text-column", "sentence")
    assert code == 0, err
    assert json.loads(printed)["accuracy"] == pytest.approx(evals[-1]["eval_accuracy"])


def test_text_pairs_and_integer_labels_from_jsonl(tmp_path, capsys):
    records = [{"premise": t, "hypothesis": "it was good", "y": int(label == "positive")} for t, label in reviews(12)]
    data = write_jsonl(tmp_path / "pairs.jsonl", records)
    out = tmp_path / "run"
    code, _, err = run(capsys, "finetune", "--train-file", data, "--validation-file", data, "--text-column", "premise",
                       "--text-pair-column", "hypothesis", "--label-column", "y", "--out", str(out), *FAST)
    assert code == 0, err
    assert an.AlbertConfig.from_pretrained(out).id2label == {0: "LABEL_0", 1: "LABEL_1"}


def test_token_classification_from_jsonl(tmp_path, capsys):
    data = write_jsonl(tmp_path / "ner.jsonl", ner_records())
    out = tmp_path / "run"
    code, _, err = run(capsys, "finetune", "--task", "token-classification", "--train-file", data,
                       "--validation-file", data, "--out", str(out), *FAST)
    assert code == 0, err
    config = json.loads((out / "config.json").read_text())
    assert config["id2label"] == {"0": "B-LOC", "1": "O"} and config["architectures"] == ["AlbertForTokenClassification"]
    last_eval = [r for r in read_jsonl(out / "metrics.jsonl") if "eval_f1" in r][-1]
    assert {"eval_precision", "eval_recall", "eval_f1", "eval_accuracy", "eval_loss"} <= set(last_eval)


def test_question_answering_from_jsonl_with_windows(tmp_path, capsys):
    data = write_jsonl(tmp_path / "qa.jsonl", qa_records(padding="some words first. " * 3))
    out = tmp_path / "run"
    code, _, err = run(capsys, "finetune", "--task", "question-answering", "--train-file", data, "--validation-file",
                       data, "--doc-stride", "8", "--out", str(out), *FAST)
    assert code == 0, err
    assert json.loads((out / "config.json").read_text())["architectures"] == ["AlbertForQuestionAnswering"]
    last_eval = [r for r in read_jsonl(out / "metrics.jsonl") if "eval_exact_match" in r][-1]
    assert {"eval_exact_match", "eval_f1", "eval_loss"} <= set(last_eval)


def test_the_library_call_gives_the_history_and_the_baseline(tmp_path):
    data = write_csv(tmp_path / "train.csv", ["text", "label"], reviews())
    args = train.parse_args(["finetune", "--train-file", data, "--validation-file", data, "--epochs", "1", *FAST[2:]])
    result = train.finetune(args)
    assert result["history"].steps == 24 // 4 and args.steps == 6
    assert result["baseline"] == {"majority_label": "negative", "majority_accuracy": 0.5}
    assert set(result["metrics"]) == {"accuracy", "f1", "loss"}


# ---- the logs of train.train ------------------------------------------------------------------------------


def tiny_classifier():
    cfg = an.AlbertConfig(vocab_size=40, embedding_size=8, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                          intermediate_size=24, max_position_embeddings=16)
    return an.AlbertForSequenceClassification(cfg, seed=0)


def endless_batch():
    rng = np.random.default_rng(0)
    batch = {"input_ids": rng.integers(5, 40, size=(4, 6)), "attention_mask": np.ones((4, 6), dtype=np.int64),
             "labels": np.array([0, 1, 0, 1])}
    while True:
        yield batch


def test_metrics_jsonl_is_written_as_training_goes_and_a_rerun_keeps_the_old_log_beside_it(tmp_path):
    folder = tmp_path / "ckpt"
    seen = []

    def eval_fn(model):   # runs mid-training: the lines of the steps so far are on disk already
        seen.append([r["step"] for r in read_jsonl(folder / "metrics.jsonl")])
        return {"answer": 42.0}

    train.train(tiny_classifier(), endless_batch(), steps=4, eval_fn=eval_fn, eval_every=2, checkpoint_dir=folder,
                progress=False)
    assert seen == [[1, 2], [1, 2, 2, 3, 4]]
    first = read_jsonl(folder / "metrics.jsonl")
    assert [r["step"] for r in first] == [1, 2, 2, 3, 4, 4, 4]   # steps, evaluations, the closing record
    train.train(tiny_classifier(), endless_batch(), steps=4, eval_fn=eval_fn, eval_every=2, checkpoint_dir=folder,
                progress=False)
    again = read_jsonl(folder / "metrics.jsonl")
    assert [r["step"] for r in again] == [r["step"] for r in first]   # a new run starts a new log, never appends
    assert read_jsonl(folder / "metrics.jsonl.1") == first              # and the earlier run's log is kept
    assert [r["loss"] for r in again if "loss" in r] == [r["loss"] for r in first if "loss" in r]
    assert [r.get("eval_answer") for r in first if "eval_answer" in r] == [42.0, 42.0]
    assert all("epoch" not in r for r in first)   # an endless stream has no epochs


def test_trainer_state_is_transformers_trainer_state(tmp_path):
    pytest.importorskip("transformers")
    from transformers.trainer_callback import TrainerState

    train.train(tiny_classifier(), endless_batch(), steps=3, save_every=2, checkpoint_dir=tmp_path / "ckpt",
                progress=False, steps_per_epoch=2)
    theirs = TrainerState(max_steps=3)
    assert set(json.loads((tmp_path / "ckpt" / "trainer_state.json").read_text())) == set(dataclasses.asdict(theirs))
    state = TrainerState.load_from_json(str(tmp_path / "ckpt" / "trainer_state.json"))
    assert (state.global_step, state.max_steps, state.epoch, state.num_train_epochs, state.train_batch_size) == (3, 3, 1.5, 2, 4)
    assert [r["step"] for r in state.log_history if "loss" in r] == [1, 2, 3]


def test_plot_draws_a_finetuning_run(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    data = write_csv(tmp_path / "train.csv", ["text", "label"], reviews())
    out = tmp_path / "run"
    assert run(capsys, "finetune", "--train-file", data, "--validation-file", data, "--out", str(out), *FAST)[0] == 0
    records = plotting.read_log(out)
    assert any("eval_accuracy" in r for r in records)
    png = plotting.plot_run(out)
    assert open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


# ---- the data preparation matches transformers' example scripts -------------------------------------------


def test_qa_positions_match_run_qa_prepare_train_features():
    transformers = pytest.importorskip("transformers")
    theirs = transformers.AutoTokenizer.from_pretrained(TINY)
    mine = an.AutoTokenizer.from_pretrained(TINY)
    examples = finetuning.read_examples("question-answering", None, records=qa_records(padding="some words here. " * 5))
    arrays = finetuning.encode_question_answering(mine, examples, 32, 8)
    # run_qa.py's prepare_train_features, on transformers' tokenizer of the same folder
    enc = theirs([e.question for e in examples], [e.context for e in examples], truncation="only_second",
                 max_length=32, stride=8, return_overflowing_tokens=True, return_offsets_mapping=True,
                 padding="max_length")
    starts, ends = [], []
    for i, offsets in enumerate(enc["offset_mapping"]):
        input_ids, sequence_ids = enc["input_ids"][i], enc.sequence_ids(i)
        cls_index = input_ids.index(theirs.cls_token_id)
        example = examples[enc["overflow_to_sample_mapping"][i]]
        if not example.answers:
            starts.append(cls_index)
            ends.append(cls_index)
            continue
        start_char = example.answer_starts[0]
        end_char = start_char + len(example.answers[0])
        token_start = 0
        while sequence_ids[token_start] != 1:
            token_start += 1
        token_end = len(input_ids) - 1
        while sequence_ids[token_end] != 1:
            token_end -= 1
        if not (offsets[token_start][0] <= start_char and offsets[token_end][1] >= end_char):
            starts.append(cls_index)
            ends.append(cls_index)
        else:
            while token_start < len(offsets) and offsets[token_start][0] <= start_char:
                token_start += 1
            starts.append(token_start - 1)
            while offsets[token_end][1] >= end_char:
                token_end -= 1
            ends.append(token_end + 1)
    np.testing.assert_array_equal(arrays["input_ids"], enc["input_ids"])
    assert arrays["start_positions"].tolist() == starts and arrays["end_positions"].tolist() == ends
    assert sum(s != 0 for s in starts) >= len(examples) - 1          # every answered question has a window with it
    assert len(starts) > len(examples)                               # and the contexts did need several windows


def test_token_labels_match_run_ner_tokenize_and_align_labels():
    transformers = pytest.importorskip("transformers")
    theirs = transformers.AutoTokenizer.from_pretrained(TINY)
    mine = an.AutoTokenizer.from_pretrained(TINY)
    examples = finetuning.read_examples("token-classification", None, records=ner_records())
    _, label2id = finetuning.label_maps(finetuning.labels_of("token-classification", examples))
    arrays = finetuning.encode_token_classification(mine, examples, label2id, 24)
    enc = theirs([e.tokens for e in examples], is_split_into_words=True, truncation=True, max_length=24,
                 padding="max_length")
    expected = []
    for i, e in enumerate(examples):   # run_ner.py, label_all_tokens=False
        previous, row = None, []
        for word in enc.word_ids(i):
            row.append(-100 if word is None or word == previous else label2id[e.tags[word]])
            previous = word
        expected.append(row)
    np.testing.assert_array_equal(arrays["input_ids"], enc["input_ids"])
    np.testing.assert_array_equal(arrays["labels"], expected)


def test_label_maps_follow_the_scripts():
    assert finetuning.label_maps(["pos", "neg", "pos"]) == ({0: "neg", 1: "pos"}, {"neg": 0, "pos": 1})
    assert finetuning.label_maps([2, 0]) == ({0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"},
                                             {"LABEL_0": 0, "LABEL_1": 1, "LABEL_2": 2})


# ---- user errors: one line, no traceback --------------------------------------------------------------------


@pytest.fixture
def files(tmp_path):
    return {"csv": write_csv(tmp_path / "train.csv", ["text", "label"], reviews(8)),
            "other": write_csv(tmp_path / "other.csv", ["text", "label"], [("so so", "neutral"), ("bad", "negative")]),
            "one": write_csv(tmp_path / "one.csv", ["text", "label"], [("a", "x"), ("b", "x")]),
            "mixed": write_jsonl(tmp_path / "mixed.jsonl", [{"text": "a", "label": 1}, {"text": "b", "label": "pos"}]),
            "qa": write_jsonl(tmp_path / "qa.jsonl", [{"question": "q?", "context": "egypt is in africa.",
                                                      "answers": {"text": ["africa"], "answer_start": [3]}}]),
            "ner": write_jsonl(tmp_path / "ner.jsonl", [{"tokens": ["a", "b"], "ner_tags": ["O"]}])}


@pytest.mark.parametrize("argv, message", [
    (["--train-file", "/no/such.csv"], "error: no file at '/no/such.csv'"),
    (["--train-file", "{csv}", "--text-column", "sentence"], "error: .*has no column 'sentence'.*\\['label', 'text'\\]"),
    (["--train-file", "{csv}", "--label-column", "y"], "error: .*has no column 'y'"),
    (["--train-file", "{csv}", "--validation-file", "{other}"], "error: .*other.csv has the label 'neutral', which the training file does not have"),
    (["--train-file", "{one}"], "error: .*has only the label 'x'"),
    (["--train-file", "{mixed}"], "error: .*mixes label names and integer ids"),
    (["--task", "question-answering", "--train-file", "{qa}"], "error: .*row 1: the answer 'africa' is not at answer_start 3"),
    (["--task", "token-classification", "--train-file", "{ner}"], "error: .*row 1: 2 words in 'tokens' but 1 tags"),
    (["--task", "question-answering", "--train-file", "{qa}", "--doc-stride", "40", "--max-length", "32"], "error: --doc-stride 40 with --max-length 32"),
    (["--task", "token-classification"], "error: --task token-classification needs --train-file"),
    (["--validation-file", "{csv}"], "error: --validation-file needs --train-file"),
    (["--task", "summarization"], "error: argument --task: invalid choice: 'summarization'"),
    (["--train-file", "{csv}", "--max-length", "100"], "error: --max-length 100 exceeds the 64 positions"),
])
def test_user_errors_print_one_error_line(argv, message, files, capsys):
    import re

    if "{qa}" in argv and "--doc-stride" in argv:   # a fine answer_start, so that the stride is what fails
        with open(files["qa"], "w") as f:
            f.write(json.dumps({"question": "q?", "context": "egypt is in africa.",
                                "answers": {"text": ["africa"], "answer_start": [12]}}) + "\n")
    argv = [a.format(**files) for a in argv]
    try:
        code = cli.main(["finetune", *argv, "--steps", "1", "--quiet"])
    except SystemExit as e:   # argparse's errors (status 2), after its one line
        code = e.code
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert code in (1, 2) and len(lines) == 1 and "Traceback" not in err, err
    assert re.match(message, lines[0]), lines[0]


def test_python_dash_m_albert_np_finetune_shows_the_file_options():
    import subprocess

    done = subprocess.run([sys.executable, "-m", "albert_np", "finetune", "--help"], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(an.__file__))})
    assert done.returncode == 0
    for option in ("--train-file", "--validation-file", "--text-column", "--text-pair-column", "--label-column",
                   "--task", "--doc-stride", "--epochs"):
        assert option in done.stdout


# ---- the README's example on the standard library's text, for two steps ----------------------------------


def test_the_readme_stdlib_example_runs_for_two_steps(tmp_path):
    """The README's not-run block, with --epochs 5 replaced by --steps 2 (and --eval-every 2), run line by line
    in a temporary folder holding a copy of tools/, so the commands cannot drift from what works."""
    import re
    import shutil
    import subprocess

    from test_readme import code_blocks   # the README test's own reader of fenced blocks

    root = os.path.dirname(os.path.dirname(os.path.abspath(an.__file__)))
    blocks = [code for language, _, code in code_blocks(Path(root, "README.md"))
              if language == "bash" and "stdlib_topics.py" in code]
    assert len(blocks) == 1
    lines = [line for line in blocks[0].splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert len(lines) == 4 and "--epochs 5" in lines[1] and "--eval-every 90" in lines[1]
    lines[0] += " --vocab-size 500"
    lines[1] = lines[1].replace("--epochs 5", "--steps 2").replace("--eval-every 90", "--eval-every 2") + " --quiet"
    (tmp_path / "tools").mkdir()
    (tmp_path / "docs").mkdir()
    for name in ("stdlib_topics.py", "stdlib_corpus.py"):
        shutil.copy(os.path.join(root, "tools", name), tmp_path / "tools" / name)
    env = {**os.environ, "PYTHONPATH": root}
    outputs = []
    for line in lines:
        command = re.sub(r"^python ", f"{sys.executable} ", line)
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", command], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
        outputs.append(done.stdout)
    run_dir = tmp_path / "runs" / "stdlib-topics"
    header = (run_dir / "train.csv").read_text().splitlines()[0]
    assert header == "text,label" and len((run_dir / "validation.csv").read_text().splitlines()) > 100
    results = json.loads((run_dir / "model" / "eval_results.json").read_text())
    assert results["eval_samples"] > 100 and results["baseline_majority_label"] in (
        "asyncio", "email", "logging", "multiprocessing", "unittest", "xml", "http")
    assert json.loads(outputs[2])["accuracy"] == pytest.approx(results["eval_accuracy"])
    assert (tmp_path / "docs" / "finetune-stdlib-topics.png").read_bytes()[:4] == b"\x89PNG"


def test_evaluate_cuts_texts_longer_than_the_model(tmp_path, capsys):
    data = write_csv(tmp_path / "long.csv", ["text", "label"], [("word " * 300, "LABEL_0"), ("short", "LABEL_1")])
    code, printed, err = run(capsys, "evaluate", TINY, "--task", "text-classification", "--file", data)
    assert code == 0, err
    assert json.loads(printed)["examples"] == 2
    pipe = an.pipeline("text-classification", model=TINY)
    assert pipe("word " * 300, truncation=True, max_length=16) == pipe("word " * 50, truncation=True, max_length=16)
    with pytest.raises(ValueError, match="max_position_embeddings is 64"):   # transformers' default: no cutting
        pipe("word " * 300)
