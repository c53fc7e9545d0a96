"""Execute the notebooks and store their outputs in them, so the repository's web view shows the pictures.

    python tools/run_notebooks.py                          # run every notebook in notebooks/ (float64), store outputs
    python tools/run_notebooks.py notebooks/01_tokenizer.ipynb      # only these
    python tools/run_notebooks.py --float32-too            # also time a float32 run (not stored)
    python tools/run_notebooks.py --check                  # exit 1 naming each notebook whose outputs are stale
    python tools/run_notebooks.py --summary                # the checks/figures table of the stored notebooks

Each notebook runs top to bottom in a fresh kernel (nbclient) with ALBERT_NP_NOTEBOOK_DTYPE=float64, this
checkout first on PYTHONPATH and notebooks/ as its working directory, and is written back in place with its
outputs. The notebook's metadata gets a stamp, ``"albert_np": {"source_sha256": ..., "dtype": "float64"}``:
the SHA-256 of its code cells' sources (`source_sha256`), so ``--check`` (and tests/test_notebooks.py) can tell
that the stored outputs were made from the current code without executing anything. Markdown edits do not
make outputs stale; any code edit does. Volatile metadata (execution timings) is not stored, so a re-run of
unchanged code changes nothing but what the code itself prints or draws differently.

The printed table (per notebook: run time, number of checks = occurrences of ``assert_close(`` and
``assert `` in code cells, number of figures = image/png outputs) is Markdown, for notes and PR texts.
"""

import argparse
import hashlib
import json
import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
sys.path.insert(0, str(ROOT))   # this checkout's albert_np, installed or not
from albert_np.io_utils import atomic_write_text  # noqa: E402
STAMP_KEY = "albert_np"
STORED_DTYPE = "float64"
CELL_TIMEOUT_S = 120
CHECK_RE = re.compile(r"\bassert_close\(|\bassert\s")
CELL_SEPARATOR = "\n\x00\n"  # between code cells in the hashed text (a NUL cannot occur in a notebook's code)


def load(path):
    """The notebook as a plain dict (json only: --check needs neither nbformat nor a kernel)."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def cell_source(cell):
    return cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])


def code_cells(nb):
    return [cell for cell in nb["cells"] if cell["cell_type"] == "code"]


def source_sha256(nb):
    """SHA-256 (hex) of the code cells' sources, in order, joined by CELL_SEPARATOR."""
    text = CELL_SEPARATOR.join(cell_source(cell) for cell in code_cells(nb))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def stale_reasons(nb):
    """Why the stored outputs of `nb` are not those of its current code: [] when they are.

    Current means: the stamp's hash is that of the code cells as they are now, the stamp says float64, and
    every non-empty code cell holds an execution count, the counts being 1, 2, 3, ... in order (one run, top
    to bottom; nbclient skips empty cells)."""
    stamp = nb.get("metadata", {}).get(STAMP_KEY)
    if not isinstance(stamp, dict) or "source_sha256" not in stamp:
        return ["no albert_np stamp in its metadata: it was never run by tools/run_notebooks.py"]
    reasons = []
    if stamp["source_sha256"] != source_sha256(nb):
        reasons.append("its code cells changed since the stored outputs were made (source_sha256 differs)")
    if stamp.get("dtype") != STORED_DTYPE:
        reasons.append(f"stored outputs are from dtype {stamp.get('dtype')!r}, not {STORED_DTYPE}")
    cells = [cell for cell in code_cells(nb) if cell_source(cell).strip()]
    missing = [i for i, cell in enumerate(cells) if cell.get("execution_count") is None]
    if missing:
        reasons.append(f"code cells {missing} (counting non-empty code cells from 0) hold no stored execution")
    elif [cell["execution_count"] for cell in cells] != list(range(1, len(cells) + 1)):
        reasons.append("execution counts are not 1, 2, 3, ...: the outputs are not from one top-to-bottom run")
    return reasons


def count_checks(nb):
    return sum(len(CHECK_RE.findall(cell_source(cell))) for cell in code_cells(nb))


def count_figures(nb):
    return sum("image/png" in output.get("data", {}) for cell in code_cells(nb) for output in cell.get("outputs", []))


def execute_notebook(path, dtype):
    """Run the notebook at `path` top to bottom in a fresh kernel in `dtype`; return (executed notebook
    node, seconds). Raises nbclient's CellExecutionError (naming the cell) on any error."""
    import nbclient
    import nbformat

    nb = nbformat.read(path, as_version=4)
    saved = {name: os.environ.get(name) for name in ("ALBERT_NP_NOTEBOOK_DTYPE", "PYTHONPATH")}
    os.environ["ALBERT_NP_NOTEBOOK_DTYPE"] = dtype
    # The kernel is a child process: this checkout first on its path, whatever albert_np is installed.
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), saved["PYTHONPATH"]]))
    try:
        client = nbclient.NotebookClient(
            nb, timeout=CELL_TIMEOUT_S, kernel_name="python3", record_timing=False,
            resources={"metadata": {"path": str(Path(path).parent)}},
        )  # fmt: skip
        start = time.perf_counter()
        client.execute()
        return nb, time.perf_counter() - start
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def store(path, executed, original_metadata):
    """Write `executed` back to `path` with its stamp and without volatile metadata."""
    import nbformat

    metadata = dict(original_metadata)
    metadata.setdefault("kernelspec", {"display_name": "Python 3", "language": "python", "name": "python3"})
    metadata.setdefault("language_info", {"name": "python"})  # not the kernel's: its version would churn
    executed.metadata = nbformat.from_dict(metadata)
    for cell in executed.cells:
        cell.metadata.pop("execution", None)  # timings, should a client record them anyway
    executed.metadata[STAMP_KEY] = {"source_sha256": source_sha256(executed), "dtype": STORED_DTYPE}
    nbformat.validate(executed)
    text = nbformat.writes(executed)
    atomic_write_text(path, text if text.endswith("\n") else text + "\n")   # interrupted: the old notebook stays whole


def notebook_paths(paths):
    found = [Path(p).resolve() for p in paths] if paths else sorted(NOTEBOOK_DIR.glob("*.ipynb"))
    missing = [str(p) for p in found if not p.is_file()]
    if missing:
        raise SystemExit(f"no such notebook: {', '.join(missing)}")
    if not found:
        raise SystemExit(f"no notebooks in {NOTEBOOK_DIR}")
    return found


def display_name(path):
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def print_table(rows, with_float32):
    """rows: (name, seconds float64 or None, seconds float32 or None, checks, figures)."""
    header = ["notebook", "run time (float64)"] + (["run time (float32)"] if with_float32 else []) + ["checks", "figures"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    seconds = lambda s: "-" if s is None else f"{s:.1f} s"  # noqa: E731
    for name, t64, t32, checks, figures in rows:
        cells = [name, seconds(t64)] + ([seconds(t32)] if with_float32 else []) + [str(checks), str(figures)]
        print("| " + " | ".join(cells) + " |")
    total = ["total", seconds(sum(r[1] for r in rows) if all(r[1] is not None for r in rows) else None)]
    if with_float32:
        total.append(seconds(sum(r[2] for r in rows) if all(r[2] is not None for r in rows) else None))
    print("| " + " | ".join(total + [str(sum(r[3] for r in rows)), str(sum(r[4] for r in rows))]) + " |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", help="notebooks to run (default: every notebooks/*.ipynb)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true",
                      help="execute nothing; exit 1 naming each notebook whose stored outputs are not current")
    mode.add_argument("--summary", action="store_true",
                      help="execute nothing; print checks and figures of the stored notebooks")
    parser.add_argument("--float32-too", action="store_true",
                        help="also run each notebook in float32 (outputs not stored) and report its time")
    args = parser.parse_args(argv)
    paths = notebook_paths(args.paths)

    if args.check:
        stale = 0
        for path in paths:
            reasons = stale_reasons(load(path))
            stale += bool(reasons)
            for reason in reasons:
                print(f"STALE {display_name(path)}: {reason}")
        if stale:
            print(f"{stale} notebook(s) with stale outputs: run `python tools/run_notebooks.py` and commit them")
            return 1
        print(f"stored outputs of {len(paths)} notebook(s) are current")
        return 0

    rows = []
    for path in paths:
        t64 = t32 = None
        if not args.summary:
            original_metadata = load(path).get("metadata", {})
            executed, t64 = execute_notebook(path, STORED_DTYPE)
            store(path, executed, original_metadata)
            if args.float32_too:
                t32 = execute_notebook(path, "float32")[1]
            print(f"ran {display_name(path)} in {t64:.1f} s" + ("" if t32 is None else f" (float32: {t32:.1f} s)"),
                  file=sys.stderr)
        nb = load(path)
        rows.append((path.name, t64, t32, count_checks(nb), count_figures(nb)))
    print_table(rows, args.float32_too)
    return 0


if __name__ == "__main__":
    sys.exit(main())
