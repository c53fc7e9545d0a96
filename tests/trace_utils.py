"""Comparing albert_np's trace (out.trace, model.trace_grads) with the golden trace of transformers.

The fixtures (tests/golden/trace/<case>.npz, from tools/make_trace_golden.py) hold `value.<name>` and
`grad.<name>` for every tensor transformers computed, in float64. Used by tests/test_parity_trace.py and
tools/trace_diff.py.
"""

import numpy as np

import golden_utils as gu

TRACE_DIR = gu.GOLDEN_DIR / "trace"


def load_trace(case_name):
    """The golden trace of one case: ({name: value}, {name: grad}), names in transformers' execution order."""
    return split(gu.load_npz(TRACE_DIR / f"{case_name}.npz"))


def split(arrays):
    """({name: value}, {name: grad}) from a trace npz's arrays, in the order of its `names`."""
    names = [str(n) for n in arrays["names"]]
    return ({n: arrays[f"value.{n}"] for n in names},
            {n: arrays[f"grad.{n}"] for n in names if f"grad.{n}" in arrays})


def run_traced(an, case, dtype="float64"):
    """albert_np's forward (output_trace=True) and backward on a golden case: (trace, trace_grads)."""
    model = gu.load_model(an, case["class"], case["dir"], dtype)
    out = model(**gu.cast_inputs(case["inputs"], dtype), output_trace=True)
    gu.run_backward(model, case["expected"][dtype])
    return {k: an.to_numpy(v) for k, v in out.trace.items()}, {k: an.to_numpy(v) for k, v in model.trace_grads.items()}


def align(ours, ref, is_grad):
    """Ours in the reference's shape. transformers looks position embeddings up once for the batch ([1, S, E])
    when no position_ids are given: the value is then every row of ours, the gradient the sum over ours' rows."""
    if ours.shape != ref.shape and ref.shape[0] == 1 and ours.shape[1:] == ref.shape[1:]:
        if is_grad:
            return ours.sum(axis=0, keepdims=True)
        if not np.all(ours == ours[:1]):
            return ours                      # rows differ: report the shape mismatch
        return ours[:1]
    return ours


def trace_errors(ours, ref, is_grad):
    """{name: relative error or a message} for every name of either side, in the reference's order."""
    errors = {}
    for name in list(ref) + [n for n in ours if n not in ref]:
        if name not in ours:
            errors[name] = "missing from albert_np"
        elif name not in ref:
            errors[name] = "not in transformers' trace"
        else:
            a = align(ours[name], ref[name], is_grad)
            errors[name] = (f"shape {a.shape}, expected {ref[name].shape}" if a.shape != ref[name].shape
                            else gu.rel_err(a, ref[name]))
    return errors


def first_divergence(errors, tolerance):
    """The first (name, error) in order whose error is above `tolerance` or a message; None if all agree."""
    for name, err in errors.items():
        if isinstance(err, str) or not err <= tolerance:
            return name, err
    return None
