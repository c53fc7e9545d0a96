"""The transformers-style model methods: to(), return_dict=False, num_parameters, named_parameters, the word
embeddings and resize_token_embeddings (no torch needed; tests/test_model_api_live.py checks them against
transformers)."""

import sys

import numpy as np
import pytest

import albert_np as an
from factory import make_batch, random_params, tiny_config

HEADS = [c for c in an.ALL_MODEL_CLASSES]


def model_for(cls, seed=0, **overrides):
    three_way = cls in (an.AlbertForSequenceClassification, an.AlbertForTokenClassification)
    cfg = tiny_config(num_labels=3, **overrides) if three_way else tiny_config(**overrides)
    return random_params(cls(cfg, seed=seed), seed=seed), cfg


def outputs_close(got, want, rtol):
    assert list(got) == list(want)
    for key in want:
        if key in ("hidden_states", "attentions"):
            for g, w in zip(got[key], want[key]):
                np.testing.assert_allclose(an.to_numpy(g), w, rtol=rtol, atol=rtol * 1e-2, err_msg=key)
        else:
            np.testing.assert_allclose(an.to_numpy(got[key]), want[key], rtol=rtol, atol=rtol * 1e-2, err_msg=key)


# ---- model.to -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [an.AlbertForMaskedLM, an.AlbertForQuestionAnswering], ids=lambda c: c.__name__)
def test_to_float64_casts_every_weight_and_keeps_the_outputs(cls):
    model, cfg = model_for(cls)
    batch = make_batch(cls, cfg)
    want = model(**batch)
    assert model.to("float64") is model
    assert model.dtype == "float64" and all(v.dtype == np.float64 for v in model.params.values())
    outputs_close(model(**batch), want, rtol=1e-5)
    model.to(np.float32)                                  # NumPy's dtype objects work too, as torch's do
    assert all(v.dtype == np.float32 for v in model.params.values())
    outputs_close(model(**batch), want, rtol=1e-6)


@pytest.mark.parametrize("cls", HEADS, ids=lambda c: c.__name__)
def test_to_array_api_strict_gives_the_same_outputs_and_gradients(cls):
    xs = pytest.importorskip("array_api_strict")
    model, cfg = model_for(cls)
    model.to("float64")
    batch = make_batch(cls, cfg)
    want = model(**batch, output_hidden_states=True)
    upstream = None
    if cls is an.AlbertModel:
        upstream = {"last_hidden_state": np.ones(want["last_hidden_state"].shape)}
    want_grads = model.backward(upstream)
    model.to(xs)
    assert model.xp is xs and all(type(v).__module__.startswith("array_api_strict") for v in model.params.values())
    outputs_close(model(**batch, output_hidden_states=True), want, rtol=1e-12)
    got_grads = model.backward(upstream)
    for name in want_grads:
        np.testing.assert_allclose(an.to_numpy(got_grads[name]), want_grads[name], rtol=1e-10, atol=1e-13)
    model.to("numpy")                                     # and back
    assert all(isinstance(v, np.ndarray) for v in model.params.values())
    outputs_close(model(**batch, output_hidden_states=True), want, rtol=1e-12)


def test_to_a_backend_on_another_device_keeps_model_albert_in_step():
    xs = pytest.importorskip("array_api_strict")
    model, cfg = model_for(an.AlbertForSequenceClassification)
    batch = make_batch(an.AlbertForSequenceClassification, cfg)
    want = model.albert(input_ids=batch["input_ids"]).last_hidden_state   # the view exists before the move
    model.to(an.get_backend(xs, device=xs.Device("device1")), dtype="float64")
    got = model.albert(input_ids=batch["input_ids"]).last_hidden_state
    assert got.device == xs.Device("device1") and model.albert.dtype == "float64"
    np.testing.assert_allclose(an.to_numpy(got), want, rtol=1e-5, atol=1e-6)   # float32 -> float64


def test_to_keeps_the_dropout_generator_so_a_seeded_run_draws_the_same_masks():
    xs = pytest.importorskip("array_api_strict")
    cls = an.AlbertForMaskedLM
    a, cfg = model_for(cls, hidden_dropout_prob=0.2, attention_probs_dropout_prob=0.2)
    b, _ = model_for(cls, hidden_dropout_prob=0.2, attention_probs_dropout_prob=0.2)
    a.to("float64").train()
    b.to("float64").to(xs).train()
    batch = make_batch(cls, cfg)
    for _ in range(2):
        np.testing.assert_allclose(an.to_numpy(b(**batch).logits), a(**batch).logits, rtol=1e-12)


def test_to_drops_the_tape_of_the_old_backend():
    model, cfg = model_for(an.AlbertForMaskedLM)
    model(**make_batch(an.AlbertForMaskedLM, cfg))
    model.to("float64")
    with pytest.raises(RuntimeError, match="needs a forward pass first"):
        model.backward()


def test_to_the_same_backend_and_dtype_changes_nothing():
    model, _ = model_for(an.AlbertModel)
    weights = dict(model.params)
    assert model.to("numpy", "float32") is model
    assert all(model.params[k] is v for k, v in weights.items())


@pytest.mark.parametrize("args, kwargs, error, match", [
    (("cuda",), {}, ValueError, r"model.to\('cuda'\): unknown backend or dtype.*not a device: 'numpy' runs on the CPU, 'cupy'"),
    (("float16",), {}, ValueError, r"model.to\('float16'\): unknown backend or dtype; use 'numpy', 'cupy'.*'float32' or 'float64'"),
    ((None,), {}, TypeError, r"model.to\(None\): give a backend"),
    ((3,), {}, TypeError, r"model.to\(3\): int is neither a backend"),
    (("numpy", "cupy"), {}, TypeError, r"model.to\(\) got two backends"),
    (("float32",), {"dtype": "float64"}, TypeError, r"got two dtypes"),
    ((), {"dtype": "numpy"}, TypeError, r"model.to\(dtype='numpy'\): dtype must be 'float32' or 'float64'"),
    ((), {"backend": "float64"}, TypeError, r"model.to\(backend='float64'\): backend must be"),
])
def test_to_refuses_unknown_targets_naming_the_value_and_the_choices(args, kwargs, error, match):
    model, _ = model_for(an.AlbertModel)
    with pytest.raises(error, match=match):
        model.to(*args, **kwargs)
    assert model.dtype == "float32" and model.backend.name == "numpy"


def test_to_cupy_without_cupy_is_the_backend_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)      # import cupy now fails, as where it is not installed
    model, _ = model_for(an.AlbertModel)
    with pytest.raises(ImportError, match=r"backend='cupy' needs CuPy and a CUDA GPU: install it with"):
        model.to("cupy")
    assert model.backend.name == "numpy"


def test_model_albert_cannot_move_its_parents_weights_alone():
    model, _ = model_for(an.AlbertForMaskedLM)
    with pytest.raises(RuntimeError, match=r"model.albert.to\(\) would change only the encoder's part"):
        model.albert.to("float64")
    with pytest.raises(RuntimeError, match=r"call resize_token_embeddings\(\) on the model itself"):
        model.albert.resize_token_embeddings(40)
    table = model.get_input_embeddings()
    with pytest.raises(RuntimeError, match=r"call set_input_embeddings\(\) on the model itself"):
        model.albert.set_input_embeddings(table)


# ---- return_dict ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", HEADS, ids=lambda c: c.__name__)
def test_return_dict_false_gives_the_set_fields_as_a_tuple_loss_first(cls):
    model, cfg = model_for(cls)
    batch = make_batch(cls, cfg)
    out = model(**batch, output_hidden_states=True)
    tup = model(**batch, output_hidden_states=True, return_dict=False)
    assert isinstance(tup, tuple) and len(tup) == len(out)
    names = [f for f in type(out).fields if f in out]
    assert ("loss" not in out or names[0] == "loss") and names[-1] == "hidden_states"
    for value, name in zip(tup, names):
        if name == "hidden_states":
            assert all(np.array_equal(a, b) for a, b in zip(value, out[name]))
        else:
            assert np.array_equal(value, out[name]), name


def test_config_return_dict_false_is_the_default_and_the_argument_wins():
    model, cfg = model_for(an.AlbertForQuestionAnswering)
    batch = make_batch(an.AlbertForQuestionAnswering, cfg)
    del batch["start_positions"], batch["end_positions"]
    model.config.return_dict = False
    start, end = model(**batch)
    assert start.shape == end.shape == batch["input_ids"].shape
    assert set(model(**batch, return_dict=True)) == {"start_logits", "end_logits"}


def test_return_dict_false_still_keeps_the_tape_for_backward():
    model, cfg = model_for(an.AlbertForMaskedLM)
    batch = make_batch(an.AlbertForMaskedLM, cfg)
    loss, logits = model(**batch, return_dict=False)
    grads = model.backward()
    model(**batch)
    want = model.backward()
    assert all(np.array_equal(grads[k], want[k]) for k in want)


def test_return_dict_must_be_a_boolean():
    model, cfg = model_for(an.AlbertModel)
    with pytest.raises(TypeError, match=r"AlbertModel\(return_dict='no'\): return_dict must be True"):
        model(input_ids=[[5, 6]], return_dict="no")


# ---- parameters -----------------------------------------------------------------------------------------


def test_num_parameters_counts_each_array_once_and_can_leave_out_the_embedding_tables():
    model, cfg = model_for(an.AlbertForMaskedLM)
    total = sum(v.size for v in model.params.values())
    assert model.num_parameters() == total == model.num_parameters(only_trainable=True)
    V, P, T, E = cfg.vocab_size, cfg.max_position_embeddings, cfg.type_vocab_size, cfg.embedding_size
    assert model.num_parameters(exclude_embeddings=True) == total - (V + P + T) * E
    with pytest.raises(TypeError, match=r"num_parameters\(only_trainable='yes'\): only_trainable must be True or False"):
        model.num_parameters(only_trainable="yes")


def test_named_parameters_are_the_live_arrays_in_checkpoint_order_each_once():
    model, _ = model_for(an.AlbertForPreTraining)
    pairs = list(model.named_parameters())
    assert [k for k, _ in pairs] == list(model.param_shapes())
    assert all(array is model.params[k] for k, array in pairs)
    assert next(model.named_parameters(prefix="model"))[0] == "model.albert.embeddings.word_embeddings.weight"
    model.params["alias"] = model.params["predictions.bias"]      # an array under two names: given once
    assert "alias" not in dict(model.named_parameters())
    assert "alias" in dict(model.named_parameters(remove_duplicate=False))


# ---- word embeddings ------------------------------------------------------------------------------------


def test_input_embeddings_are_the_word_table_and_the_mlm_decoder_is_tied_to_it():
    model, cfg = model_for(an.AlbertForMaskedLM)
    table = model.get_input_embeddings()
    assert table is model.params["albert.embeddings.word_embeddings.weight"] is model.get_output_embeddings()
    assert model.albert.get_input_embeddings() is table
    assert model_for(an.AlbertForSequenceClassification)[0].get_output_embeddings() is None
    batch = make_batch(an.AlbertForMaskedLM, cfg)
    before = model(**batch).logits
    model.set_input_embeddings((2 * an.to_numpy(table)).tolist())   # lists work; the decoder follows
    assert model.get_output_embeddings() is model.get_input_embeddings()
    assert not np.allclose(model(**batch).logits, before)
    with pytest.raises(ValueError, match=r"got shape \(3, 8\), but the table is \(30, 8\).*resize_token_embeddings"):
        model.set_input_embeddings(np.zeros((3, 8)))


def test_resize_grows_the_table_with_the_old_mean_keeps_the_old_logits_and_pads_the_bias_with_zeros():
    model, cfg = model_for(an.AlbertForMaskedLM)
    model.to("float64")
    batch = make_batch(an.AlbertForMaskedLM, cfg)
    old_table = an.to_numpy(model.get_input_embeddings()).copy()
    old_logits = model(**batch).logits
    new = model.resize_token_embeddings(37)
    assert new is model.get_input_embeddings() is model.get_output_embeddings()
    assert model.config.vocab_size == 37 and new.shape == (37, cfg.embedding_size)
    np.testing.assert_array_equal(new[:30], old_table)
    np.testing.assert_allclose(new[30:], np.repeat(old_table.mean(0)[None], 7, axis=0), atol=1e-3)  # 1e-9 cov
    np.testing.assert_array_equal(model.params["predictions.bias"][30:], 0.0)
    logits = model(**batch).logits
    assert logits.shape == (2, 6, 37)
    np.testing.assert_allclose(logits[..., :30], old_logits, rtol=1e-12)
    grads = model.backward()
    assert grads["albert.embeddings.word_embeddings.weight"].shape == (37, cfg.embedding_size)


def test_resize_without_mean_resizing_draws_initializer_range_normals_from_the_seed():
    tables = []
    for _ in range(2):
        model = an.AlbertForMaskedLM(tiny_config(), seed=3)
        tables.append(an.to_numpy(model.resize_token_embeddings(3030, mean_resizing=False)))
    np.testing.assert_array_equal(tables[0], tables[1])
    new_rows = tables[0][30:]
    assert abs(new_rows.std() - 0.02) < 0.001 and abs(new_rows.mean()) < 0.001


def test_resize_shrinks_pads_to_a_multiple_and_saves_and_loads(tmp_path):
    model, cfg = model_for(an.AlbertForPreTraining)
    old = an.to_numpy(model.get_input_embeddings()).copy()
    model.resize_token_embeddings(20)
    np.testing.assert_array_equal(model.get_input_embeddings(), old[:20])
    assert model.params["predictions.bias"].shape == (20,)
    assert model.resize_token_embeddings(None, pad_to_multiple_of=16).shape == (32, cfg.embedding_size)
    assert model.resize_token_embeddings(33, pad_to_multiple_of=8).shape[0] == 40 == model.config.vocab_size
    model.save_pretrained(tmp_path)
    again = an.AlbertForPreTraining.from_pretrained(tmp_path)
    assert again.config.vocab_size == 40
    batch = make_batch(an.AlbertForPreTraining, tiny_config())
    np.testing.assert_array_equal(again(**batch).prediction_logits, model(**batch).prediction_logits)


def test_resize_to_the_same_size_or_none_changes_nothing():
    model, _ = model_for(an.AlbertForMaskedLM)
    table = model.get_input_embeddings()
    assert model.resize_token_embeddings() is table and model.resize_token_embeddings(30) is table


@pytest.mark.parametrize("kwargs, match", [
    ({"new_num_tokens": 0}, r"resize_token_embeddings\(new_num_tokens=0\): give a positive number of tokens"),
    ({"new_num_tokens": 2.5}, r"new_num_tokens=2.5"),
    ({"new_num_tokens": 3}, r"new_num_tokens=3\) leaves a config no model can be built from: AlbertConfig.eos_token_id"),
    ({"new_num_tokens": 40, "pad_to_multiple_of": 0}, r"pad_to_multiple_of=0\): give a positive integer"),
])
def test_resize_refuses_sizes_that_cannot_work(kwargs, match):
    model, _ = model_for(an.AlbertForMaskedLM)
    with pytest.raises(ValueError, match=match):
        model.resize_token_embeddings(**kwargs)
    assert model.config.vocab_size == 30 and model.get_input_embeddings().shape[0] == 30
