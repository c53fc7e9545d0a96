"""The named trace (out.trace, model.trace_grads), no_grad(), and model.albert: self-consistency without torch.

The tensor-by-tensor comparison with transformers' own intermediates is in test_parity_trace.py.
"""

import numpy as np
import pytest

import albert_np as an
from factory import make_batch, random_params, tiny_config

CLASSES = an.ALL_MODEL_CLASSES


def _model(cls, **overrides):
    three_way = cls in (an.AlbertForSequenceClassification, an.AlbertForTokenClassification)
    cfg = tiny_config(num_labels=3, **overrides) if three_way else tiny_config(**overrides)
    return random_params(cls(cfg, dtype="float64", seed=0)), cfg


def expected_names(cls, cfg):
    names = ["embeddings.word_embeddings", "embeddings.token_type_embeddings", "embeddings.position_embeddings",
             "embeddings.LayerNorm", "embeddings", "encoder.embedding_hidden_mapping_in"]
    for i in range(cfg.num_hidden_layers * cfg.inner_group_num):
        t = f"encoder.layer.{i}."
        names += [t + "attention." + n for n in ("query", "key", "value", "scores", "probs", "context", "dense",
                                                 "LayerNorm")]
        names += [t + n for n in ("ffn", "ffn_act", "ffn_output", "full_layer_layer_norm")]
    if cls in (an.AlbertModel, an.AlbertForPreTraining, an.AlbertForSequenceClassification, an.AlbertForMultipleChoice):
        names += ["pooler", "pooler_activation"]
    if cls in (an.AlbertForPreTraining, an.AlbertForMaskedLM):
        names += ["predictions.dense", "predictions.activation", "predictions.LayerNorm", "predictions.decoder"]
    names += {an.AlbertForPreTraining: ["sop_classifier"], an.AlbertForSequenceClassification: ["classifier"],
              an.AlbertForMultipleChoice: ["classifier"], an.AlbertForTokenClassification: ["classifier"],
              an.AlbertForQuestionAnswering: ["qa_outputs"]}.get(cls, [])
    return names


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_trace_names_every_step_in_forward_order_and_agrees_with_the_outputs(cls):
    model, cfg = _model(cls)
    batch = make_batch(cls, cfg)
    out = model(**batch, output_hidden_states=True, output_attentions=True, output_trace=True)
    trace = out.trace
    assert list(trace) == expected_names(cls, cfg)
    n_seq = batch["input_ids"].size // batch["input_ids"].shape[-1]
    S, H, E, I = batch["input_ids"].shape[-1], cfg.hidden_size, cfg.embedding_size, cfg.intermediate_size
    assert trace["embeddings.LayerNorm"].shape == (n_seq, S, E)
    assert trace["encoder.layer.0.attention.scores"].shape == (n_seq, cfg.num_attention_heads, S, S)
    assert trace["encoder.layer.0.ffn"].shape == (n_seq, S, I)
    np.testing.assert_array_equal(trace["encoder.embedding_hidden_mapping_in"], out.hidden_states[0])
    for i in range(len(out.attentions)):
        np.testing.assert_array_equal(trace[f"encoder.layer.{i}.full_layer_layer_norm"], out.hidden_states[i + 1])
        np.testing.assert_array_equal(trace[f"encoder.layer.{i}.attention.probs"], out.attentions[i])
        keys = batch["attention_mask"].reshape(n_seq, 1, 1, S) == 1             # probs = softmax(scores + mask)
        probs = np.where(keys, np.exp(trace[f"encoder.layer.{i}.attention.scores"]), 0.0)
        np.testing.assert_allclose(probs / probs.sum(-1, keepdims=True), out.attentions[i], rtol=1e-12, atol=1e-15)
    if cls is an.AlbertForMaskedLM:
        np.testing.assert_array_equal(trace["predictions.decoder"], out.logits)
    if cls is an.AlbertForQuestionAnswering:
        np.testing.assert_array_equal(trace["qa_outputs"][..., 0], out.start_logits)
    if cls is an.AlbertModel:
        np.testing.assert_array_equal(trace["pooler_activation"], out.pooler_output)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_trace_grads_have_every_name_and_shape_and_end_where_the_loss_starts(cls):
    model, cfg = _model(cls)
    batch = make_batch(cls, cfg)
    out = model(**batch, output_trace=True)
    upstream = None
    if cls is an.AlbertModel:
        rng = np.random.default_rng(3)
        upstream = {"last_hidden_state": rng.normal(size=out.last_hidden_state.shape)}
    model.backward(upstream)
    tg = model.trace_grads
    unreached = ["pooler", "pooler_activation"] if cls is an.AlbertModel else []   # pooler_output got no gradient
    assert list(tg) == [name for name in out.trace if name not in unreached]
    for name in tg:
        assert tg[name].shape == out.trace[name].shape, name
    last = f"encoder.layer.{cfg.num_hidden_layers * cfg.inner_group_num - 1}.full_layer_layer_norm"
    if cls is an.AlbertModel:
        np.testing.assert_array_equal(tg[last], upstream["last_hidden_state"])
    # the sum word + type + position sends one gradient to each term
    np.testing.assert_array_equal(tg["embeddings.word_embeddings"], tg["embeddings.position_embeddings"])
    assert np.abs(tg["embeddings.word_embeddings"]).max() > 0


def test_trace_grad_of_the_embedding_sum_is_the_inputs_embeds_gradient():
    model, cfg = _model(an.AlbertForSequenceClassification)
    batch = make_batch(an.AlbertForSequenceClassification, cfg)
    embeds = np.asarray(model.params["albert.embeddings.word_embeddings.weight"])[batch.pop("input_ids")]
    model(inputs_embeds=embeds, **batch, output_trace=True)
    grads = model.backward()
    np.testing.assert_allclose(grads["inputs_embeds"], model.trace_grads["embeddings.token_type_embeddings"], rtol=1e-15)


def test_trace_grad_of_a_layer_input_matches_a_finite_difference_of_the_loss():
    # d loss / d (embeddings.LayerNorm) checked through the LayerNorm bias: the bias adds to every row, so
    # d loss / d bias = sum over rows of the traced gradient.
    model, cfg = _model(an.AlbertForMaskedLM)
    batch = make_batch(an.AlbertForMaskedLM, cfg)
    model(**batch, output_trace=True)
    grads = model.backward()
    g = model.trace_grads["embeddings.LayerNorm"].sum(axis=(0, 1))
    np.testing.assert_allclose(g, grads["albert.embeddings.LayerNorm.bias"], rtol=1e-12)
    bias, h = model.params["albert.embeddings.LayerNorm.bias"], 1e-6
    bias[0] += h
    up = float(model(**batch).loss)
    bias[0] -= 2 * h
    down = float(model(**batch).loss)
    bias[0] += h
    assert abs((up - down) / (2 * h) - g[0]) < 1e-7 * max(1.0, abs(g[0]))


def test_trace_grads_before_a_traced_backward_says_what_to_do():
    model, cfg = _model(an.AlbertForMaskedLM)
    with pytest.raises(RuntimeError, match=r"run the model with output_trace=True, then backward\(\)"):
        model.trace_grads


def test_no_grad_keeps_no_tape_gives_the_same_outputs_and_is_per_thread():
    model, cfg = _model(an.AlbertForMaskedLM)
    batch = make_batch(an.AlbertForMaskedLM, cfg)
    want = model(**batch)
    assert an.is_grad_enabled()
    with an.no_grad():
        assert not an.is_grad_enabled()
        got = model(**batch, output_trace=True)
    assert an.is_grad_enabled()
    np.testing.assert_array_equal(got.logits, want.logits)
    assert "predictions.decoder" in got.trace                     # a trace needs no tape
    with pytest.raises(RuntimeError, match="no_grad"):
        model.backward()

    @an.no_grad()
    def predict():
        return an.is_grad_enabled()

    assert predict() is False and an.is_grad_enabled()


def test_model_albert_is_one_object_sharing_weights_mode_and_tape():
    model, cfg = _model(an.AlbertForSequenceClassification)
    batch = make_batch(an.AlbertForSequenceClassification, cfg)
    assert model.albert is model.albert
    assert model.albert.params["pooler.weight"] is model.params["albert.pooler.weight"]
    model.train()
    assert model.albert.training
    model.eval()
    out = model(**batch, output_hidden_states=True)
    rng = np.random.default_rng(0)
    g = rng.normal(size=out.hidden_states[-1].shape)
    enc_grads = model.albert.backward({"last_hidden_state": g})
    # the same gradient from a stand-alone AlbertModel with the same weights
    base = an.AlbertModel(cfg, dtype="float64", params=dict(model.albert.params))
    base(**{k: v for k, v in batch.items() if k != "labels"})
    want = base.backward({"last_hidden_state": g})
    assert set(enc_grads) == set(want)
    for name in want:
        np.testing.assert_allclose(enc_grads[name], want[name], rtol=1e-13, atol=1e-15, err_msg=name)
    model.albert(input_ids=batch["input_ids"])
    with pytest.raises(RuntimeError, match=r"last forward was AlbertModel's \(model.albert\)"):
        model.backward()


def test_sequence_classification_problem_type_is_decided_per_call_and_not_stored():
    model, cfg = _model(an.AlbertForSequenceClassification)
    batch = make_batch(an.AlbertForSequenceClassification, cfg)
    single = model(**batch).loss                                    # int labels: cross-entropy
    assert cfg.problem_type is None
    batch["labels"] = np.eye(3)[batch["labels"]].astype(np.float64)  # float labels: multi-label BCE
    multi = model(**batch).loss
    assert cfg.problem_type is None and np.isfinite(multi) and multi != single
    model.backward()


def test_a_forward_that_fails_on_its_inputs_leaves_no_stale_tape():
    model, cfg = _model(an.AlbertForMaskedLM)
    batch = make_batch(an.AlbertForMaskedLM, cfg)
    model(**batch)
    with pytest.raises(ValueError, match="attention_mask holds 2"):
        model(**dict(batch, attention_mask=batch["attention_mask"] * 2))
    with pytest.raises(RuntimeError, match="needs a forward pass first"):
        model.backward()
