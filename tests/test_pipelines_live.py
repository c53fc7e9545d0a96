"""Pipelines against transformers' own, live, on the same saved folders (needs the `golden` extra).

The fixture cases of tools/make_pipeline_golden.py are rerun live, plus a broader set of generated texts
(synthetic reviews and facts) for every task and aggregation strategy. question-answering is compared with
transformers v4's algorithm written out on transformers' tokenizer and model
(tools/make_pipeline_golden.py: reference_question_answering), since transformers 5.24 has no such pipeline.
"""

import random
import warnings

import pytest

pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import albert_np as an  # noqa: E402
from albert_np import synthetic  # noqa: E402

from test_pipelines import golden  # noqa: E402

REVIEWS = synthetic.make_sentiment_dataset(24, seed=7)[0]


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("live-pipeline-models")
    return {task: golden.build_model_folder(task, root / task) for task in golden.HEADS}


@pytest.fixture(scope="module")
def ours(folders):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {task: an.pipeline(task, model=str(folder), batch_size=4) for task, folder in folders.items()}


@pytest.fixture(scope="module")
def theirs(folders):
    transformers.logging.set_verbosity_error()
    return {task: transformers.pipeline(task, model=str(folder)) for task, folder in folders.items()
            if task != "question-answering"}


def compare(task, mine, ref):
    if task == "feature-extraction":
        return golden.feature_differences(golden.to_json(mine), golden.to_json(ref), task)
    return golden.differences(golden.to_json(mine), golden.to_json(ref), task)


def test_fixture_cases_live(folders, ours):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # both libraries warn that SentencePiece pieces are not real words
        reference = golden.transformers_outputs(folders)
        for index, (task, inputs, kwargs) in enumerate(golden.CASES):
            assert golden.compare_case(index, golden.to_json(ours[task](inputs, **kwargs)), reference[index]) == []


def masked(texts, seed=0):
    """Each text with one of its words replaced by [MASK]."""
    rng = random.Random(seed)
    out = []
    for text in texts:
        words = text.split()
        words[rng.randrange(len(words))] = "[MASK]"
        out.append(" ".join(words))
    return out


@pytest.mark.parametrize("kwargs", [{}, {"top_k": 10}])
def test_fill_mask_live(ours, theirs, kwargs):
    texts = masked(REVIEWS)
    assert compare("fill-mask", ours["fill-mask"](texts, **kwargs), theirs["fill-mask"](texts, **kwargs)) == []


@pytest.mark.parametrize("kwargs", [{}, {"top_k": None}, {"function_to_apply": "none", "top_k": 2}])
def test_text_classification_live(ours, theirs, kwargs):
    texts = REVIEWS + [{"text": a, "text_pair": b} for a, b in zip(REVIEWS[:6], REVIEWS[6:12])]
    mine, ref = ours["text-classification"](texts, **kwargs), theirs["text-classification"](texts, **kwargs)
    assert compare("text-classification", mine, ref) == []


@pytest.mark.parametrize("strategy", ["none", "simple", "first", "average", "max"])
def test_token_classification_live(ours, theirs, strategy):
    texts = REVIEWS + golden.SENTENCES
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mine = ours["token-classification"](texts, aggregation_strategy=strategy)
        ref = theirs["token-classification"](texts, aggregation_strategy=strategy)
    assert sum(map(len, ref)) > len(texts)  # entities were found, so the comparison has content
    assert compare("token-classification", mine, ref) == []


def test_feature_extraction_live(ours, theirs):
    texts = REVIEWS[:8]
    mine, ref = ours["feature-extraction"](texts), theirs["feature-extraction"](texts)
    assert compare("feature-extraction", mine, ref) == []


@pytest.mark.parametrize("kwargs", [{}, {"top_k": 3, "max_seq_len": 48, "doc_stride": 16},
                                    {"handle_impossible_answer": True, "max_answer_len": 4}])
def test_question_answering_against_v4_algorithm(folders, ours, kwargs):
    context = " ".join(REVIEWS[:4])
    questions = ["what was brilliant?", "what did i hate?", "was the pizza good?", "what is amazing?"]
    items = [{"question": q, "context": context} for q in questions]
    ref = golden.reference_question_answering(folders["question-answering"], items, **kwargs)
    assert compare("question-answering", ours["question-answering"](items, **kwargs), ref) == []
