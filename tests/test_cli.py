"""The albert-np command: pipelines as JSON lines, evaluation on user files, delegation to training, one-line errors."""

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

import albert_np as an
from albert_np import cli, evaluation, plotting

from test_pipelines import golden

pytestmark = pytest.mark.filterwarnings("ignore:Some weights of")
ROOT = Path(__file__).resolve().parent.parent
TINY = str(golden.TINY)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli-models")
    return {task: str(golden.build_model_folder(task, root / task)) for task in golden.HEADS}


def run(capsys, *argv, stdin=None, monkeypatch=None):
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def json_lines(out):
    return [json.loads(line) for line in out.splitlines()]


def test_fill_mask_prints_one_json_line_per_text(capsys):
    code, out, err = run(capsys, "fill-mask", TINY, "The capital of [MASK] is Paris.", "Rome is the capital of [MASK].",
                         "--top-k", "2")
    results = json_lines(out)
    assert code == 0 and err == "" and len(results) == 2
    assert [r["token_str"] for r in results[0]] == ["france", "japan"] and results[1][0]["token_str"] == "italy"


def test_text_classification_reads_stdin_lines_and_json_pairs(capsys, monkeypatch, folders):
    lines = 'the food was great\n\n{"text": "i hated it", "text_pair": "the room was fine"}\n'
    code, out, _ = run(capsys, "text-classification", folders["text-classification"], stdin=lines,
                       monkeypatch=monkeypatch)
    pipe = an.pipeline("text-classification", model=folders["text-classification"])
    expected = pipe(["the food was great", {"text": "i hated it", "text_pair": "the room was fine"}])
    assert code == 0 and golden.differences(json_lines(out), expected, rtol=1e-6) == []


def test_token_classification_reads_file(capsys, tmp_path, folders):
    file = tmp_path / "texts.txt"
    file.write_text("\n".join(golden.SENTENCES[:3]) + "\n")
    code, out, _ = run(capsys, "token-classification", folders["token-classification"], "--file", str(file),
                       "--aggregation-strategy", "simple")
    pipe = an.pipeline("token-classification", model=folders["token-classification"])
    assert code == 0
    assert golden.differences(json_lines(out), pipe(golden.SENTENCES[:3], aggregation_strategy="simple"), rtol=1e-6) == []


def test_question_answering_from_options_and_json_lines(capsys, monkeypatch, folders):
    folder = folders["question-answering"]
    code, out, _ = run(capsys, "question-answering", folder, "--question", "Where is Egypt?", "--context",
                       golden.CONTEXT, "--top-k", "2")
    (answers,) = json_lines(out)
    assert code == 0 and len(answers) == 2 and all(a["answer"] == golden.CONTEXT[a["start"]:a["end"]] for a in answers)
    line = json.dumps({"question": "Where is Egypt?", "context": golden.CONTEXT})
    code, out2, _ = run(capsys, "question-answering", folder, "--top-k", "2", stdin=line + "\n" + line,
                        monkeypatch=monkeypatch)
    assert code == 0 and golden.differences(json_lines(out2), [answers, answers], rtol=1e-5) == []


def test_feature_extraction_prints_hidden_states(capsys, folders):
    code, out, _ = run(capsys, "feature-extraction", folders["feature-extraction"], "hello world")
    (features,) = json_lines(out)
    assert code == 0 and len(features) == 1 and len(features[0][0]) == 128


def test_evaluate_classification_on_csv(capsys, tmp_path, folders):
    folder = folders["text-classification"]
    pipe = an.pipeline("text-classification", model=folder)
    predicted = [r["label"] for r in pipe(golden.SENTENCES)]
    gold = predicted[:3] + ["negative" if predicted[3] != "negative" else "positive"]  # 3 of 4 right
    csv = tmp_path / "dev.csv"
    csv.write_text("sentence,label\n" + "".join(f'"{t}",{g}\n' for t, g in zip(golden.SENTENCES, gold)))
    code, out, err = run(capsys, "evaluate", folder, "--task", "text-classification", "--file", str(csv),
                         "--text-column", "sentence")
    (metrics,) = json_lines(out)
    assert code == 0 and metrics["examples"] == 4 and metrics["accuracy"] == 0.75
    assert metrics["f1"] == pytest.approx(evaluation.macro_f1(predicted, gold))


def test_evaluate_token_classification_on_jsonl(capsys, tmp_path, folders):
    folder = folders["token-classification"]
    pipe = an.pipeline("token-classification", model=folder)
    words = [s.split() for s in golden.SENTENCES]
    predicted = [evaluation.predict_word_tags(pipe, w) for w in words]
    file = tmp_path / "ner.jsonl"
    file.write_text("".join(json.dumps({"tokens": w, "ner_tags": p}) + "\n" for w, p in zip(words, predicted)))
    code, out, _ = run(capsys, "evaluate", folder, "--task", "token-classification", "--file", str(file))
    (metrics,) = json_lines(out)
    assert code == 0 and metrics["accuracy"] == 1.0 and metrics["examples"] == 4
    assert sum(len(evaluation.entity_chunks(p)) for p in predicted) > 0 and metrics["f1"] == 1.0


def test_evaluate_question_answering_on_squad_jsonl(capsys, tmp_path, folders):
    folder = folders["question-answering"]
    pipe = an.pipeline("question-answering", model=folder)
    answer = pipe(question="Where is Egypt?", context=golden.CONTEXT)["answer"]
    rows = [{"question": "Where is Egypt?", "context": golden.CONTEXT, "answers": {"text": [answer], "answer_start": [0]}},
            {"question": "Where is Egypt?", "context": golden.CONTEXT, "answers": {"text": ["zzz"], "answer_start": [0]}}]
    file = tmp_path / "qa.jsonl"
    file.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, out, _ = run(capsys, "evaluate", folder, "--task", "question-answering", "--file", str(file))
    assert code == 0 and json_lines(out) == [{"examples": 2, "exact_match": 50.0, "f1": 50.0}]


@pytest.mark.parametrize("argv, message", [
    (["fill-mask", "/no/such/folder", "x [MASK]"], "error: no folder at '/no/such/folder'"),
    (["fill-mask", TINY, "no mask here"], r"error: No mask_token \(\[MASK\]\) found"),
    (["fill-mask", TINY, "[MASK]", "--top-k", "0"], "error: top_k must be a positive integer, got 0"),
    (["fill-mask", TINY, "--file", "/no/such/file.txt"], "error: cannot read --file '/no/such/file.txt'"),
    (["summarize", TINY], "error: argument .*invalid choice: 'summarize'"),
    (["question-answering", TINY, "--question", "q"], "error: give both --question and --context"),
    (["evaluate", TINY, "--task", "text-classification", "--file", "/no/such.csv"], "error: no file at '/no/such.csv'"),
    (["evaluate", TINY, "--task", "text-classification", "--file", "data.txt"], "error: .*'.txt'.*reads .csv and .jsonl"),
])
def test_user_errors_print_one_error_line(capsys, tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data.txt").write_text("x\n")
    code, out, err = run(capsys, *argv)
    errors = [line for line in err.splitlines() if not line.startswith("warning:")]
    assert code == 2 and out == "" and len(errors) == 1
    assert __import__("re").match(message, errors[0]), errors


def test_evaluate_names_missing_column_and_unknown_label(capsys, tmp_path, folders):
    csv = tmp_path / "dev.csv"
    csv.write_text("text,label\nhello,maybe\n")
    code, _, err = run(capsys, "evaluate", folders["text-classification"], "--task", "text-classification",
                       "--file", str(csv), "--text-column", "sentence")
    assert code == 2 and "no column 'sentence'" in err and "['label', 'text']" in err
    code, _, err = run(capsys, "evaluate", folders["text-classification"], "--task", "text-classification",
                       "--file", str(csv))
    assert code == 2 and "label 'maybe' is not a class of this model" in err


def test_training_commands_delegate_to_albert_np_train(monkeypatch):
    calls = []
    monkeypatch.setattr(cli.train, "main", lambda argv: calls.append(argv) or 0)
    assert cli.main(["finetune", "--steps", "3"]) == 0 and cli.main(["pretrain", "--help"]) == 0
    assert cli.main(["train", "finetune", "--out", "x"]) == 0
    assert calls == [["finetune", "--steps", "3"], ["pretrain", "--help"], ["finetune", "--out", "x"]]


def test_python_dash_m_albert_np_runs_the_command():
    proc = subprocess.run([sys.executable, "-m", "albert_np", "fill-mask", TINY, "Egypt is a country in [MASK].",
                           "--top-k", "1"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)[0]["token_str"] == "africa"


def test_entity_scores_match_seqeval_documented_example():
    truth = [["O", "O", "O", "B-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]]
    pred = [["O", "O", "B-MISC", "I-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]]
    scores = evaluation.entity_scores(pred, truth)
    assert (scores["precision"], scores["recall"], scores["f1"]) == (0.5, 0.5, 0.5)
    assert evaluation.entity_chunks(["I-PER", "I-LOC", "O", "B-PER", "B-PER"]) == {
        ("PER", 0, 0), ("LOC", 1, 1), ("PER", 3, 3), ("PER", 4, 4)}


def test_squad_scores_normalise_like_the_squad_script():
    scores = evaluation.squad_scores(["The Eiffel tower!", "paris", ""], [["eiffel tower"], ["in Paris city"], []])
    assert scores["exact_match"] == pytest.approx(200 / 3)
    assert scores["f1"] == pytest.approx(100 * (1 + 0.5 + 1) / 3)


def test_plot_draws_the_bundled_runs_trainer_state(capsys, tmp_path):
    state = json.loads((golden.TINY / "trainer_state.json").read_text())
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "trainer_state.json").write_text(json.dumps(state))
    records = plotting.read_log(run_dir)
    losses = [r for r in records if "loss" in r]
    assert len(losses) == state["steps"] == 4000 and losses[0] == {
        "step": 1, "loss": state["losses"][0], "grad_norm": state["grad_norms"][0], "learning_rate": state["lrs"][0]}
    assert [r["step"] for r in records if "loss" not in r] == [e["step"] for e in state["evals"]]
    code, out, err = run(capsys, "plot", str(run_dir), "--out", str(tmp_path / "curves.png"))
    assert code == 0 and out.strip() == str(tmp_path / "curves.png") and err == ""
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_reads_metrics_jsonl_before_log_history(tmp_path):
    lines = [{"step": 1, "loss": 2.0, "learning_rate": 1e-3, "grad_norm": 1.5}, {"step": 2, "eval_accuracy": 0.5}]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    (tmp_path / "trainer_state.json").write_text(json.dumps({"log_history": [{"step": 9, "loss": 9.0}]}))
    assert plotting.read_log(tmp_path) == lines
    (tmp_path / "metrics.jsonl").unlink()
    assert plotting.read_log(tmp_path) == [{"step": 9, "loss": 9.0}]
    assert plotting.plot_run(tmp_path) == str(tmp_path / "training_curves.png")


def test_plot_of_a_folder_without_a_log_is_one_error_line(capsys, tmp_path):
    code, out, err = run(capsys, "plot", str(tmp_path))
    assert code == 2 and out == "" and err.startswith("error: ") and err.count("\n") == 1
    assert "neither metrics.jsonl nor trainer_state.json" in err
