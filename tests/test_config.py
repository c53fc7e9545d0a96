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


# transformers 5.24's AlbertConfig().to_dict() keys, less transformers_version (see AlbertConfig.to_dict)
TRANSFORMERS_KEYS = sorted(ALBERT_DEFAULTS) + sorted([
    "_name_or_path", "architectures", "chunk_size_feed_forward", "dtype", "id2label", "is_encoder_decoder",
    "label2id", "model_type", "output_attentions", "output_hidden_states", "problem_type", "return_dict"])


def test_to_dict_has_every_key_transformers_has_and_to_diff_dict_what_config_json_holds():
    cfg = an.AlbertConfig()
    full = cfg.to_dict()
    assert sorted(full) == sorted(TRANSFORMERS_KEYS)
    assert (full["return_dict"], full["output_hidden_states"], full["problem_type"], full["dtype"]) == (True, False, None, None)
    assert full["id2label"] == {0: "LABEL_0", 1: "LABEL_1"} and full["label2id"] == {"LABEL_0": 0, "LABEL_1": 1}
    assert sorted(cfg.to_diff_dict()) == sorted([*ALBERT_DEFAULTS, "model_type"])
    changed = an.AlbertConfig(num_labels=3, return_dict=False).to_diff_dict()
    assert changed["return_dict"] is False and changed["id2label"] == {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}


def test_to_json_string_writes_the_diff_by_default_and_every_field_with_use_diff_false(tmp_path):
    cfg = an.AlbertConfig(hidden_size=64, num_attention_heads=4, num_labels=3)
    assert json.loads(cfg.to_json_string()) == json.loads(cfg.to_json_string(use_diff=True))
    assert "return_dict" not in json.loads(cfg.to_json_string())
    full = json.loads(cfg.to_json_string(use_diff=False))
    assert full["return_dict"] is True and full["id2label"] == {"0": "LABEL_0", "1": "LABEL_1", "2": "LABEL_2"}
    cfg.save_pretrained(tmp_path)
    assert (tmp_path / "config.json").read_text() == cfg.to_json_string()
    with pytest.raises(TypeError, match=r"to_json_string\(use_diff=...\) takes True or False, got 'yes'"):
        cfg.to_json_string(use_diff="yes")


@pytest.mark.parametrize("use_diff", [True, False])
def test_to_json_file_writes_atomically_and_reads_back_equal(tmp_path, use_diff):
    import unittest.mock

    cfg = an.AlbertConfig(hidden_size=64, num_attention_heads=4, id2label={0: "neg", 1: "pos"})
    path = tmp_path / "my_config.json"
    cfg.to_json_file(path, use_diff=use_diff)
    assert an.AlbertConfig.from_json_file(path) == cfg == an.AlbertConfig.from_pretrained(path)
    before = path.read_text()
    with unittest.mock.patch("albert_np.io_utils.os.replace", side_effect=OSError("disk full")):
        with pytest.raises(OSError, match="disk full"):
            an.AlbertConfig(num_labels=5).to_json_file(path, use_diff=use_diff)
    assert path.read_text() == before and sorted(p.name for p in tmp_path.iterdir()) == ["my_config.json"]
    with pytest.raises(IsADirectoryError, match=r"to_json_file needs a file path, but .* is a folder; pass .*config.json"):
        cfg.to_json_file(tmp_path)


def test_from_pretrained_records_where_it_read_and_equality_ignores_it(tmp_path):
    cfg = an.AlbertConfig(hidden_size=64, num_attention_heads=4)
    cfg.save_pretrained(tmp_path)
    again = an.AlbertConfig.from_pretrained(tmp_path)
    assert again.name_or_path == str(tmp_path) == again.to_dict()["_name_or_path"] and cfg.name_or_path == ""
    assert again == cfg and "_name_or_path" not in again.to_diff_dict()


def test_num_labels_override_renames_label2id_too(tmp_path):
    an.AlbertConfig(hidden_size=64, num_attention_heads=4, id2label={0: "neg", 1: "pos"}).save_pretrained(tmp_path)
    cfg = an.AlbertConfig.from_pretrained(tmp_path, num_labels=3)
    assert cfg.id2label == {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}
    assert cfg.label2id == {"LABEL_0": 0, "LABEL_1": 1, "LABEL_2": 2}


def test_a_saved_models_config_records_its_dtype(tmp_path):
    from factory import tiny_config

    an.AlbertModel(tiny_config(), dtype="float64").save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["dtype"] == "float64"
    assert an.AlbertConfig.from_pretrained(tmp_path).dtype == "float64"
