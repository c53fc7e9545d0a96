"""`python -m albert_np.pretrain_corpus`: corpus -> transformers-loadable model, metrics, stop and resume, user errors."""

import json
import subprocess
import sys

import numpy as np
import pytest

import albert_np as an
from albert_np import pretrain_corpus
from albert_np.checkpoint import read_safetensors

TINY = ["--vocab-size", "300", "--hidden-size", "32", "--embedding-size", "16", "--layers", "2", "--heads", "2",
        "--intermediate-size", "64", "--max-seq-length", "32", "--max-predictions-per-seq", "5",
        "--batch-size", "4", "--steps", "6", "--warmup", "2", "--eval-every", "2", "--save-every", "0",
        "--heldout-every", "5", "--eval-examples", "16", "--dupe-factor", "2", "--shuffle-buffer", "50",
        "--dropout", "0.1", "--quiet"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from pydoc_data.topics import topics

    docs = []
    for name in sorted(topics)[:25]:
        sentences = [" ".join(s.split()) for s in topics[name].replace("\n\n", ". ").split(". ")]
        docs.append("\n".join(s for s in sentences if len(s.split()) >= 3))
    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    path.write_text("\n\n".join(docs) + "\n", encoding="utf-8")
    return path


def weights(folder):
    return read_safetensors(folder / "model.safetensors")[0]


def metric_lines(folder):
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def finished(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "model"
    assert pretrain_corpus.main([str(corpus), "--out", str(out), *TINY, "--dtype", "float64"]) == 0
    return out


def test_run_writes_model_tokenizer_metrics_and_checkpoint(finished):
    names = {p.name for p in finished.iterdir()}
    assert {"config.json", "model.safetensors", "spiece.model", "tokenizer_config.json", "metrics.jsonl",
            "checkpoint"} <= names
    lines = metric_lines(finished)
    assert [r["step"] for r in lines] == [2, 4, 6]
    for r in lines:
        assert {"step", "loss", "lr", "mlm_accuracy", "sop_accuracy"} <= set(r)
        assert 0 <= r["mlm_accuracy"] <= 1 and 0 <= r["sop_accuracy"] <= 1 and np.isfinite(r["loss"])
    # step s updates at google's global_step s - 1: warmup (s - 1) / 2 for s <= 2, then 1 - (s - 1) / 6
    assert lines[0]["lr"] == pytest.approx(2e-3 * 0.5)
    assert lines[1]["lr"] == pytest.approx(2e-3 * (1 - 3 / 6))
    assert lines[-1]["lr"] == pytest.approx(2e-3 * (1 - 5 / 6))


def test_saved_model_gives_transformers_the_same_logits(finished):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    tok = an.AlbertTokenizer.from_pretrained(finished)
    theirs_tok = transformers.AlbertTokenizer.from_pretrained(str(finished))
    a, b = ["The assert statement."], ["It raises an error."]
    enc = tok(a, b, return_tensors="np", return_token_type_ids=True)
    assert enc["input_ids"].tolist() == theirs_tok(a, b, return_token_type_ids=True)["input_ids"]
    ours = an.AlbertForPreTraining.from_pretrained(finished, dtype="float64")
    out = ours(input_ids=enc["input_ids"], token_type_ids=enc["token_type_ids"], attention_mask=enc["attention_mask"])
    model = transformers.AlbertForPreTraining.from_pretrained(str(finished), dtype=torch.float64).eval()
    with torch.no_grad():
        ref = model(**{k: torch.tensor(v) for k, v in enc.items()})
    np.testing.assert_allclose(out.prediction_logits, ref.prediction_logits.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(out.sop_logits, ref.sop_logits.numpy(), rtol=1e-10, atol=1e-12)


def test_stopped_and_resumed_run_ends_with_the_uninterrupted_weights(corpus, tmp_path):
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    assert pretrain_corpus.main([str(corpus), "--out", str(straight), *TINY]) == 0
    for _ in range(3):   # 2 + 2 + 2 steps, each session a fresh model, optimizer, stream and dropout generator
        assert pretrain_corpus.main([str(corpus), "--out", str(stopped), *TINY, "--stop-after", "2"]) == 0
    state = json.loads((stopped / "checkpoint" / "pretrain_state.json").read_text())
    assert state["step"] == 6 and state["examples_used"] == 24
    a, b = weights(straight), weights(stopped)
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    strip = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]  # noqa: E731
    assert strip(metric_lines(straight)) == strip(metric_lines(stopped))


def test_resuming_without_the_dropout_state_would_differ(corpus, tmp_path):
    """The resume test above can fail: restarting the dropout generator from the seed changes the weights."""
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    assert pretrain_corpus.main([str(corpus), "--out", str(straight), *TINY]) == 0
    assert pretrain_corpus.main([str(corpus), "--out", str(stopped), *TINY, "--stop-after", "3"]) == 0
    path = stopped / "checkpoint" / "pretrain_state.json"
    state = json.loads(path.read_text())
    state["dropout_rng"] = np.random.default_rng(0).bit_generator.state
    path.write_text(json.dumps(state))
    assert pretrain_corpus.main([str(corpus), "--out", str(stopped), *TINY]) == 0
    a, b = weights(straight), weights(stopped)
    assert any(not np.array_equal(a[k], b[k]) for k in a)


def test_missing_corpus_prints_one_error_line_and_writes_nothing(tmp_path, capsys):
    rc = pretrain_corpus.main([str(tmp_path / "nope.txt"), "--out", str(tmp_path / "m"), *TINY])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and len(err) == 1 and err[0].startswith("error: corpus ")
    assert "nope.txt" in err[0] and "is not a file" in err[0] and "one sentence per line" in err[0]
    assert list(tmp_path.iterdir()) == []


def test_changed_steps_on_resume_name_the_setting(corpus, finished, capsys):
    before = {p: p.read_bytes() for p in finished.rglob("*") if p.is_file()}
    more = ["8" if a == "6" else a for a in TINY]
    rc = pretrain_corpus.main([str(corpus), "--out", str(finished), *more, "--dtype", "float64"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and len(err) == 1
    assert err[0].startswith("error: ") and "steps: 6 -> 8" in err[0] and "new --out" in err[0]
    assert {p: p.read_bytes() for p in finished.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize("flag, value, words", [
    ("--steps", "0", "--steps 0 is invalid: pass 1 or more"),
    ("--masked-lm-prob", "1.5", "masked_lm_prob=1.5 is invalid"),
    ("--heads", "3", "--hidden-size 32 is not a multiple of --heads 3"),
])
def test_bad_settings_print_one_error_line(corpus, tmp_path, capsys, flag, value, words):
    rc = pretrain_corpus.main([str(corpus), "--out", str(tmp_path / "m"), *TINY, flag, value])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and err == [err[0]] and err[0].startswith("error: ") and words in err[0]
    assert not (tmp_path / "m").exists()


def test_runs_as_a_module_from_the_command_line(corpus, tmp_path):
    out = tmp_path / "m"
    proc = subprocess.run([sys.executable, "-m", "albert_np.pretrain_corpus", str(corpus), "--out", str(out),
                           *TINY, "--steps", "2"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (out / "model.safetensors").exists()


def test_the_code_blocks_of_docs_pretraining_md_run(tmp_path):
    """docs/pretraining.md's commands (the real run stopped after its first step) and its Python example."""
    pytest.importorskip("matplotlib")
    import os
    import re
    import shlex
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    text = (root / "docs" / "pretraining.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```(\w+)\n(.*?)```", text, flags=re.S)
    kinds = [kind for kind, _ in blocks]
    assert kinds.count("bash") == 1 and kinds.count("python") == 1, kinds
    env = {**os.environ, "PYTHONPATH": str(root) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    for kind, body in blocks:
        if kind == "bash":
            for line in body.strip().splitlines():
                if line.startswith("#"):
                    continue
                argv = shlex.split(line)
                assert argv[0] == "python"
                argv[0] = sys.executable
                argv = [str(root / a) if a.startswith("tools/") else a for a in argv]
                if "albert_np.pretrain_corpus" in argv:
                    argv += ["--stop-after", "1", "--eval-every", "1", "--quiet"]
                proc = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
                assert proc.returncode == 0, (line, proc.stderr[-2000:])
            assert (tmp_path / "runs" / "stdlib-albert" / "curves.png").stat().st_size > 10_000
        elif kind == "python":
            proc = subprocess.run([sys.executable, "-c", body], cwd=tmp_path, env=env, capture_output=True,
                                  text=True, timeout=600)
            assert proc.returncode == 0, proc.stderr[-2000:]
            assert re.fullmatch(r"loss \d+\.\d\d\n", proc.stdout)
