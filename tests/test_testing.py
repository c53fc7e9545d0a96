"""albert_np.testing.assert_close: the dtype's tolerance by default, a message naming the value, NaN fails."""

import numpy as np
import pytest

from albert_np.testing import assert_close, default_rtol, rel_err


def test_default_rtol_follows_the_least_precise_float_dtype():
    assert default_rtol(np.zeros(2)) == 1e-10
    assert default_rtol(np.zeros(2), np.zeros(2, np.float32)) == 1e-4
    assert default_rtol(np.zeros(2, np.int64)) == 1e-10


def test_rel_err_is_max_abs_difference_over_max_abs_expected():
    assert rel_err([1.0, 2.0], [1.0, 4.0]) == pytest.approx(0.5)


def test_float32_rounding_passes_and_a_real_change_fails():
    x = np.linspace(-3, 3, 50)
    assert assert_close(x.astype(np.float32), x.astype(np.float32).astype(np.float64) * (1 + 1e-7)) < 1e-6
    with pytest.raises(AssertionError, match=r"logits: relative error 1\.0\d*e-03 > rtol 1e-04"):
        assert_close(x.astype(np.float32) * np.float32(1.001), x.astype(np.float32), name="logits")


def test_float64_needs_1e10():
    x = np.linspace(1, 2, 10)
    assert_close(x * (1 + 1e-12), x)
    with pytest.raises(AssertionError, match="relative error"):
        assert_close(x * (1 + 1e-8), x)


def test_shape_mismatch_and_nan_are_named():
    with pytest.raises(AssertionError, match=r"probs: shape \(2,\) != expected shape \(3,\)"):
        assert_close(np.zeros(2), np.zeros(3), name="probs")
    with pytest.raises(AssertionError, match="the actual value holds NaN"):
        assert_close(np.array([np.nan]), np.array([1.0]))


def test_default_rtol_reads_the_dtype_of_array_api_arrays():
    xps = pytest.importorskip("array_api_strict")
    assert default_rtol(xps.asarray([1.0], dtype=xps.float32)) == 1e-4
    assert assert_close(xps.asarray([1.0, 2.0], dtype=xps.float64), np.array([1.0, 2.0])) == 0.0
