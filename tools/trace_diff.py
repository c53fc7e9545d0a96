"""Print where albert_np and transformers part: every traced tensor of one golden case, values then gradients.

    python tools/trace_diff.py base-AlbertForMaskedLM            # against tests/golden/trace/ (no torch needed)
    python tools/trace_diff.py groups-AlbertModel --live         # against transformers run now (needs torch)
    python tools/trace_diff.py base-AlbertModel --all            # every tensor, not only up to the first difference

Names are albert_np's trace names (docs/trace.md); each line gives the relative error max|a - b| / max|b|
against the float64 tolerance of tests/golden_utils.py. The first line over the tolerance is where to look:
everything before it agrees, so the bug is in the step that produced it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

import golden_utils as gu  # noqa: E402
import trace_utils as tu  # noqa: E402


def reference(case_name, live):
    if not live:
        return tu.load_trace(case_name)
    sys.path.insert(0, str(ROOT / "tools"))
    import make_trace_golden as mtg

    mtg.mg.setup_torch()
    return tu.split(mtg.trace_case(gu.GOLDEN_DIR / case_name, gu.load_case(case_name)["class"]))


def report(title, errors, tolerance, show_all):
    print(f"== {title} (tolerance {tolerance:g})")
    first = tu.first_divergence(errors, tolerance)
    for name, err in errors.items():
        bad = isinstance(err, str) or not err <= tolerance
        print(f"{'DIFF' if bad else 'ok  '}  {name:50s} {err if isinstance(err, str) else f'{err:.2e}'}")
        if bad and not show_all:
            break
    print(f"first difference: {first[0]}" if first else "all agree")
    return first is None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("case", help=f"a golden case, e.g. {gu.case_names('forward')[0]}")
    ap.add_argument("--live", action="store_true", help="run transformers now instead of reading the fixture")
    ap.add_argument("--all", action="store_true", help="print every tensor, not only up to the first difference")
    args = ap.parse_args(argv)
    if args.case not in gu.case_names("forward"):
        ap.error(f"unknown case {args.case!r}; choose one of {gu.case_names('forward')}")
    import albert_np as an

    ref_values, ref_grads = reference(args.case, args.live)
    trace, trace_grads = tu.run_traced(an, gu.load_case(args.case))
    ok = report("forward values", tu.trace_errors(trace, ref_values, False), gu.rtol("float64", "outputs"), args.all)
    ok &= report("gradients", tu.trace_errors(trace_grads, ref_grads, True), gu.rtol("float64", "gradients"), args.all)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
