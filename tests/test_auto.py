"""Auto classes choose the ALBERT class from config.json as transformers does, and refuse other folders clearly."""

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

import albert_np as an

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "albert_np" / "data" / "tiny-albert"
GOLDEN = ROOT / "tests" / "golden"

AUTO_TO_CLASS = {
    an.AutoModel: an.AlbertModel,
    an.AutoModelForPreTraining: an.AlbertForPreTraining,
    an.AutoModelForMaskedLM: an.AlbertForMaskedLM,
    an.AutoModelForSequenceClassification: an.AlbertForSequenceClassification,
    an.AutoModelForMultipleChoice: an.AlbertForMultipleChoice,
    an.AutoModelForTokenClassification: an.AlbertForTokenClassification,
    an.AutoModelForQuestionAnswering: an.AlbertForQuestionAnswering,
}


@pytest.mark.parametrize("auto, cls", AUTO_TO_CLASS.items(), ids=lambda x: x.__name__)
def test_auto_class_builds_its_head_from_any_albert_folder(auto, cls):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # heads not in the PreTraining checkpoint are newly initialised
        model = auto.from_pretrained(TINY, dtype="float64")
        direct = cls.from_pretrained(TINY, dtype="float64", seed=0)
    assert type(model) is cls and model.dtype == "float64"
    key = "embeddings.word_embeddings.weight" if cls is an.AlbertModel else "albert.embeddings.word_embeddings.weight"
    np.testing.assert_array_equal(model.params[key], direct.params[key])


def test_auto_model_loads_transformers_saved_heads_with_their_weights():
    folder = GOLDEN / "base-AlbertForTokenClassification"
    model = an.AutoModelForTokenClassification.from_pretrained(folder)
    reference = an.AlbertForTokenClassification.from_pretrained(folder)
    np.testing.assert_array_equal(model.params["classifier.weight"], reference.params["classifier.weight"])


def test_auto_config_and_tokenizer():
    config = an.AutoConfig.from_pretrained(TINY, num_labels=3)
    assert isinstance(config, an.AlbertConfig) and config.num_labels == 3 and config.hidden_size == 128
    tok = an.AutoTokenizer.from_pretrained(TINY)
    assert isinstance(tok, an.AlbertTokenizer) and tok("hello")["input_ids"][0] == tok.cls_token_id


def test_from_config_builds_random_head():
    model = an.AutoModelForSequenceClassification.from_config(an.AlbertConfig(hidden_size=32, num_attention_heads=2,
                                                                              intermediate_size=64, vocab_size=50))
    assert model.params["classifier.weight"].shape == (2, 32)


def _folder_with_config(tmp_path, **changes):
    folder = tmp_path / "model"
    folder.mkdir()
    config = json.loads((TINY / "config.json").read_text())
    config.update(changes)
    config = {k: v for k, v in config.items() if v is not None}
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_non_albert_folder_is_refused_with_its_type(tmp_path):
    folder = _folder_with_config(tmp_path, model_type="bert", architectures=["BertForMaskedLM"])
    for auto in (an.AutoModel, an.AutoModelForMaskedLM, an.AutoConfig):
        with pytest.raises(ValueError, match="holds a 'bert' model.*ALBERT only.*transformers"):
            auto.from_pretrained(folder)


def test_missing_model_type_is_accepted_for_albert_architectures(tmp_path):
    folder = _folder_with_config(tmp_path, model_type=None)
    shutil.copyfile(TINY / "model.safetensors", folder / "model.safetensors")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert type(an.AutoModelForMaskedLM.from_pretrained(folder)) is an.AlbertForMaskedLM
    (tmp_path / "gpt2").mkdir()
    other = _folder_with_config(tmp_path / "gpt2", model_type=None, architectures=["GPT2LMHeadModel"])
    with pytest.raises(ValueError, match="no 'model_type'.*GPT2LMHeadModel"):
        an.AutoModel.from_pretrained(other)


def test_missing_folder_and_missing_config_say_what_to_pass(tmp_path):
    with pytest.raises(FileNotFoundError, match="no folder at .*nowhere.*save_pretrained"):
        an.AutoModel.from_pretrained(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="has no config.json"):
        an.AutoModelForMaskedLM.from_pretrained(tmp_path)
    with pytest.raises(FileNotFoundError, match="has no spiece.model"):
        an.AutoTokenizer.from_pretrained(GOLDEN / "base-AlbertModel")


def test_auto_tokenizer_refuses_another_tokenizer_class(tmp_path):
    folder = tmp_path / "tok"
    shutil.copytree(TINY, folder)
    settings = json.loads((folder / "tokenizer_config.json").read_text())
    settings["tokenizer_class"] = "BertTokenizer"
    (folder / "tokenizer_config.json").write_text(json.dumps(settings))
    with pytest.raises(ValueError, match="tokenizer_class='BertTokenizer'"):
        an.AutoTokenizer.from_pretrained(folder)


def test_auto_classes_are_not_instantiated():
    with pytest.raises(OSError, match="from_pretrained"):
        an.AutoModel()
