"""Forward parity: albert_np outputs, hidden states, attentions and loss match the transformers fixtures."""

import importlib

import pytest

import golden_utils as gu



@pytest.fixture(scope="module")
def an():
    """The albert_np package (an import error fails the tests rather than skipping them)."""
    return importlib.import_module("albert_np")


def forward_params():
    """One parameter per golden forward case and dtype, id'd `<case>-<dtype>`."""
    return [pytest.param(name, dtype, id=f"{name}-{dtype}") for name in gu.case_names("forward") for dtype in gu.DTYPES]


@pytest.mark.parametrize("name, dtype", forward_params())
def test_forward_matches_transformers(an, name, dtype):
    """Every output field transformers returns is produced by albert_np and agrees within tolerance."""
    case = gu.load_case(name)
    _, out = gu.run_forward(an, case, dtype)
    errors = gu.output_errors(out, case["expected"][dtype], an.to_numpy)
    tolerance = gu.rtol(dtype, "outputs")
    bad = gu.failures(errors, tolerance)
    assert not bad, gu.format_failures(bad, tolerance)
