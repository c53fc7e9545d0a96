"""The bundled tiny ALBERT: it knows its facts, the demo prints them, and transformers reads the same checkpoint."""

from __future__ import annotations

import os

import numpy as np
import pytest

from albert_np import demo


@pytest.fixture(scope="module")
def bundled():
    return demo.load_model()


def test_bundled_checkpoint_ranks_france_first(bundled):
    model, tokenizer = bundled
    (candidates,) = demo.fill_mask(model, tokenizer, "The capital of [MASK] is Paris.")
    assert len(candidates) == 5
    assert candidates[0][0] == "france"
    assert candidates[0][1] > 0.5
    assert candidates[0][1] >= candidates[1][1] >= candidates[4][1]


@pytest.mark.parametrize("text, answer", [
    ("The capital of Japan is [MASK].", "tokyo"),
    ("Rome is the capital of [MASK].", "italy"),
    ("People in Brazil speak [MASK].", "portuguese"),
])
def test_bundled_checkpoint_knows_other_facts(bundled, text, answer):
    model, tokenizer = bundled
    assert demo.fill_mask(model, tokenizer, text, top_k=1)[0][0][0] == answer


def test_fill_mask_without_a_mask_says_how_to_write_one(bundled):
    with pytest.raises(ValueError, match=r"no \[MASK\]"):
        demo.fill_mask(*bundled, "The capital of France is Paris.")


def test_demo_main_prints_top5_with_probabilities(capsys):
    assert demo.main(["--text", "The capital of [MASK] is Paris.", "--top-k", "5"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "The capital of [MASK] is Paris."
    assert lines[1].split()[0] == "france"
    assert lines[1].count("%") == 5


def test_demo_main_runs_its_default_sentences(capsys):
    assert demo.main([]) == 0
    out = capsys.readouterr().out
    assert all(text in out for text in demo.DEMO_SENTENCES)


def test_bundled_checkpoint_is_small_and_complete():
    folder = demo.bundled_model_dir()
    files = set(os.listdir(folder))
    assert {"config.json", "model.safetensors", "spiece.model", "tokenizer_config.json"} <= files
    assert not [f for f in files if f.startswith(".")]   # no leftover temp folders from an interrupted save
    size = sum(os.path.getsize(os.path.join(folder, f)) for f in files)
    assert size < 5_000_000


def test_transformers_reads_the_bundled_checkpoint_the_same_way(bundled):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    model, tokenizer = bundled
    enc = tokenizer("The capital of [MASK] is Paris.", return_tensors="np")
    theirs = transformers.AlbertForMaskedLM.from_pretrained(demo.bundled_model_dir()).eval()
    with torch.no_grad():
        expected = theirs(input_ids=torch.tensor(enc["input_ids"]),
                          attention_mask=torch.tensor(enc["attention_mask"])).logits.numpy()
    mine = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits
    np.testing.assert_allclose(mine, expected, atol=1e-4)
    position = int(np.nonzero(enc["input_ids"][0] == tokenizer.mask_token_id)[0][0])
    assert tokenizer.convert_ids_to_tokens(int(expected[0, position].argmax())) == "\u2581france"


def test_transformers_fill_mask_pipeline_on_the_bundled_folder_ranks_france_first():
    pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    fill = transformers.pipeline("fill-mask", model=demo.bundled_model_dir())
    best = fill("The capital of [MASK] is Paris.")[0]
    assert best["token_str"] == "france" and best["score"] > 0.5


@pytest.mark.parametrize("argv, words", [
    (["--model", "/nonexistent/model"], "error: no config.json at '/nonexistent/model'"),
    (["--text", "no mask here"], "error: no [MASK] in 'no mask here'"),
])
def test_demo_user_errors_print_one_error_line(argv, words, capsys):
    assert demo.main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith(words) and "Traceback" not in err


def test_demo_top_k_below_one_is_an_argument_error(capsys):
    with pytest.raises(SystemExit):
        demo.main(["--top-k", "0"])
    assert "argument --top-k: must be at least 1, got 0" in capsys.readouterr().err
