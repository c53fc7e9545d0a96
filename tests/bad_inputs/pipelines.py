"""Bad calls of the pipelines, Auto classes and example-file readers: each names the argument, value and fix."""

import json
import warnings
from pathlib import Path

import albert_np as an
from albert_np import datasets

from . import Case

TINY = str(Path(__file__).resolve().parents[2] / "albert_np" / "data" / "tiny-albert")


def _pipe(task):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return an.pipeline(task, model=TINY)


def _write_config(tmp, **config):
    (tmp / "model").mkdir()
    (tmp / "model" / "config.json").write_text(json.dumps(config))


CASES = [
    Case("unknown_task", lambda tmp: an.pipeline("translation", model=TINY), ValueError,
         r"unknown task 'translation'.*question-answering"),
    Case("no_model", lambda tmp: an.pipeline("fill-mask"), ValueError, r"needs model=.*no default model"),
    Case("model_object_without_tokenizer",
         lambda tmp: an.pipeline("fill-mask", model=_pipe("fill-mask").model), ValueError, r"no tokenizer: pass tokenizer="),
    Case("batch_size_zero", lambda tmp: an.pipeline("fill-mask", model=TINY, batch_size=0), ValueError,
         r"batch_size must be a positive integer, got 0"),
    Case("fill_mask_without_mask", lambda tmp: _pipe("fill-mask")("Paris is nice."), ValueError,
         r"No mask_token \(\[MASK\]\) found on the input 'Paris is nice.'.*write \[MASK\]"),
    Case("fill_mask_top_k_zero", lambda tmp: _pipe("fill-mask")("a [MASK]", top_k=0), ValueError,
         r"top_k must be a positive integer, got 0"),
    Case("fill_mask_targets_empty", lambda tmp: _pipe("fill-mask")("a [MASK]", targets=[""]), ValueError,
         r"targets=\[''\] gives no token"),
    Case("text_classification_list_pair", lambda tmp: _pipe("text-classification")([["a", "b"]]), ValueError,
         r"a dict \{'text': \.\.\., 'text_pair': \.\.\.\}, got list: \['a', 'b'\]"),
    Case("text_classification_bad_function", lambda tmp: _pipe("text-classification")("a", function_to_apply="relu"),
         ValueError, r"function_to_apply must be one of .*'relu'"),
    Case("aggregation_strategy_unknown",
         lambda tmp: _pipe("token-classification")("a b", aggregation_strategy="longest"), ValueError,
         r"aggregation_strategy must be one of .*'longest'"),
    Case("qa_without_context", lambda tmp: _pipe("question-answering")(question="why?"), ValueError,
         r"needs both question=\.\.\. and context=\.\.\."),
    Case("qa_stride_above_window",
         lambda tmp: _pipe("question-answering")(question="q", context="c d", max_seq_len=16, doc_stride=32),
         ValueError, r"doc_stride \(32\) is larger than max_seq_len \(16\)"),
    Case("qa_lists_of_different_length",
         lambda tmp: _pipe("question-answering")(question=["a", "b"], context=["c"]), ValueError,
         r"2 questions but 1 contexts"),
    Case("auto_model_on_bert_folder", lambda tmp: an.AutoModelForMaskedLM.from_pretrained(tmp / "model"), ValueError,
         r"holds a 'bert' model.*ALBERT only", setup=lambda tmp: _write_config(tmp, model_type="bert")),
    Case("auto_model_missing_folder", lambda tmp: an.AutoModel.from_pretrained(tmp / "absent"), FileNotFoundError,
         r"no folder at .*absent.*save_pretrained"),
    Case("auto_config_without_model_type",
         lambda tmp: an.AutoConfig.from_pretrained(tmp / "model"), ValueError, r"no 'model_type'.*\"model_type\": \"albert\"",
         setup=lambda tmp: _write_config(tmp, architectures=["T5Model"])),
    Case("examples_file_bad_extension", lambda tmp: datasets.read_records(tmp / "data.tsv"), ValueError,
         r"extension '\.tsv'.*\.csv and \.jsonl", setup=lambda tmp: (tmp / "data.tsv").write_text("a\tb\n")),
    Case("examples_jsonl_bad_line", lambda tmp: datasets.read_records(tmp / "d.jsonl"), ValueError,
         r"d\.jsonl line 2 is not JSON.*one JSON object per line",
         setup=lambda tmp: (tmp / "d.jsonl").write_text('{"text": "a"}\n{text: b}\n')),
    Case("token_tags_count_mismatch",
         lambda tmp: datasets.token_classification_examples([{"tokens": ["a", "b"], "ner_tags": ["O"]}]), ValueError,
         r"row 1: 2 words in 'tokens' but 1 tags in 'ner_tags'"),
]
