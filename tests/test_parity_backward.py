"""Backward parity: albert_np gradients of every named parameter match the transformers fixtures."""

import importlib

import pytest

import golden_utils as gu

FORWARD_CASES = gu.case_names("forward")


@pytest.fixture(scope="module")
def an():
    """The albert_np package (an import error fails the tests rather than skipping them)."""
    return importlib.import_module("albert_np")


def check_gradients(an, name, dtype):
    """Run forward + backward on a golden case and assert every gradient is within the dtype's tolerance."""
    tolerance = gu.rtol(dtype, "gradients")
    case = gu.load_case(name)
    expected = case["expected"][dtype]
    model, _ = gu.run_forward(an, case, dtype)
    grads = gu.run_backward(model, expected)
    bad = gu.failures(gu.gradient_errors(grads, expected, an.to_numpy, case["class"]), tolerance)
    assert not bad, gu.format_failures(bad, tolerance)


@pytest.mark.parametrize("name", [pytest.param(n, id=f"{n}-float64") for n in FORWARD_CASES])
def test_gradients_match_transformers(an, name):
    """Float64 gradients (tied weights accumulated, inputs_embeds included) match within 1e-10."""
    check_gradients(an, name, "float64")


@pytest.mark.parametrize("name", [pytest.param(n, id=f"{n}-float32") for n in FORWARD_CASES])
def test_float32_gradients_match_transformers(an, name):
    """Float32 gradients match the float32 torch run within 1e-4."""
    check_gradients(an, name, "float32")
