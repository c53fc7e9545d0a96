"""Print a markdown table of albert_np's relative error against every golden transformers case.

Usage::

    python tools/parity_report.py [--backend numpy|cupy]

Rows are golden case × dtype; "outputs" is the largest relative error over all output fields
(loss, logits, hidden states, attentions, ...), "gradients" the largest over every parameter
gradient.  Relative error is max|ours - ref| / max|ref| per array.  A cell that is a word
rather than a number means the field was missing or albert_np raised.  Exits 1 if any cell
is over the tests' tolerance.
"""

import argparse
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO_ROOT), str(REPO_ROOT / "tests")]

import golden_utils as gu  # noqa: E402

FORWARD_TOLERANCE = {"float64": 1e-10, "float32": 1e-4}
GRADIENT_TOLERANCE = {"float64": 1e-9, "float32": 1e-4}
ADAMW_TOLERANCE = 1e-9


def summarize(errors):
    """The worst entry of an error dict: a message if any, else the largest relative error."""
    messages = sorted({err for err in errors.values() if isinstance(err, str)})
    if messages:
        return messages[0]
    return max(errors.values(), default=0.0)


def forward_row(an, name, dtype):
    """(outputs, gradients) summaries of one golden forward case in one dtype."""
    case = gu.load_case(name)
    expected = case["expected"][dtype]
    try:
        model, out = gu.run_forward(an, case, dtype)
        outputs = summarize(gu.output_errors(out, expected, an.to_numpy))
    except Exception as exc:  # a broken case is reported in the table, not fatal
        return f"error: {type(exc).__name__}", "not run"
    try:
        grads = gu.run_backward(model, expected)
        gradients = summarize(gu.gradient_errors(grads, expected, an.to_numpy, case["class"]))
    except Exception as exc:
        gradients = f"error: {type(exc).__name__}"
    return outputs, gradients


def adamw_row(an, name):
    """Summary of one AdamW case: max relative error over the loss curve and final parameters."""
    case = gu.load_case(name)
    try:
        losses, params = gu.run_adamw(an, case)
    except Exception as exc:
        return f"error: {type(exc).__name__}"
    return summarize(gu.adamw_errors(losses, params, case["expected"]["float64"], an.to_numpy))


def cell(value, tolerance):
    """A table cell: the error in scientific notation, flagged when over `tolerance`."""
    if isinstance(value, str):
        return f"**{value}**"
    text = f"{value:.1e}"
    return text if value <= tolerance else f"**{text}** (> {tolerance:g})"


def within(value, tolerance):
    """Whether a summary is a number within tolerance."""
    return not isinstance(value, str) and value <= tolerance


def build_table(an):
    """The markdown lines of the report and whether every cell is within tolerance."""
    manifest = gu.load_manifest()
    lines = [
        f"albert_np vs transformers {manifest['transformers_version']} (torch {manifest['torch_version']}),"
        f" backend `{gu.BACKEND}`, relative error = max|ours - ref| / max|ref|",
        "",
        "| case | class | dtype | outputs | gradients |",
        "|---|---|---|---|---|",
    ]
    ok = True
    for entry in manifest["cases"]:
        name, cls_name = entry["name"], entry["class"]
        if entry["kind"] == "adamw":
            value = adamw_row(an, name)
            ok &= within(value, ADAMW_TOLERANCE)
            lines.append(f"| {name} | {cls_name} (10 AdamW steps: losses, params) | float64 | "
                         f"{cell(value, ADAMW_TOLERANCE)} | |")
            continue
        for dtype in gu.DTYPES:
            outputs, gradients = forward_row(an, name, dtype)
            ok &= within(outputs, FORWARD_TOLERANCE[dtype]) and within(gradients, GRADIENT_TOLERANCE[dtype])
            lines.append(f"| {name} | {cls_name} | {dtype} | {cell(outputs, FORWARD_TOLERANCE[dtype])} | "
                         f"{cell(gradients, GRADIENT_TOLERANCE[dtype])} |")
    return lines, ok


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", default=gu.BACKEND, help="albert_np backend (default numpy)")
    args = parser.parse_args(argv)
    gu.BACKEND = args.backend
    import albert_np

    lines, ok = build_table(albert_np)
    print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
