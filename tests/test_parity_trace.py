"""Every traced intermediate and its gradient match transformers' own, tensor by tensor (float64, 1e-10).

The fixtures are transformers' module outputs recorded with forward hooks and their gradients with
retain_grad (tools/make_trace_golden.py), for every forward case of the golden set: every head.
"""

import importlib

import pytest

import golden_utils as gu
import trace_utils as tu

CASES = gu.case_names("forward")


@pytest.fixture(scope="module")
def an():
    return importlib.import_module("albert_np")


@pytest.mark.parametrize("name", CASES)
def test_every_traced_tensor_and_its_gradient_match_transformers(an, name):
    case = gu.load_case(name)
    ref_values, ref_grads = tu.load_trace(name)
    trace, trace_grads = tu.run_traced(an, case)
    assert list(trace) == list(ref_values), "albert_np traces other names, or in another order, than transformers"
    for what, ours, ref, quantity in (("value", trace, ref_values, "outputs"), ("gradient", trace_grads, ref_grads,
                                                                               "gradients")):
        tolerance = gu.rtol("float64", quantity)
        first = tu.first_divergence(tu.trace_errors(ours, ref, is_grad=what == "gradient"), tolerance)
        assert first is None, f"first {what} that differs: {first[0]} ({first[1]}); tools/trace_diff.py {name}"


def test_the_golden_trace_covers_every_head_and_every_step():
    heads = {gu.load_case(n)["class"] for n in CASES}
    assert len(heads) == 7
    values, grads = tu.load_trace("groups-AlbertForPreTraining")
    layers = {n.split(".")[2] for n in values if n.startswith("encoder.layer.")}
    assert layers == {str(i) for i in range(8)}          # 4 layers x inner_group_num 2, counted as executed
    assert {"encoder.layer.7.attention.scores", "predictions.decoder", "sop_classifier", "pooler"} <= set(grads)
