"""Training parity: ten albert_np AdamW steps reproduce torch.optim.AdamW losses and parameters."""

import importlib

import pytest

import golden_utils as gu

TOLERANCE = gu.rtol("float64", "adamw")


@pytest.fixture(scope="module")
def an():
    """The albert_np package (an import error fails the tests rather than skipping them)."""
    return importlib.import_module("albert_np")


@pytest.mark.parametrize("name", gu.case_names("adamw"))
def test_adamw_training_matches_torch(an, name):
    """Losses before each step and every parameter after the last step agree within 1e-9."""
    case = gu.load_case(name)
    losses, params = gu.run_adamw(an, case)
    errors = gu.adamw_errors(losses, params, case["expected"]["float64"], an.to_numpy)
    bad = gu.failures(errors, TOLERANCE)
    assert not bad, gu.format_failures(bad, TOLERANCE)
