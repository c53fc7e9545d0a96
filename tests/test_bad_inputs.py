"""Bad inputs and faults against the public API: each gives a clear error, and nothing on disk is lost.

The cases live in tests/bad_inputs/<family>.py (see tests/bad_inputs/__init__.py for the record);
this file only runs them, so the table reads as one list per family.
"""

import importlib
import re

import pytest

from bad_inputs import FAMILIES, snapshot


def _load_cases():
    cases = []
    for family in FAMILIES:
        try:
            module = importlib.import_module(f"bad_inputs.{family}")
        except ModuleNotFoundError as exc:
            if exc.name != f"bad_inputs.{family}":
                raise
            continue
        cases += [pytest.param(family, case, id=f"{family}-{case.id}") for case in module.CASES]
    return cases


CASES = _load_cases()


def test_case_ids_are_unique():
    ids = [param.id for param in CASES]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


@pytest.mark.parametrize("family, case", CASES)
def test_bad_input_gives_a_clear_error(family, case, tmp_path):
    if case.setup is not None:
        case.setup(tmp_path)
    before = snapshot(tmp_path)
    with pytest.raises(case.raises) as info:
        case.run(tmp_path)
    message = str(info.value)
    assert re.search(case.match, message), f"message {message!r} does not match {case.match!r}"
    if case.unchanged:
        assert snapshot(tmp_path) == before, "the failed call changed files under its folder"
