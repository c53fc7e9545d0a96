"""AlbertConfig: transformers' fields and defaults, config.json in and out."""

import json

import pytest

import albert_np as an
from albert_np.config import ALBERT_DEFAULTS


def test_defaults_are_albert_xxlarge_as_in_transformers():
    cfg = an.AlbertConfig()
    assert (cfg.vocab_size, cfg.embedding_size, cfg.hidden_size, cfg.num_attention_heads) == (30000, 128, 4096, 64)
    assert (cfg.hidden_act, cfg.layer_norm_eps, cfg.classifier_dropout_prob, cfg.num_labels) == ("gelu_new", 1e-12, 0.1, 2)


def test_every_transformers_albert_field_and_default_matches():
    transformers = pytest.importorskip("transformers")
    theirs = transformers.AlbertConfig().to_dict()
    ours = an.AlbertConfig().to_dict()
    for key in ALBERT_DEFAULTS:
        assert ours[key] == theirs[key], key
    for key in ("problem_type", "chunk_size_feed_forward", "output_hidden_states", "output_attentions"):
        assert getattr(an.AlbertConfig(), key) == getattr(transformers.AlbertConfig(), key), key
    assert an.AlbertConfig(num_labels=5).num_labels == transformers.AlbertConfig(num_labels=5).num_labels


def test_reads_the_config_transformers_writes_and_writes_one_it_reads(tmp_path):
    transformers = pytest.importorskip("transformers")
    transformers.AlbertConfig(hidden_size=24, num_attention_heads=4, num_labels=3, hidden_act="gelu").save_pretrained(tmp_path / "t")
    ours = an.AlbertConfig.from_pretrained(tmp_path / "t")
    assert (ours.hidden_size, ours.num_attention_heads, ours.num_labels, ours.hidden_act) == (24, 4, 3, "gelu")
    ours.save_pretrained(tmp_path / "o")
    back = transformers.AlbertConfig.from_pretrained(tmp_path / "o")
    assert (back.hidden_size, back.num_labels, back.id2label) == (24, 3, {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"})


def test_json_round_trip_keeps_unknown_keys_and_labels(tmp_path):
    cfg = an.AlbertConfig(hidden_size=64, num_attention_heads=4, id2label={0: "neg", 1: "pos"}, finetuning_task="sst2")
    cfg.save_pretrained(tmp_path)
    again = an.AlbertConfig.from_pretrained(tmp_path)
    assert again == cfg
    written = json.loads((tmp_path / "config.json").read_text())
    assert written["finetuning_task"] == "sst2" and written["id2label"] == {"0": "neg", "1": "pos"}
    assert written["label2id"] == {"neg": 0, "pos": 1} and written["model_type"] == "albert"


def test_overrides_in_from_pretrained_win(tmp_path):
    an.AlbertConfig(hidden_size=64, num_attention_heads=4).save_pretrained(tmp_path)
    assert an.AlbertConfig.from_pretrained(tmp_path, num_labels=7).num_labels == 7


def test_config_of_another_model_type_is_refused(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ValueError, match="describes a 'bert' model, not 'albert'"):
        an.AlbertConfig.from_pretrained(tmp_path)


def test_invalid_json_is_reported(tmp_path):
    (tmp_path / "config.json").write_text("{oops")
    with pytest.raises(ValueError, match="is not valid JSON"):
        an.AlbertConfig.from_pretrained(tmp_path)


def test_the_config_knows_exactly_the_activations_the_ops_implement():
    from albert_np import ops
    from albert_np.config import HIDDEN_ACTS
    assert sorted(HIDDEN_ACTS) == sorted(ops.ACTIVATIONS)


def test_every_config_transformers_wrote_passes_validation():
    import glob
    import os

    from albert_np.demo import bundled_model_dir
    root = os.path.dirname(__file__)
    files = sorted(glob.glob(os.path.join(root, "golden", "*", "config.json"))) + [os.path.join(bundled_model_dir(), "config.json")]
    assert len(files) > 10
    for file in files:
        cfg = an.AlbertConfig.from_pretrained(file)
        assert cfg.model_type == "albert" and cfg.vocab_size > cfg.pad_token_id, file


def test_a_config_with_every_field_at_the_edge_of_its_range_is_accepted():
    cfg = an.AlbertConfig(vocab_size=5, hidden_size=4, num_attention_heads=4, num_hidden_layers=1, num_hidden_groups=1,
                          hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.999, classifier_dropout_prob=None,
                          initializer_range=0, layer_norm_eps=1e-30, pad_token_id=4, bos_token_id=None, eos_token_id=0,
                          num_labels=1, chunk_size_feed_forward=0)
    assert (cfg.num_labels, cfg.pad_token_id, cfg.classifier_dropout_prob) == (1, 4, None)
