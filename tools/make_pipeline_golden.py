"""Generate tests/golden/pipelines/expected.json: transformers' pipeline outputs on small ALBERT folders.

    python tools/make_pipeline_golden.py            # write expected.json
    python tools/make_pipeline_golden.py --check    # regenerate and compare; exit 1 naming what differs

The model folders are built, not stored: `build_model_folder(task, dst)` copies the bundled tiny-albert
(albert_np/data/tiny-albert: a real small ALBERT with its spiece.model) and, for the heads it lacks, adds
head weights drawn from NumPy's PCG64 with a fixed seed and an id2label naming the labels. The same function
builds the same bytes for tests/test_pipelines.py (no torch) and tests/test_pipelines_live.py.

transformers 5.24 has no question-answering pipeline: `reference_question_answering` writes out the algorithm
of transformers v4's QuestionAnsweringPipeline on transformers' own tokenizer (offsets, word_to_chars) and model.

--check compares scores with a relative tolerance of 1e-4 (they are float32 from torch and move in the last bits
between CPUs) and everything else (labels, tokens, spans, strings, structure) exactly.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from albert_np.checkpoint import read_checkpoint_dir, write_safetensors  # noqa: E402

TINY = ROOT / "albert_np" / "data" / "tiny-albert"
EXPECTED = ROOT / "tests" / "golden" / "pipelines" / "expected.json"
SCORE_RTOL = 1e-4
TOKENIZER_FILES = ("spiece.model", "tokenizer_config.json", "special_tokens_map.json")

# task -> (architecture, id2label or None, head weight shapes (hidden 128), scale of the random head weights)
HEADS = {
    "fill-mask": ("AlbertForMaskedLM", None, {}, 0.0),
    "feature-extraction": ("AlbertModel", None, {}, 0.0),
    "text-classification": ("AlbertForSequenceClassification", ["negative", "neutral", "positive"],
                            {"classifier.weight": (3, 128), "classifier.bias": (3,)}, 0.5),
    "token-classification": ("AlbertForTokenClassification", ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"],
                             {"classifier.weight": (5, 128), "classifier.bias": (5,)}, 0.5),
    "question-answering": ("AlbertForQuestionAnswering", None,
                           {"qa_outputs.weight": (2, 128), "qa_outputs.bias": (2,)}, 0.5),
}

SENTENCES = [
    "The capital of France is Paris.",
    "People in Brazil speak Portuguese, and Rome is the capital of Italy.",
    "Egypt is a country in Africa; its capital is Cairo.",
    "john smith lives in japan",
]
CONTEXT = ("The capital of Japan is Tokyo. People in Brazil speak Portuguese. Rome is the capital of Italy. "
           "Egypt is a country in Africa and its capital is Cairo. The capital of Peru is Lima.")

# (task, inputs, keyword arguments): every call the fixture and live tests make.
CASES = [
    ("fill-mask", "The capital of [MASK] is Paris.", {}),
    ("fill-mask", ["The capital of Japan is [MASK].", "Rome is the capital of [MASK].",
                   "People in Brazil speak [MASK]."], {"top_k": 3}),
    ("fill-mask", "Rome is the [MASK] of [MASK].", {"top_k": 2}),
    ("fill-mask", "Egypt is a country in [MASK].", {"targets": ["africa", "europe", "asia"]}),
    ("text-classification", SENTENCES[0], {}),
    ("text-classification", SENTENCES, {}),
    ("text-classification", SENTENCES[:2], {"top_k": None}),
    ("text-classification", SENTENCES[1], {"top_k": 2}),
    ("text-classification", {"text": SENTENCES[0], "text_pair": SENTENCES[2]}, {}),
    ("text-classification", SENTENCES[2], {"function_to_apply": "sigmoid", "top_k": None}),
    ("token-classification", SENTENCES, {}),
    ("token-classification", SENTENCES, {"aggregation_strategy": "simple"}),
    ("token-classification", SENTENCES, {"aggregation_strategy": "first"}),
    ("token-classification", SENTENCES, {"aggregation_strategy": "average"}),
    ("token-classification", SENTENCES, {"aggregation_strategy": "max"}),
    ("token-classification", SENTENCES[1], {"ignore_labels": []}),
    ("question-answering", {"question": "What is the capital of Japan?", "context": CONTEXT}, {}),
    ("question-answering", {"question": "Who speaks Portuguese?", "context": CONTEXT}, {"top_k": 3}),
    ("question-answering", {"question": "Where is Egypt?", "context": CONTEXT},
     {"max_seq_len": 32, "doc_stride": 8, "top_k": 2}),
    ("question-answering", {"question": "What is Lima?", "context": CONTEXT},
     {"handle_impossible_answer": True, "max_answer_len": 3, "max_seq_len": 40, "doc_stride": 16}),
    ("question-answering", {"question": "capital?", "context": "Rome is the capital of Italy."},
     {"align_to_words": False, "top_k": 5}),
    ("feature-extraction", ["hello world", "The capital of France is Paris."], {}),
]


def build_model_folder(task: str, dst) -> Path:
    """A save_pretrained-style folder for `task`: the bundled tiny ALBERT with a seeded random head."""
    architecture, labels, head_shapes, scale = HEADS[task]
    dst = Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    for name in TOKENIZER_FILES:
        shutil.copyfile(TINY / name, dst / name)
    config = json.loads((TINY / "config.json").read_text())
    config["architectures"] = [architecture]
    if labels is not None:
        config["id2label"] = {str(i): label for i, label in enumerate(labels)}
        config["label2id"] = {label: i for i, label in enumerate(labels)}
    tensors = dict(read_checkpoint_dir(TINY))
    rng = np.random.default_rng(sorted(HEADS).index(task))
    for key, shape in head_shapes.items():
        tensors[key] = (rng.standard_normal(shape) * scale).astype(np.float32)
    write_safetensors(dst / "model.safetensors", tensors, metadata={"format": "pt"})
    (dst / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    return dst


def reference_question_answering(model_dir, inputs, top_k=1, max_answer_len=15, handle_impossible_answer=False,
                                 max_seq_len=None, doc_stride=None, align_to_words=True):
    """transformers v4's QuestionAnsweringPipeline (preprocess, _forward, postprocess), on transformers' objects."""
    import torch
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForQuestionAnswering.from_pretrained(model_dir).eval()
    max_seq_len = min(tok.model_max_length, 384) if max_seq_len is None else max_seq_len
    doc_stride = min(max_seq_len // 2, 128) if doc_stride is None else doc_stride
    single = isinstance(inputs, dict)
    results = []
    for item in [inputs] if single else inputs:
        question, context = item["question"], item["context"]
        enc = tok(question, context, truncation="only_second", max_length=max_seq_len, stride=doc_stride,
                  return_token_type_ids=True, return_overflowing_tokens=True, return_offsets_mapping=True,
                  return_special_tokens_mask=True)
        min_null_score, answers = 1000000, []
        for span in range(len(enc["input_ids"])):
            ids = enc["input_ids"][span]
            p_mask = np.array([tok_seq != 1 for tok_seq in enc.sequence_ids(span)], dtype=int)
            p_mask[np.nonzero(np.array(ids) == tok.cls_token_id)[0]] = 0
            with torch.no_grad():
                out = model(input_ids=torch.tensor([ids]), attention_mask=torch.tensor([enc["attention_mask"][span]]),
                            token_type_ids=torch.tensor([enc["token_type_ids"][span]]))
            start, end = out.start_logits[0].numpy(), out.end_logits[0].numpy()
            undesired = np.abs(p_mask - 1) & np.array(enc["attention_mask"][span])
            start = np.where(undesired == 0, -10000.0, start)
            end = np.where(undesired == 0, -10000.0, end)
            start = np.exp(start - start.max(axis=-1, keepdims=True))
            start = start / start.sum()
            end = np.exp(end - end.max(axis=-1, keepdims=True))
            end = end / end.sum()
            if handle_impossible_answer:
                min_null_score = min(min_null_score, (start[0] * end[0]).item())
            start[0] = end[0] = 0.0
            outer = np.matmul(start[None, :, None], end[None, None, :])
            candidates = np.tril(np.triu(outer), max_answer_len - 1)
            flat = candidates.flatten()
            if top_k == 1:
                order = [np.argmax(flat)]
            elif len(flat) < top_k:
                order = np.argsort(-flat)
            else:
                idx = np.argpartition(-flat, top_k)[0:top_k]
                order = idx[np.argsort(-flat[idx])]
            starts, ends = np.unravel_index(order, candidates.shape)[1:]
            keep = np.isin(starts, undesired.nonzero()) & np.isin(ends, undesired.nonzero())
            encoding = enc.encodings[span]
            for s, e in zip(starts[keep], ends[keep]):
                score = candidates[0, s, e]
                if align_to_words:
                    try:
                        begin = encoding.word_to_chars(encoding.token_to_word(s), sequence_index=1)[0]
                        stop = encoding.word_to_chars(encoding.token_to_word(e), sequence_index=1)[1]
                    except Exception:
                        begin, stop = encoding.offsets[s][0], encoding.offsets[e][1]
                else:
                    begin, stop = encoding.offsets[s][0], encoding.offsets[e][1]
                answers.append({"score": score.item(), "start": begin, "end": stop, "answer": context[begin:stop]})
        if handle_impossible_answer:
            answers.append({"score": min_null_score, "start": 0, "end": 0, "answer": ""})
        answers = sorted(answers, key=lambda x: x["score"], reverse=True)[:top_k]
        results.append(answers[0] if len(answers) == 1 else answers)
    return results[0] if single else results


def to_json(value):
    """transformers' results as plain JSON values (NumPy scalars and arrays become floats and lists)."""
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if hasattr(value, "tolist"):
        return to_json(value.tolist())
    return value


def transformers_outputs(folders: dict) -> list:
    """What transformers returns for every case in CASES (folders: task -> model folder)."""
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    pipes = {}
    outputs = []
    for task, inputs, kwargs in CASES:
        if task == "question-answering":
            outputs.append(to_json(reference_question_answering(folders[task], inputs, **kwargs)))
            continue
        if task not in pipes:
            pipes[task] = transformers.pipeline(task, model=str(folders[task]))
        outputs.append(to_json(pipes[task](inputs, **kwargs)))
    return outputs


def differences(ours, ref, where="", rtol=SCORE_RTOL) -> list[str]:
    """Where `ours` differs from `ref`: floats beyond rtol (relative to |ref|), anything else not equal."""
    if isinstance(ref, dict):
        if not isinstance(ours, dict) or list(ours) != list(ref):
            return [f"{where}: keys {list(ours) if isinstance(ours, dict) else type(ours).__name__} != {list(ref)}"]
        return [d for k in ref for d in differences(ours[k], ref[k], f"{where}.{k}", rtol)]
    if isinstance(ref, list):
        if not isinstance(ours, list) or len(ours) != len(ref):
            return [f"{where}: {type(ours).__name__} of length {len(ours) if isinstance(ours, list) else '-'} "
                    f"!= list of length {len(ref)}"]
        return [d for i, (a, b) in enumerate(zip(ours, ref)) for d in differences(a, b, f"{where}[{i}]", rtol)]
    if isinstance(ref, float) and isinstance(ours, (int, float)) and not isinstance(ours, bool):
        ok = math.isclose(ours, ref, rel_tol=rtol, abs_tol=rtol * 1e-6)
        return [] if ok else [f"{where}: {ours!r} != {ref!r} (rtol {rtol})"]
    if type(ours) is not type(ref) or ours != ref:
        return [f"{where}: {ours!r} != {ref!r}"]
    return []


def feature_differences(ours, ref, where, rtol=SCORE_RTOL) -> list[str]:
    """feature-extraction: one max relative error per input (max|ours - ref| / max|ref|)."""
    out = []
    for i, (a, b) in enumerate(zip(ours, ref)):
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        if a.shape != b.shape:
            out.append(f"{where}[{i}]: shape {a.shape} != {b.shape}")
        elif np.abs(a - b).max() > rtol * np.abs(b).max():
            out.append(f"{where}[{i}]: max relative error {np.abs(a - b).max() / np.abs(b).max():.2e} > {rtol}")
    return out


def compare_case(index: int, ours, ref) -> list[str]:
    task = CASES[index][0]
    where = f"case {index} ({task})"
    if task == "feature-extraction":
        return feature_differences(ours, ref, where)
    return differences(ours, ref, where)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="regenerate and compare with the committed file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folders = {task: build_model_folder(task, Path(tmp) / task) for task in HEADS}
        outputs = transformers_outputs(folders)
    document = {"cases": [{"task": t, "inputs": i, "kwargs": k, "expected": o}
                          for (t, i, k), o in zip(CASES, outputs)]}
    if args.check:
        committed = json.loads(EXPECTED.read_text())["cases"]
        problems = [] if len(committed) == len(outputs) else [f"{len(committed)} committed cases, {len(outputs)} now"]
        for i, (old, new) in enumerate(zip(committed, document["cases"])):
            if [old["task"], old["inputs"], old["kwargs"]] != to_json([new["task"], new["inputs"], new["kwargs"]]):
                problems.append(f"case {i}: inputs changed")
            problems += compare_case(i, new["expected"], old["expected"])
        for p in problems[:20]:
            print(p)
        print(f"{len(outputs)} pipeline cases: " + ("differ, rerun tools/make_pipeline_golden.py" if problems else "ok"))
        return 1 if problems else 0
    EXPECTED.parent.mkdir(parents=True, exist_ok=True)
    EXPECTED.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {EXPECTED.relative_to(ROOT)}: {len(outputs)} cases")
    return 0


if __name__ == "__main__":
    sys.exit(main())
