"""The transformers-style API against transformers 5.24 itself, live (skipped without torch and transformers):
return_dict=False tuples, num_parameters, named_parameters, the embeddings, resize_token_embeddings (a resized
albert_np model loads in transformers with the same logits), config.to_dict / to_diff_dict / to_json_string,
word_ids and the bundled tokenizer's model_max_length."""

import json

import numpy as np
import pytest

import albert_np as an
from albert_np.demo import bundled_model_dir

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
transformers.logging.set_verbosity_error()

CLASSES = [c.__name__ for c in an.ALL_MODEL_CLASSES]
SIZES = dict(vocab_size=40, embedding_size=8, hidden_size=16, num_attention_heads=4, intermediate_size=24,
             num_hidden_layers=3, num_hidden_groups=1, inner_group_num=2, max_position_embeddings=20,
             hidden_act="gelu_new", hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
B, C, S = 2, 3, 7


def theirs_and_ours(cls_name, folder, num_labels=2):
    """A seeded transformers model saved to `folder`, and albert_np's from that folder (both float64)."""
    torch.manual_seed(sorted(CLASSES).index(cls_name))
    theirs = getattr(transformers, cls_name)(transformers.AlbertConfig(num_labels=num_labels, **SIZES))
    with torch.no_grad():   # a bias away from zero, so a resized model's new columns show
        for name, p in theirs.named_parameters():
            if name.endswith("bias"):
                p.normal_(0.0, 0.5)
    theirs.save_pretrained(folder)
    return theirs.double().eval(), getattr(an, cls_name).from_pretrained(folder, dtype="float64")


def inputs(cls_name, seed=0, vocab=SIZES["vocab_size"]):
    rng = np.random.default_rng(seed)
    shape = (B, C, S) if cls_name == "AlbertForMultipleChoice" else (B, S)
    ids = rng.integers(5, vocab, size=shape)
    mask = np.ones(shape, dtype=np.int64)
    mask[..., -2:] = 0
    kw = dict(input_ids=np.where(mask == 1, ids, 0), attention_mask=mask, token_type_ids=rng.integers(0, 2, size=shape))
    labels = {
        "AlbertForPreTraining": dict(labels=np.where(rng.random(shape) < 0.5, ids, -100),
                                     sentence_order_label=rng.integers(0, 2, size=B)),
        "AlbertForMaskedLM": dict(labels=np.where(rng.random(shape) < 0.5, ids, -100)),
        "AlbertForSequenceClassification": dict(labels=rng.integers(0, 2, size=B)),
        "AlbertForMultipleChoice": dict(labels=rng.integers(0, C, size=B)),
        "AlbertForTokenClassification": dict(labels=rng.integers(0, 2, size=shape)),
        "AlbertForQuestionAnswering": dict(start_positions=rng.integers(0, S, size=B),
                                           end_positions=rng.integers(0, S, size=B)),
    }.get(cls_name, {})
    return kw, labels


def flatten(value):
    """A tuple output as a flat list of arrays (hidden_states is a tuple inside the tuple)."""
    if isinstance(value, (tuple, list)):
        return [a for v in value for a in flatten(v)]
    return [value.detach().numpy() if hasattr(value, "detach") else an.to_numpy(value)]


@pytest.mark.parametrize("with_labels", [True, False], ids=["labels", "no-labels"])
@pytest.mark.parametrize("cls_name", CLASSES)
def test_return_dict_false_is_transformers_tuple(tmp_path, cls_name, with_labels):
    theirs, ours = theirs_and_ours(cls_name, tmp_path)
    kw, labels = inputs(cls_name)
    if with_labels:
        kw.update(labels)
    with torch.no_grad():
        ref = theirs(**{k: torch.tensor(v) for k, v in kw.items()}, output_hidden_states=True, return_dict=False)
    got = ours(**kw, output_hidden_states=True, return_dict=False)
    assert isinstance(got, tuple) and len(got) == len(ref)
    assert [len(x) if isinstance(x, tuple) else None for x in got] == [len(x) if isinstance(x, tuple) else None for x in ref]
    for g, r in zip(flatten(got), flatten(ref)):
        np.testing.assert_allclose(g, r, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("cls_name", CLASSES)
def test_parameter_counts_names_and_embeddings_are_transformers(tmp_path, cls_name):
    theirs, ours = theirs_and_ours(cls_name, tmp_path)
    for only_trainable in (False, True):
        for exclude_embeddings in (False, True):
            flags = dict(only_trainable=only_trainable, exclude_embeddings=exclude_embeddings)
            assert ours.num_parameters(**flags) == theirs.num_parameters(**flags), flags
    assert [name for name, _ in ours.named_parameters()] == [name for name, _ in theirs.named_parameters()]
    for (name, a), (_, b) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_array_equal(a, b.detach().numpy(), err_msg=name)
    np.testing.assert_array_equal(ours.get_input_embeddings(), theirs.get_input_embeddings().weight.detach().numpy())
    out = theirs.get_output_embeddings()
    assert (ours.get_output_embeddings() is None) == (out is None)
    if out is not None:
        np.testing.assert_array_equal(ours.get_output_embeddings(), out.weight.detach().numpy())


@pytest.mark.parametrize("cls_name", ["AlbertForMaskedLM", "AlbertForPreTraining", "AlbertForSequenceClassification"])
@pytest.mark.parametrize("new_size, mean_resizing", [(53, True), (53, False), (29, True)], ids=["grow-mean", "grow-normal", "shrink"])
def test_a_resized_model_saved_by_albert_np_loads_in_transformers_with_the_same_logits(tmp_path, cls_name, new_size, mean_resizing):
    theirs, ours = theirs_and_ours(cls_name, tmp_path / "source")
    ours.resize_token_embeddings(new_size, mean_resizing=mean_resizing)
    ours.save_pretrained(tmp_path / "resized")
    loaded, info = getattr(transformers, cls_name).from_pretrained(tmp_path / "resized", output_loading_info=True)
    assert not any(info[k] for k in ("missing_keys", "unexpected_keys", "mismatched_keys")), info
    loaded = loaded.double().eval()
    assert loaded.config.vocab_size == new_size
    kw, _ = inputs(cls_name, seed=1, vocab=min(new_size, SIZES["vocab_size"]))
    with torch.no_grad():
        ref = loaded(**{k: torch.tensor(v) for k, v in kw.items()}, return_dict=False)
    got = ours(**kw, return_dict=False)
    for g, r in zip(flatten(got), flatten(ref)):
        np.testing.assert_allclose(g, r, rtol=1e-9, atol=1e-11)
    # transformers resizing its own model keeps the same rows and pads the MLM bias with zeros, as albert_np
    theirs.resize_token_embeddings(new_size, mean_resizing=mean_resizing)
    keep = min(new_size, SIZES["vocab_size"])
    np.testing.assert_array_equal(ours.get_input_embeddings()[:keep], theirs.get_input_embeddings().weight.detach().numpy()[:keep])
    if "predictions.bias" in ours.params:
        np.testing.assert_allclose(ours.params["predictions.bias"], theirs.predictions.bias.detach().numpy(), rtol=1e-15)


def test_mean_resizing_draws_rows_like_transformers_within_its_tiny_spread(tmp_path):
    theirs, ours = theirs_and_ours("AlbertForMaskedLM", tmp_path)
    ours.resize_token_embeddings(60)
    theirs.resize_token_embeddings(60)
    np.testing.assert_allclose(ours.get_input_embeddings()[40:], theirs.get_input_embeddings().weight.detach().numpy()[40:],
                               atol=1e-5)   # both the old mean, plus noise of covariance 1e-9 x the rows'


# (transformers 5.24 leaves label2id None when only id2label is given; albert_np inverts id2label, so both are given)
CONFIGS = [{}, {"num_labels": 3}, {"id2label": {0: "neg", 1: "pos"}, "label2id": {"neg": 0, "pos": 1},
                                   "problem_type": "single_label_classification"},
           {"hidden_size": 64, "num_attention_heads": 4, "output_hidden_states": True, "return_dict": False,
            "architectures": ["AlbertForMaskedLM"], "finetuning_task": "sst2", "chunk_size_feed_forward": 2}]


@pytest.mark.parametrize("kwargs", CONFIGS, ids=["default", "3-labels", "named-labels", "changed"])
def test_config_dicts_and_json_are_transformers(tmp_path, kwargs):
    ours, theirs = an.AlbertConfig(**kwargs), transformers.AlbertConfig(**kwargs)
    want = theirs.to_dict()
    del want["transformers_version"]    # albert_np writes none of its own (docs: config.to_dict)
    assert ours.to_dict() == want
    want_diff = theirs.to_diff_dict()
    del want_diff["transformers_version"]
    assert ours.to_diff_dict() == want_diff
    for use_diff in (True, False):
        (tmp_path / "t.json").write_text(theirs.to_json_string(use_diff=use_diff))
        ours.to_json_file(tmp_path / "o.json", use_diff=use_diff)
        written, expected = json.loads((tmp_path / "o.json").read_text()), json.loads((tmp_path / "t.json").read_text())
        del expected["transformers_version"]
        assert written == expected
        back = transformers.AlbertConfig.from_json_file(tmp_path / "o.json")
        assert {k: v for k, v in back.to_dict().items() if k != "transformers_version"} == want


def test_a_transformers_config_keeps_its_version_and_name_or_path(tmp_path):
    transformers.AlbertConfig(num_labels=4).save_pretrained(tmp_path)
    ours = an.AlbertConfig.from_pretrained(tmp_path)
    theirs = transformers.AutoConfig.from_pretrained(tmp_path)
    assert ours.to_dict() == theirs.to_dict()                        # transformers_version as read, _name_or_path too
    assert ours.to_json_string() == theirs.to_json_string()


TEXTS = ["The capital of France is Paris.", "hello [MASK] world", "  Café,  naïve!! it's  x▁y z  ",
         "[MASK][MASK]x", "", "東京 is big", "a b c d e f g h i j k l m n o p"]


def test_word_ids_sequence_ids_and_tokens_are_the_fast_tokenizers():
    folder = bundled_model_dir()
    theirs = transformers.AlbertTokenizer.from_pretrained(folder)
    ours = an.AlbertTokenizer.from_pretrained(folder)
    calls = [((TEXTS,), {}), ((TEXTS, TEXTS[::-1]), {}), ((TEXTS, TEXTS[1:] + TEXTS[:1]), {"padding": True}),
             ((TEXTS,), {"padding": "max_length", "max_length": 12, "truncation": True}),
             ((TEXTS[-1], TEXTS[0]), {"truncation": "only_first", "max_length": 14, "stride": 2,
                                      "return_overflowing_tokens": True}),
             ((TEXTS[1],), {})]
    rows = 0
    for args, kwargs in calls:
        ref, out = theirs(*args, **kwargs), ours(*args, **kwargs)
        ids = out["input_ids"]
        n = len(ids) if ids and isinstance(ids[0], list) else 1
        for i in range(n):
            rows += 1
            assert out.word_ids(i) == ref.word_ids(i), (args, kwargs, i)
            assert out.sequence_ids(i) == ref.sequence_ids(i) and out.tokens(i) == ref.tokens(i)
    assert rows > 30


def test_bundled_tokenizer_truncates_at_the_models_positions_as_transformers_does():
    folder = bundled_model_dir()
    positions = an.AlbertConfig.from_pretrained(folder).max_position_embeddings
    theirs = transformers.AlbertTokenizer.from_pretrained(folder)
    ours = an.AlbertTokenizer.from_pretrained(folder)
    assert ours.model_max_length == theirs.model_max_length == positions
    long_text = " ".join(["paris is the capital of france"] * 40)
    ref = theirs([long_text, "short"], truncation=True, padding="max_length")
    out = ours([long_text, "short"], truncation=True, padding="max_length")
    assert out["input_ids"] == ref["input_ids"] and len(out["input_ids"][0]) == positions
    model = an.AlbertForPreTraining.from_pretrained(folder)
    assert model(**ours(long_text, truncation=True, return_tensors="np")).prediction_logits.shape[1] == positions
