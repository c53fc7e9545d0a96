"""Is this array the one expected, to the rounding of its dtype? (the notebooks' checks, and yours)

Like `torch.testing.assert_close`, but with the project's one measure of difference, the relative error
max|actual - expected| / max|expected| (docs/parity.md), and a default tolerance chosen by the dtype:
float64 rounding through a dozen layers stays below 1e-13, so 1e-10 tells rounding from a wrong formula;
float32 rounding (eps 1.2e-7) grows to a few 1e-6 through the layers, so 1e-4. A real mistake (a missing
term, a transposed weight, another seed) moves values by 1e-3 or more.
"""

import numpy as np

from .backend import to_numpy

DEFAULT_RTOL = {"float64": 1e-10, "float32": 1e-4, "float16": 1e-2}


def default_rtol(*arrays):
    """The tolerance for the least precise floating dtype among `arrays` (float64's when none is float)."""
    # The dtype of the host copy: it is a NumPy dtype for every backend (CuPy, array-API namespaces too).
    dtypes = [to_numpy(a).dtype for a in arrays if hasattr(a, "dtype")]
    dtypes = [d for d in dtypes if d.kind == "f"]
    return max((DEFAULT_RTOL.get(str(d), 1e-2) for d in dtypes), default=DEFAULT_RTOL["float64"])


def rel_err(actual, expected):
    """max|actual - expected| / max|expected| in float64 (1e-30 floors the denominator); shapes must match."""
    a = np.asarray(to_numpy(actual), dtype=np.float64)
    b = np.asarray(to_numpy(expected), dtype=np.float64)
    if a.shape != b.shape:
        raise AssertionError(f"shape {a.shape} != expected shape {b.shape}")
    diff = np.max(np.abs(a - b), initial=0.0)
    return float(diff / max(np.max(np.abs(b), initial=0.0), 1e-30))


def assert_close(actual, expected, *, rtol=None, name="value"):
    """Raise AssertionError unless rel_err(actual, expected) <= rtol; return the relative error.

    `rtol` defaults to `default_rtol(actual, expected)`. NaN or inf anywhere fails. Works on NumPy and
    CuPy arrays, lists and scalars.
    """
    rtol = default_rtol(actual, expected) if rtol is None else float(rtol)
    for label, value in (("actual", actual), ("expected", expected)):
        if not np.all(np.isfinite(np.asarray(to_numpy(value), dtype=np.float64))):
            raise AssertionError(f"{name}: the {label} value holds NaN or inf")
    try:
        err = rel_err(actual, expected)
    except AssertionError as e:
        raise AssertionError(f"{name}: {e}") from None
    if not err <= rtol:
        raise AssertionError(f"{name}: relative error {err:.3e} > rtol {rtol:.0e}; if this is only rounding, "
                             f"compare in float64, else the two computations differ")
    return err
