"""The training loop: it learns, accumulation is exact, divergence stops it, checkpoints are atomic and loadable."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import albert_np as an
from albert_np import synthetic, train
from albert_np.demo import bundled_model_dir

TINY_MODEL = ["--embedding-size", "32", "--hidden-size", "64", "--layers", "2", "--heads", "2",
              "--intermediate-size", "128", "--max-length", "24"]


def tiny_classifier(dtype="float32", seed=0):
    cfg = an.AlbertConfig(vocab_size=40, embedding_size=8, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                          intermediate_size=24, max_position_embeddings=16, classifier_dropout_prob=0.0)
    return an.AlbertForSequenceClassification(cfg, dtype=dtype, seed=seed)


def random_batch(n=8, seq=10, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, 40, size=(n, seq))
    mask = np.ones((n, seq), dtype=np.int64)
    mask[::3, -3:] = 0
    return {"input_ids": np.where(mask == 1, ids, 0), "attention_mask": mask,
            "token_type_ids": np.zeros((n, seq), dtype=np.int64), "labels": rng.integers(0, 2, size=n)}


def half(batch, part):
    n = len(batch["labels"]) // 2
    return {k: v[part * n:(part + 1) * n] for k, v in batch.items()}


def endless(batch):
    while True:
        yield batch


# ---- the fine-tuning recipe learns ------------------------------------------------------------------------


def test_finetune_loss_falls_and_accuracy_beats_chance():
    args = train.parse_args(["finetune", "--from-scratch", "--quiet", "--steps", "300", "--batch-size", "32",
                             "--lr", "1e-3", "--warmup", "20", "--train-size", "3200", "--eval-size", "300",
                             "--eval-every", "0", *TINY_MODEL])
    result = train.finetune(args)
    losses = result["history"].losses
    assert result["history"].steps == 300
    assert result["before"]["accuracy"] == pytest.approx(0.5, abs=0.1)   # chance: the labels are balanced
    assert np.mean(losses[-20:]) < np.mean(losses[:20]) - 0.2
    assert result["after"]["accuracy"] >= 0.7
    assert result["after"]["loss"] < result["before"]["loss"]


# ---- one step: gradient accumulation ---------------------------------------------------------------------


def test_accumulating_two_half_batches_gives_the_full_batch_gradient():
    model = tiny_classifier(dtype="float64")
    batch = random_batch()
    full_loss, full = train.accumulate_gradients(model, [batch])
    accum_loss, accum = train.accumulate_gradients(model, [half(batch, 0), half(batch, 1)])
    assert accum_loss == pytest.approx(full_loss, rel=1e-12)
    assert set(accum) == set(full)
    for name in full:
        np.testing.assert_allclose(accum[name], full[name], rtol=1e-9, atol=1e-13, err_msg=name)


def test_training_and_evaluation_work_when_the_config_says_return_dict_false():
    # A config.json written with "return_dict": false makes plain forwards return tuples; the training loop
    # and its metrics ask for the output record themselves, so they are not broken by it.
    model = tiny_classifier(dtype="float64")
    batch = random_batch()
    expected_loss, expected = train.accumulate_gradients(model, [batch])
    model.config.return_dict = False
    assert isinstance(model(**batch), tuple)
    loss, grads = train.accumulate_gradients(model, [batch])
    assert loss == expected_loss and set(grads) == set(expected)
    assert train.classification_metrics(model, batch, batch_size=4)["loss"] == pytest.approx(expected_loss, rel=1e-12)


def test_capital_recall_works_when_the_config_says_return_dict_false():
    model = an.AlbertForMaskedLM.from_pretrained(bundled_model_dir())
    tok = train.load_tokenizer(bundled_model_dir())
    expected = train.capital_recall(model, tok)
    model.config.return_dict = False
    assert train.capital_recall(model, tok) == expected > 0.5


def test_accum_two_takes_the_same_step_as_one_full_batch():
    batch = random_batch()
    one, two = tiny_classifier("float64"), tiny_classifier("float64")
    train.train(one, endless(batch), steps=3, lr=1e-2, warmup=0, progress=False)
    halves = iter([half(batch, 0), half(batch, 1)] * 3)
    train.train(two, halves, steps=3, lr=1e-2, warmup=0, accum=2, progress=False)
    for name in one.params:
        np.testing.assert_allclose(two.params[name], one.params[name], rtol=1e-8, atol=1e-12, err_msg=name)


# ---- schedule, clipping and history ----------------------------------------------------------------------


def test_learning_rate_warms_up_then_decays_linearly():
    history = train.train(tiny_classifier(), endless(random_batch()), steps=10, lr=1e-3, warmup=4, progress=False)
    expected = [1e-3 * an.linear_schedule(step, 4, 10) for step in range(1, 11)]
    np.testing.assert_allclose(history.lrs, expected)
    assert history.lrs[3] == pytest.approx(1e-3) and history.lrs[-1] == 0.0


def test_reported_grad_norm_is_before_clipping_and_eval_runs_without_dropout():
    model = tiny_classifier()
    modes = []

    def eval_fn(m):
        modes.append((m.training, m.requires_grad))
        return {"answer": 42}

    history = train.train(model, endless(random_batch()), steps=4, lr=1e-3, clip=1e-6, eval_fn=eval_fn, eval_every=2,
                          progress=False)
    assert min(history.grad_norms) > 1e-3          # far above the clip threshold: logged before clipping
    assert [step for step, _ in history.evals] == [2, 4]
    assert history.evals[0][1] == {"answer": 42.0}
    assert modes == [(False, False), (False, False)]
    assert model.requires_grad  # restored after evaluation


# ---- divergence ------------------------------------------------------------------------------------------


def test_nan_loss_stops_training_naming_the_step_and_keeps_the_weights():
    model = tiny_classifier()
    batch = random_batch()
    snapshot = {}

    def poisoned():
        for step in range(1, 100):
            if step == 3:  # a weight turns NaN just before step 3's forward
                snapshot.update({k: np.array(v) for k, v in model.params.items()})
                model.params["classifier.bias"][:] = np.nan
            yield batch

    with pytest.raises(train.TrainingDiverged, match=r"at step 3: the loss is nan") as err:
        train.train(model, poisoned(), steps=10, lr=1e-3, progress=False)
    assert "lower the learning rate" in str(err.value)
    assert "not updated" in str(err.value)
    for name, before in snapshot.items():
        if name != "classifier.bias":
            np.testing.assert_array_equal(model.params[name], before, err_msg=name)


def test_infinite_gradient_norm_message_suggests_clipping():
    with pytest.raises(train.TrainingDiverged, match="at step 7: the gradient norm is inf") as err:
        train.check_finite(float("inf"), "gradient norm", step=7, lr=5e-3, clip=None)
    assert "5e-03" in str(err.value) or "0.005" in str(err.value)
    assert "--clip 1.0" in str(err.value)


def test_running_out_of_batches_is_a_clear_error():
    with pytest.raises(ValueError, match="ran out at step 3"):
        train.train(tiny_classifier(), iter([random_batch()] * 2), steps=5, progress=False)


# ---- checkpoints -----------------------------------------------------------------------------------------


def test_failed_save_leaves_no_partial_checkpoint(tmp_path, monkeypatch):
    model = tiny_classifier()
    target = tmp_path / "ckpt"

    def crash_midway(folder):
        an.AlbertForSequenceClassification.write_pretrained_files(model, folder)   # the files are written...
        raise OSError("disk full")                                                   # ...then the save fails

    monkeypatch.setattr(model, "write_pretrained_files", crash_midway)
    with pytest.raises(OSError, match="disk full"):
        train.save_checkpoint(model, target)
    assert os.listdir(tmp_path) == []   # neither the checkpoint nor a temp folder


def test_failed_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    model = tiny_classifier()
    target = tmp_path / "ckpt"
    train.save_checkpoint(model, target, state={"step": 1})
    before = {name: (target / name).read_bytes() for name in os.listdir(target)}
    monkeypatch.setattr(model, "write_pretrained_files", lambda folder: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        train.save_checkpoint(model, target, state={"step": 2})
    assert {name: (target / name).read_bytes() for name in os.listdir(target)} == before
    assert os.listdir(tmp_path) == ["ckpt"]


def test_training_writes_a_checkpoint_transformers_loads(tmp_path):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    model = tiny_classifier()
    batch = random_batch()
    train.train(model, endless(batch), steps=3, lr=1e-2, checkpoint_dir=tmp_path / "ckpt", save_every=2,
                progress=False)
    assert {"config.json", "model.safetensors", "trainer_state.json", "metrics.jsonl"} <= set(os.listdir(tmp_path / "ckpt"))
    state = json.loads((tmp_path / "ckpt" / "trainer_state.json").read_text())   # transformers' TrainerState shape
    assert state["global_step"] == state["max_steps"] == 3 and [r["step"] for r in state["log_history"]] == [1, 2, 3, 3]

    theirs = transformers.AlbertForSequenceClassification.from_pretrained(tmp_path / "ckpt").eval()
    with torch.no_grad():
        expected = theirs(input_ids=torch.tensor(batch["input_ids"]),
                          attention_mask=torch.tensor(batch["attention_mask"])).logits.numpy()
    mine = an.AlbertForSequenceClassification.from_pretrained(tmp_path / "ckpt")
    np.testing.assert_allclose(mine(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits,
                               expected, atol=1e-5)


def test_finetune_cli_writes_model_and_tokenizer(tmp_path, capsys):
    out = tmp_path / "run"
    code = train.main(["finetune", "--from-scratch", "--steps", "2", "--batch-size", "8", "--train-size", "32",
                       "--eval-size", "16", "--out", str(out), "--quiet", *TINY_MODEL])
    assert code == 0
    assert {"config.json", "model.safetensors", "spiece.model", "tokenizer_config.json"} <= set(os.listdir(out))
    config = json.loads((out / "config.json").read_text())
    assert config["architectures"] == ["AlbertForSequenceClassification"]
    assert config["id2label"] == {"0": "negative", "1": "positive"}


def test_cli_help_lists_both_recipes(capsys):
    with pytest.raises(SystemExit) as exit_info:
        train.main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "finetune" in text and "pretrain" in text


# ---- the generated data ----------------------------------------------------------------------------------


def test_sentiment_data_is_deterministic_balanced_and_needs_word_order():
    texts, labels = synthetic.make_sentiment_dataset(400, seed=3)
    again_texts, again_labels = synthetic.make_sentiment_dataset(400, seed=3)
    assert again_texts == texts and np.array_equal(again_labels, labels)
    assert synthetic.make_sentiment_dataset(400, seed=4)[0] != texts
    assert labels.sum() == 200
    negated_positive = [t for t, y in zip(texts, labels) if y == 1 and (" not " in t or " never " in t)]
    assert len(negated_positive) > 40   # many positives contain a negation, so "not" alone is no clue


def test_pretraining_pairs_come_in_order_or_swapped():
    a, b, order = synthetic.make_pretraining_pairs(300, seed=0, review_fraction=0.0)
    assert set(order.tolist()) == {0, 1} and 100 < order.sum() < 200
    intro_first = [x for x, y in zip(a, b) if " is a country in " in x and "capital" in y]
    assert all(o == 0 for x, y, o in zip(a, b, order) if x in intro_first)
    assert all(any(country in text for text in a + b) for country, *_ in synthetic.COUNTRIES)


def test_mlm_masking_follows_bert_proportions_and_spares_special_tokens():
    rng = np.random.default_rng(0)
    ids = rng.integers(10, 100, size=(400, 50))
    ids[:, 0], ids[:, -1] = 2, 3
    special = np.isin(ids, [0, 1, 2, 3, 4])
    masked, labels = synthetic.mask_tokens(ids, special, mask_token_id=4, vocab_size=100,
                                           rng=np.random.default_rng(1), first_random_id=5)
    target = labels != -100
    assert not target[special].any()
    assert target.any(axis=1).all()
    assert np.array_equal(labels[target], ids[target])
    assert 0.14 < target.mean() < 0.16
    became_mask = (masked == 4) & target
    unchanged = (masked == ids) & target
    assert 0.77 < became_mask.sum() / target.sum() < 0.83
    assert 0.08 < unchanged.sum() / target.sum() < 0.12   # 10% kept (+ the rare random draw of the same id)
    assert np.array_equal(masked[~target], ids[~target])
    again, _ = synthetic.mask_tokens(ids, special, 4, 100, np.random.default_rng(1), first_random_id=5)
    assert np.array_equal(again, masked)


def test_batches_trim_padding_and_cover_every_row_once_per_pass():
    arrays = {"input_ids": np.arange(40).reshape(10, 4), "attention_mask": np.array([[1, 1, 0, 0]] * 10),
              "labels": np.arange(10)}
    batches = list(synthetic.iterate_batches(arrays, 4, seed=0, forever=False))
    assert [len(b["labels"]) for b in batches] == [4, 4, 2]
    assert sorted(np.concatenate([b["labels"] for b in batches]).tolist()) == list(range(10))
    assert all(b["input_ids"].shape[1] == 2 for b in batches)


def test_bundled_tokenizer_keeps_every_country_whole():
    tokenizer = train.load_tokenizer(bundled_model_dir())
    for country, capital, continent, language in synthetic.COUNTRIES:
        for word in (country, capital, language):
            assert len(tokenizer.tokenize(word)) == 1, word


# ---- no NaN/inf ever reaches the weights --------------------------------------------------------------


def snapshot_weights(model):
    return {name: np.array(w) for name, w in model.parameters().items()}


def test_a_nan_learning_rate_is_refused_before_anything_runs_or_is_saved(tmp_path):
    model = tiny_classifier()
    before = snapshot_weights(model)
    with pytest.raises(ValueError, match=r"Invalid AdamW lr: nan"):
        train.train(model, endless(random_batch()), steps=1, lr=float("nan"), checkpoint_dir=tmp_path / "ckpt",
                    progress=False)
    assert os.listdir(tmp_path) == []
    for name, w in model.parameters().items():
        np.testing.assert_array_equal(w, before[name])


def test_an_update_that_would_be_nan_changes_no_weight_moment_or_step_count():
    model = tiny_classifier()
    optimizer = an.AdamW(model.parameters(), lr=1e-2)
    model(**random_batch())
    good = model.backward()
    optimizer.step(good)
    weights, moments = snapshot_weights(model), {k: np.array(v) for k, v in optimizer.m.items()}
    bad = {name: g.copy() for name, g in good.items()}
    bad["classifier.weight"][0, 0] = np.inf     # next to last: the weights before it were computed already
    with pytest.raises(an.TrainingDiverged, match=r"AdamW step 2 would make the weight of 'classifier.weight' NaN"):
        optimizer.step(bad)
    assert optimizer.t == 1
    for name, w in model.parameters().items():
        np.testing.assert_array_equal(w, weights[name])
        np.testing.assert_array_equal(optimizer.m[name], moments[name])
    optimizer.step(good)   # and it goes on from where it was
    assert optimizer.t == 2


def test_divergence_inside_the_optimizer_names_the_training_step_and_keeps_the_weights():
    model = tiny_classifier()
    before = snapshot_weights(model)
    with pytest.raises(an.TrainingDiverged, match=r"^training diverged at step 1: AdamW step 1 .*NOT updated"):
        train.train(model, endless(random_batch()), steps=2, lr=1e308, weight_decay=0.0, clip=None, progress=False)
    for name, w in model.parameters().items():
        np.testing.assert_array_equal(w, before[name])


def test_training_diverged_is_importable_from_the_package_optim_and_train():
    from albert_np.optim import TrainingDiverged
    assert an.TrainingDiverged is TrainingDiverged is train.TrainingDiverged
    assert issubclass(TrainingDiverged, FloatingPointError)


# ---- the package and its command lines -----------------------------------------------------------------


def run_python(*args):
    import subprocess
    import sys
    env = {**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(os.path.abspath(an.__file__)))}
    return subprocess.run([sys.executable, "-W", "default", *args], capture_output=True, text=True, env=env, timeout=120)


def test_importing_the_package_loads_no_command_line_module():
    done = run_python("-c", "import sys, albert_np; print(sorted(m for m in sys.modules if m.startswith('albert_np')))")
    loaded = done.stdout.strip()
    assert "albert_np.train" not in loaded and "albert_np.demo" not in loaded and "albert_np.modeling" in loaded


def test_running_the_train_module_prints_no_runpy_warning():
    done = run_python("-m", "albert_np.train", "--help")
    assert done.returncode == 0 and "albert-np-train" in done.stdout
    assert "RuntimeWarning" not in done.stderr, done.stderr


@pytest.mark.parametrize("argv, words", [
    (["finetune", "--max-length", "1"], "argument --max-length: must be at least 5, got 1"),
    (["finetune", "--steps", "0"], "argument --steps: must be at least 1, got 0"),
    (["finetune", "--lr", "nan"], "argument --lr: must be a finite number >= 0, got nan"),
    (["finetune", "--batch-size", "many"], "argument --batch-size: 'many' is not an integer"),
    (["pretrain", "--review-fraction", "2"], "argument --review-fraction: must be a number in [0, 1], got 2"),
])
def test_cli_bad_argument_values_give_one_error_line(argv, words, capsys):
    with pytest.raises(SystemExit) as exit_info:
        train.main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and words in err and "Traceback" not in err


@pytest.mark.parametrize("argv, words", [
    (["finetune", "--model", "/nonexistent/model", "--quiet"], "error: /nonexistent/model is neither a folder nor a file"),
    (["finetune", "--max-length", "100", "--quiet"], "error: --max-length 100 exceeds the 64 positions of the model"),
    (["pretrain", "--hidden-size", "30", "--heads", "4", "--quiet"], "error: --hidden-size 30 must be a multiple of --heads 4"),
    (["pretrain", "--max-length", "80", "--max-position-embeddings", "64", "--quiet"], "error: --max-length 80 exceeds"),
])
def test_cli_user_errors_print_error_without_a_traceback(argv, words, capsys):
    assert train.main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith(words) and "Traceback" not in err


def test_cli_refuses_an_out_folder_below_a_file_before_training(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    assert train.main(["finetune", "--out", str(tmp_path / "file" / "ckpt"), "--quiet"]) == 1
    assert "error: --out" in capsys.readouterr().err and os.listdir(tmp_path) == ["file"]
