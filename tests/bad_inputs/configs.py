"""Configs: every field's type and range, on construction and when a config.json is loaded."""

from __future__ import annotations

import json

import albert_np as an
from bad_inputs import Case


def build(**fields):
    return lambda d: an.AlbertConfig(**fields)


def load():
    """Load the config.json that the case's setup wrote into its folder."""
    return lambda d: an.AlbertConfig.from_pretrained(d)


def config_json(**fields):
    def setup(d):
        (d / "config.json").write_text(json.dumps({"model_type": "albert", **fields}))
    return setup


# (id, field values, words the message must contain)
BAD_FIELDS = [
    ("hidden_dropout_string", {"hidden_dropout_prob": "0.1"}, r"hidden_dropout_prob must be a number in \[0, 1\), got '0.1' \(a string"),
    ("hidden_dropout_list", {"hidden_dropout_prob": [0.1]}, r"hidden_dropout_prob must be a number in \[0, 1\), got \[0.1\] \(a list"),
    ("hidden_dropout_null", {"hidden_dropout_prob": None}, r"hidden_dropout_prob must be a number .*got None \(null"),
    ("hidden_dropout_one", {"hidden_dropout_prob": 1.0}, r"hidden_dropout_prob must be a number in \[0, 1\), got 1.0"),
    ("attention_dropout_negative", {"attention_probs_dropout_prob": -0.1}, r"attention_probs_dropout_prob .* got -0.1"),
    ("attention_dropout_nan", {"attention_probs_dropout_prob": float("nan")}, r"attention_probs_dropout_prob .* got nan"),
    ("classifier_dropout_bool", {"classifier_dropout_prob": True}, r"classifier_dropout_prob .* got True \(a boolean"),
    ("layer_norm_eps_negative", {"layer_norm_eps": -1e-12}, r"layer_norm_eps must be a number > 0 .*got -1e-12"),
    ("layer_norm_eps_zero", {"layer_norm_eps": 0}, r"layer_norm_eps must be a number > 0"),
    ("layer_norm_eps_string", {"layer_norm_eps": "1e-12"}, r"layer_norm_eps .* got '1e-12' \(a string"),
    ("layer_norm_eps_inf", {"layer_norm_eps": float("inf")}, r"layer_norm_eps .* got inf"),
    ("initializer_range_negative", {"initializer_range": -0.02}, r"initializer_range must be a number >= 0"),
    ("vocab_size_zero", {"vocab_size": 0}, r"vocab_size must be a positive integer, got 0"),
    ("vocab_size_float", {"vocab_size": 30000.0}, r"vocab_size must be a positive integer, got 30000.0"),
    ("vocab_size_string", {"vocab_size": "30000"}, r"vocab_size must be a positive integer, got '30000' \(a string"),
    ("vocab_size_bool", {"vocab_size": True}, r"vocab_size must be a positive integer, got True"),
    ("hidden_size_negative", {"hidden_size": -64}, r"hidden_size must be a positive integer, got -64"),
    ("hidden_size_not_divisible", {"hidden_size": 100, "num_attention_heads": 3}, r"hidden_size \(100\) must be a multiple of num_attention_heads \(3\)"),
    ("heads_list", {"num_attention_heads": [4]}, r"num_attention_heads must be a positive integer, got \[4\] \(a list"),
    ("layers_zero", {"num_hidden_layers": 0}, r"num_hidden_layers must be a positive integer, got 0"),
    ("groups_more_than_layers", {"num_hidden_layers": 2, "num_hidden_groups": 3}, r"num_hidden_groups \(3\) cannot exceed num_hidden_layers \(2\)"),
    ("inner_group_num_null", {"inner_group_num": None}, r"inner_group_num must be a positive integer, got None"),
    ("intermediate_size_zero", {"intermediate_size": 0}, r"intermediate_size must be a positive integer"),
    ("max_positions_float", {"max_position_embeddings": 512.5}, r"max_position_embeddings must be a positive integer, got 512.5"),
    ("type_vocab_size_zero", {"type_vocab_size": 0}, r"type_vocab_size must be a positive integer, got 0"),
    ("embedding_size_null", {"embedding_size": None}, r"embedding_size must be a positive integer, got None \(null"),
    ("unknown_hidden_act", {"hidden_act": "gelu2"}, r"hidden_act 'gelu2' is not supported by albert_np; use one of \['gelu', 'gelu_fast'"),
    ("hidden_act_not_a_string", {"hidden_act": 1}, r"hidden_act 1 is not supported.*use one of"),
    ("pad_token_id_past_vocab", {"vocab_size": 100, "pad_token_id": 100}, r"pad_token_id must be None or a token id in \[0, vocab_size - 1 = 99\], got 100"),
    ("pad_token_id_negative", {"pad_token_id": -1}, r"pad_token_id must be None or a token id .* got -1"),
    ("bos_token_id_string", {"bos_token_id": "2"}, r"bos_token_id must be None or a token id .* got '2'"),
    ("eos_token_id_past_vocab", {"vocab_size": 10, "eos_token_id": 10}, r"eos_token_id .* \[0, vocab_size - 1 = 9\], got 10"),
    ("num_labels_zero", {"num_labels": 0}, r"num_labels must be a positive integer \(2 for a binary classifier\), got 0"),
    ("num_labels_negative", {"num_labels": -2}, r"num_labels must be a positive integer .* got -2"),
    ("num_labels_string", {"num_labels": "3"}, r"num_labels must be a positive integer .* got '3'"),
    ("id2label_not_a_dict", {"id2label": ["neg", "pos"]}, r"id2label must be a dict \{id: name\}, got \['neg', 'pos'\]"),
    ("id2label_word_keys", {"id2label": {"neg": "negative"}}, r"id2label keys must be integer ids .* got \['neg'\]"),
    ("id2label_gap", {"id2label": {"0": "neg", "2": "pos"}}, r"id2label must have the ids 0..num_labels-1, got \[0, 2\]"),
    ("id2label_number_names", {"id2label": {"0": 5, "1": 6}}, r"id2label must map label ids to names"),
    ("label2id_not_a_dict", {"label2id": [["neg", 0]]}, r"label2id must be a dict \{name: id\}"),
    ("label2id_string_ids", {"label2id": {"LABEL_0": "0", "LABEL_1": "1"}}, r"label2id must map label names to integer ids"),
    ("tie_word_embeddings_string", {"tie_word_embeddings": "true"}, r"tie_word_embeddings must be true or false, got 'true'"),
    ("output_attentions_int", {"output_attentions": 1}, r"output_attentions must be true or false, got 1"),
    ("chunk_size_negative", {"chunk_size_feed_forward": -1}, r"chunk_size_feed_forward must be an integer >= 0, got -1"),
    ("architectures_string", {"architectures": "AlbertModel"}, r"architectures must be None or a list of class names"),
    ("problem_type_typo", {"problem_type": "single_label"}, r"problem_type must be None or one of \('regression'"),
]

CONSTRUCTION = [Case(f"build_{id}", run=build(**fields), raises=ValueError, match=match)
                for id, fields, match in BAD_FIELDS]
LOADING = [Case(f"load_{id}", run=load(), raises=ValueError, match=match, setup=config_json(**fields))
           for id, fields, match in BAD_FIELDS
           if all(isinstance(v, (str, int, float, list, dict, type(None))) for v in fields.values())
           and not any(isinstance(v, float) and v != v for v in fields.values())]

OTHER = [
    Case("load_model_type_bert", run=load(), raises=ValueError, match=r"describes a 'bert' model, not 'albert'",
         setup=lambda d: (d / "config.json").write_text(json.dumps({"model_type": "bert"}))),
    Case("load_not_utf8", run=load(), raises=ValueError, match=r"config.json is not UTF-8 text.*re-download or re-save",
         setup=lambda d: (d / "config.json").write_bytes(b'{"hidden_act": "gel\xfc"}')),
    Case("load_utf16", run=load(), raises=ValueError, match=r"is not UTF-8 text",
         setup=lambda d: (d / "config.json").write_bytes('{"vocab_size": 3}'.encode("utf-16"))),
    Case("load_truncated_json", run=load(), raises=ValueError, match=r"is not valid JSON .*re-download or re-save",
         setup=lambda d: (d / "config.json").write_text('{"vocab_size": 3')),
    Case("load_json_string", run=load(), raises=ValueError, match=r"must hold a JSON object, got a str",
         setup=lambda d: (d / "config.json").write_text('"albert"')),
    Case("load_json_null", run=load(), raises=ValueError, match=r"must hold a JSON object, got a NoneType",
         setup=lambda d: (d / "config.json").write_text("null")),
    Case("load_missing_folder", run=lambda d: an.AlbertConfig.from_pretrained(d / "nope"), raises=FileNotFoundError,
         match=r"no config.json at .*nope.*local directories only"),
    Case("load_override_bad_value", run=lambda d: an.AlbertConfig.from_pretrained(d, layer_norm_eps=-1.0),
         raises=ValueError, match=r"layer_norm_eps must be a number > 0", setup=config_json()),
    Case("from_dict_of_a_list", run=lambda d: an.AlbertConfig.from_dict([("vocab_size", 3)]), raises=ValueError,
         match=r"from_dict needs a dict of fields, got list"),
    Case("num_labels_set_to_zero", run=lambda d: setattr(an.AlbertConfig(), "num_labels", 0), raises=ValueError,
         match=r"num_labels must be a positive integer"),
]

CASES = CONSTRUCTION + LOADING + OTHER
