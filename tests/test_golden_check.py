"""The fixture drift checks fail on real changes and pass on rounding (tools/make_golden.py --check,
tools/make_tokenizer_golden.py --check).

One regeneration (about 2 s) is compared against copies of the committed fixtures with one thing
changed each: a value moved by 1e-3 relative (drift) must fail, a value moved by rounding-sized
amounts must pass, a renamed key, a changed config field, id or dtype must fail.
"""

import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import golden_utils as gu

pytest.importorskip("transformers")
pytest.importorskip("torch")
safetensors_numpy = pytest.importorskip("safetensors.numpy")

TOOLS = Path(__file__).resolve().parent.parent / "tools"


def load_tool(name):
    spec = importlib.util.spec_from_file_location(name, TOOLS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def make_golden():
    return load_tool("make_golden")


@pytest.fixture(scope="module")
def regenerated(make_golden, tmp_path_factory):
    """The fixtures regenerated here, computed on the committed weights and inputs (as --check does)."""
    out = tmp_path_factory.mktemp("regenerated") / "golden"
    out.mkdir()
    make_golden.generate(out, source_dir=gu.GOLDEN_DIR)
    return out


@pytest.fixture
def committed(tmp_path):
    """A scratch copy of the committed fixtures (without the tokenizer's), to change one thing in."""
    copy = tmp_path / "golden"
    shutil.copytree(gu.GOLDEN_DIR, copy, ignore=shutil.ignore_patterns("tokenizer", "pipelines"))
    return copy


def edit_npz(path, edit):
    arrays = gu.load_npz(path)
    edit(arrays)
    np.savez(path.with_suffix(""), **arrays)  # np.savez appends .npz


def move_largest(array, relative):
    """`array` with its largest |value| moved by `relative` of max|array| (so rel_err == relative)."""
    array = array.copy()
    index = np.unravel_index(np.argmax(np.abs(array)), array.shape)
    array[index] += relative * np.abs(array).max()
    return array


def diffs_after(make_golden, regenerated, committed):
    diffs, _, _ = make_golden.check(regenerated, committed)
    return diffs


def test_unchanged_fixtures_pass_and_report_their_largest_errors(make_golden, regenerated, committed):
    diffs, _, worst = make_golden.check(regenerated, committed)
    assert diffs == []
    assert {line.split(" error ")[0] for line in worst} == {
        f"largest {dtype} {what}" for dtype, what in gu.RTOL}


@pytest.mark.parametrize("file, key, relative, fails", [
    ("base-AlbertForMaskedLM/expected_float64.npz", "logits", 1e-3, True),
    ("base-AlbertForMaskedLM/expected_float64.npz", "logits", 1e-13, False),
    ("groups-AlbertForPreTraining/expected_float32.npz", "grad.albert.embeddings.word_embeddings.weight", 1e-3, True),
    ("groups-AlbertForPreTraining/expected_float32.npz", "grad.albert.embeddings.word_embeddings.weight", 5e-6, False),
    ("base-AlbertForQuestionAnswering/expected_float32.npz", "start_logits", 1e-3, True),
    ("adamw-AlbertForPreTraining/expected_float64.npz", "losses", 1e-3, True),
    ("adamw-AlbertForPreTraining/expected_float64.npz", "losses", 1e-11, False),
    ("base-AlbertModel-inputs_embeds/inputs.npz", "inputs_embeds", 1e-3, True),
    ("base-AlbertModel/expected_float64.npz", "dout.pooler_output", 1e-3, True),
])
def test_a_moved_value_fails_on_drift_and_passes_on_rounding(make_golden, regenerated, committed,
                                                             file, key, relative, fails):
    edit_npz(committed / file, lambda arrays: arrays.update({key: move_largest(arrays[key], relative)}))
    diffs = diffs_after(make_golden, regenerated, committed)
    if fails:
        assert len(diffs) == 1 and f"{file}: {key} rel err" in diffs[0], diffs
    else:
        assert diffs == []


def test_a_moved_weight_fails(make_golden, regenerated, committed):
    path = committed / "base-AlbertModel" / "model.safetensors"
    tensors = safetensors_numpy.load_file(path)
    key = "encoder.embedding_hidden_mapping_in.weight"
    tensors[key] = move_largest(tensors[key], 1e-3)
    safetensors_numpy.save_file(tensors, path, metadata={"format": "pt"})
    diffs = diffs_after(make_golden, regenerated, committed)
    assert any(f"base-AlbertModel/model.safetensors: {key} rel err" in d for d in diffs), diffs


@pytest.mark.parametrize("change, expected", [
    ("rename_key", "array 'logits' missing from the committed file"),
    ("change_dtype", "logits is float32[3, 8, 99] vs committed float64"),
    ("change_id", "input_ids differs (1 of"),
    ("change_config", "hidden_act differs"),
    ("drop_case", "committed but not generated"),
])
def test_structural_changes_fail_exactly(make_golden, regenerated, committed, change, expected):
    case = committed / "base-AlbertForMaskedLM"
    if change == "rename_key":
        edit_npz(case / "expected_float32.npz", lambda a: a.update(logits_renamed=a.pop("logits")))
    elif change == "change_dtype":
        edit_npz(case / "expected_float32.npz", lambda a: a.update(logits=a["logits"].astype(np.float64)))
    elif change == "change_id":
        def bump(a):
            a["input_ids"] = a["input_ids"].copy()
            a["input_ids"][0, 0] += 1
        edit_npz(case / "inputs.npz", bump)
    elif change == "change_config":
        config = json.loads((case / "config.json").read_text())
        config["hidden_act"] = "relu"
        (case / "config.json").write_text(json.dumps(config))
    else:
        shutil.copytree(case, committed / "extra-case")
    diffs = diffs_after(make_golden, regenerated, committed)
    assert any(expected in d for d in diffs), diffs


# ----------------------------------------------------------------------------- tokenizer fixtures


@pytest.fixture(scope="module")
def make_tokenizer_golden():
    pytest.importorskip("sentencepiece.sentencepiece_model_pb2")
    return load_tool("make_tokenizer_golden")


def edited_model(make_tokenizer_golden, edit):
    from sentencepiece import sentencepiece_model_pb2

    model = sentencepiece_model_pb2.ModelProto()
    model.ParseFromString((make_tokenizer_golden.GOLDEN_DIR / "spiece.model").read_bytes())
    edit(model)
    return model.SerializeToString()


@pytest.mark.parametrize("edit, fails", [
    (lambda m: None, False),
    (lambda m: setattr(m.pieces[10], "score", m.pieces[10].score * (1 + 1e-7)), False),
    (lambda m: setattr(m.pieces[10], "score", m.pieces[10].score - 0.05), True),
    (lambda m: setattr(m.pieces[10], "piece", m.pieces[10].piece + "x"), True),
    (lambda m: setattr(m.pieces[10], "type", 2), True),
    (lambda m: setattr(m.normalizer_spec, "add_dummy_prefix", False), True),
], ids=["same", "score_rounding", "score_drift", "piece_text", "piece_type", "normalizer"])
def test_tokenizer_model_check_tells_rounding_from_drift(make_tokenizer_golden, edit, fails):
    committed = (make_tokenizer_golden.GOLDEN_DIR / "spiece.model").read_bytes()
    diffs = make_tokenizer_golden.model_differences(committed, edited_model(make_tokenizer_golden, edit))
    assert bool(diffs) == fails, diffs


def test_tokenizer_expected_outputs_compare_exactly(make_tokenizer_golden):
    old = {"configs": [{"outputs": [{"input_ids": [2, 10, 3]}]}]}
    new = {"configs": [{"outputs": [{"input_ids": [2, 11, 3]}]}]}
    assert make_tokenizer_golden.differences(old, new) == [
        "expected.json/configs/0/outputs/0/input_ids/1: 10 committed vs 11 regenerated"]
    assert make_tokenizer_golden.differences(old, old) == []
