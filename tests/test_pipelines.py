"""Pipelines against transformers' outputs stored by tools/make_pipeline_golden.py (runs without torch)."""

import importlib.util
import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import albert_np as an

ROOT = Path(__file__).resolve().parent.parent


def _load_tool():
    spec = importlib.util.spec_from_file_location("make_pipeline_golden", ROOT / "tools" / "make_pipeline_golden.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


golden = _load_tool()
EXPECTED = json.loads(golden.EXPECTED.read_text())["cases"]


@pytest.fixture(scope="module")
def pipes(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipeline-models")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # heads loaded from other heads' checkpoints list their unused weights
        return {task: an.pipeline(task, model=golden.build_model_folder(task, root / task), batch_size=2)
                for task in golden.HEADS}


def run_case(pipes, case):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the word-heuristic warning of token-classification
        return golden.to_json(pipes[case["task"]](case["inputs"], **case["kwargs"]))


def test_fixture_cases_are_the_tools_cases():
    assert [[c["task"], c["inputs"], c["kwargs"]] for c in EXPECTED] == golden.to_json(
        [list(case) for case in golden.CASES])


@pytest.mark.parametrize("index", range(len(EXPECTED)), ids=[f"{i}-{c['task']}" for i, c in enumerate(EXPECTED)])
def test_pipeline_output_equals_transformers_fixture(pipes, index):
    case = EXPECTED[index]
    ours = run_case(pipes, case)
    assert golden.compare_case(index, ours, case["expected"]) == []


def test_fixtures_cover_every_task_and_aggregation_strategy():
    assert {c["task"] for c in EXPECTED} == set(golden.HEADS)
    strategies = {c["kwargs"].get("aggregation_strategy", "none") for c in EXPECTED if c["task"] == "token-classification"}
    assert strategies == set(an.pipelines.AGGREGATION_STRATEGIES)


def test_fixture_entities_are_not_all_ignored():
    # a random head that labels everything "O" would make the token-classification comparison vacuous
    token_cases = [c for c in EXPECTED if c["task"] == "token-classification"]
    assert sum(len(r) for c in token_cases for r in c["expected"]) >= 20


def test_batch_size_does_not_change_results(pipes):
    texts = [c["inputs"] for c in EXPECTED if c["task"] == "token-classification"][0]
    pipe = pipes["token-classification"]
    one = an.pipeline("token-classification", model=pipe.model, tokenizer=pipe.tokenizer, batch_size=1)(texts)
    four = an.pipeline("token-classification", model=pipe.model, tokenizer=pipe.tokenizer, batch_size=4)(texts)
    assert golden.differences(four, one, rtol=1e-5) == []


def test_pipeline_leaves_no_backward_tape(pipes):
    pipe = pipes["text-classification"]
    pipe("The capital of France is Paris.")
    assert pipe.model.requires_grad is True  # restored after the run
    with pytest.raises(RuntimeError, match="backward"):
        pipe.model.backward({"logits": np.ones((1, 3), dtype=np.float32)})


def test_feature_extraction_returns_tensor_on_request(pipes):
    out = pipes["feature-extraction"]("hello world", return_tensors=True)
    as_list = pipes["feature-extraction"]("hello world")
    assert out.shape == (1, len(as_list[0]), 128)
    np.testing.assert_array_equal(out, np.asarray(as_list, dtype=out.dtype))


def test_question_answering_answer_is_the_context_slice(pipes):
    context = golden.CONTEXT
    answers = pipes["question-answering"](question="Where is Egypt?", context=context, top_k=4, max_seq_len=32,
                                           doc_stride=8)
    assert len(answers) == 4 and [a["score"] for a in answers] == sorted((a["score"] for a in answers), reverse=True)
    for a in answers:
        assert a["answer"] == context[a["start"]:a["end"]] and a["answer"].strip() == a["answer"]


@pytest.mark.filterwarnings("ignore:Some weights")
def test_pipeline_accepts_aliases_and_rejects_unknown_tasks():
    with pytest.raises(ValueError, match="unknown task 'summarization'.*fill-mask"):
        an.pipeline("summarization", model=str(golden.TINY))
    with pytest.raises(ValueError, match="needs model="):
        an.pipeline("fill-mask")
    assert type(an.pipeline("sentiment-analysis", model=str(golden.TINY))).__name__ == "TextClassificationPipeline"


def test_comparison_tolerates_last_bits_of_scores_but_nothing_else():
    ref = [{"label": "a", "score": 0.5, "start": 3}]
    assert golden.differences([{"label": "a", "score": 0.5 * (1 + 5e-5), "start": 3}], ref) == []
    assert golden.differences([{"label": "a", "score": 0.5 * (1 + 2e-4), "start": 3}], ref) != []
    assert golden.differences([{"label": "b", "score": 0.5, "start": 3}], ref) != []
    assert golden.differences([{"label": "a", "score": 0.5, "start": 4}], ref) != []
    assert golden.differences([{"score": 0.5, "label": "a", "start": 3}], ref) != []  # key order is compared
    assert golden.differences([], ref) != []


def test_question_answering_broadcasts_one_context_or_one_question(pipes):
    qa = pipes["question-answering"]
    questions = ["Where is Egypt?", "What is Lima?"]
    both = qa(question=questions, context=[golden.CONTEXT] * 2)
    assert golden.differences(qa(question=questions, context=golden.CONTEXT), both, rtol=1e-6) == []
    assert golden.differences(qa(question="Where is Egypt?", context=[golden.CONTEXT]), both[:1], rtol=1e-6) == []
    assert golden.differences(qa([{"question": q, "context": golden.CONTEXT} for q in questions]), both, rtol=1e-6) == []
