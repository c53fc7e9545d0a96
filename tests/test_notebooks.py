"""The notebook series in notebooks/: there, self-checking, runnable in both dtypes, stored with current outputs.

The notebooks teach ALBERT by stepping through albert_np, each cell asserting its step against a reference.
They are committed with their outputs (made by tools/run_notebooks.py in float64), so that the repository's
web view shows the pictures; the stamp in each notebook's metadata says which code made those outputs.
This test runs every notebook top to bottom in a fresh kernel in float64 and in float32 (results not
stored), and checks that the stored outputs are those of the current code.
"""

import copy
import importlib.util
import json
import os
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
SERIES = [
    "01_tokenizer", "02_forward_pass", "03_looking_inside", "04_the_seven_heads",
    "05_pretraining_objectives", "06_backprop_of_every_op", "07_backends_and_precision",
]  # fmt: skip
DTYPES = ["float64", "float32"]
MIN_FIGURES = 10
CELL_TIMEOUT_S = 120
ALLOWED_IMPORTS = {"albert_np", "numpy", "matplotlib"} | set(sys.stdlib_module_names)
IMPORT_RE = re.compile(r"^\s*(?:import|from)\s+([A-Za-z_][A-Za-z0-9_]*)", re.MULTILINE)
# A private name: attribute access `x._name` or an imported `_name` (dunders such as __file__ are fine).
PRIVATE_RE = re.compile(r"\._[A-Za-z0-9]|^\s*from\s+\S+\s+import\s+.*\b_[A-Za-z0-9]", re.MULTILINE)

spec = importlib.util.spec_from_file_location("run_notebooks", ROOT / "tools" / "run_notebooks.py")
run_notebooks = importlib.util.module_from_spec(spec)  # tools/ is not a package
spec.loader.exec_module(run_notebooks)
code_cells, source = run_notebooks.code_cells, run_notebooks.cell_source


def notebook(name):
    path = NOTEBOOK_DIR / f"{name}.ipynb"
    assert path.is_file(), f"{path.relative_to(ROOT)} is missing from the series"
    return json.loads(path.read_text(encoding="utf-8"))


def test_series_exists_with_the_seven_notebooks_and_nothing_else():
    found = sorted(p.stem for p in NOTEBOOK_DIR.glob("*.ipynb"))
    assert found == SERIES, f"notebooks/ holds {found}, the series is {SERIES}"


@pytest.mark.parametrize("name", SERIES)
def test_stored_outputs_are_from_the_notebooks_current_code_cells(name):
    reasons = run_notebooks.stale_reasons(notebook(name))
    assert not reasons, (f"notebooks/{name}.ipynb: {'; '.join(reasons)}. Run "
                         f"`python tools/run_notebooks.py notebooks/{name}.ipynb` and commit the notebook.")


@pytest.mark.parametrize("name", SERIES)
def test_imports_only_albert_np_numpy_matplotlib_and_stdlib(name):
    modules = {m for cell in code_cells(notebook(name)) for m in IMPORT_RE.findall(source(cell))}
    assert modules <= ALLOWED_IMPORTS, f"{name} imports {sorted(modules - ALLOWED_IMPORTS)}"


@pytest.mark.parametrize("name", SERIES)
def test_uses_no_private_names(name):
    found = [(i, m.group().strip()) for i, cell in enumerate(code_cells(notebook(name)))
             for m in PRIVATE_RE.finditer(source(cell))]  # fmt: skip
    assert not found, f"{name}: private names in code cells (index, match): {found}; use the public API or the trace"


@pytest.mark.parametrize("name", SERIES)
def test_ends_with_exercises_whose_solutions_are_tagged(name):
    cells = notebook(name)["cells"]
    heads = [i for i, c in enumerate(cells) if c["cell_type"] == "markdown" and source(c).startswith("## Exercises")]
    assert heads, f"{name} has no '## Exercises' markdown cell"
    tail = cells[heads[-1] + 1 :]
    tasks, solutions = tail[0::2], tail[1::2]
    assert 2 <= len(solutions) <= 3 and len(tasks) == len(solutions), (
        f"{name}: after '## Exercises' expected 2-3 pairs of (markdown task, solution code cell), "
        f"got cells {[c['cell_type'] for c in tail]}")  # fmt: skip
    for task, solution in zip(tasks, solutions):
        assert task["cell_type"] == "markdown" and solution["cell_type"] == "code", f"{name}: task/solution order"
        assert source(solution).startswith("# Solution"), f"{name}: a solution cell must start with '# Solution'"
        assert "solution" in solution["metadata"].get("tags", []), f"{name}: solution cell not tagged 'solution'"
        assert solution["metadata"].get("jupyter", {}).get("source_hidden"), f"{name}: solution cell not collapsed"


def test_series_draws_at_least_ten_figures():
    figures = {name: run_notebooks.count_figures(notebook(name)) for name in SERIES}
    assert sum(figures.values()) >= MIN_FIGURES, f"image/png outputs per notebook: {figures}"


def test_stamp_check_fails_when_code_changes_and_check_mode_executes_nothing(tmp_path, monkeypatch, capsys):
    cells = [{"cell_type": "markdown", "metadata": {}, "source": "# t"},
             {"cell_type": "code", "metadata": {}, "source": "x = 1\nassert x == 1", "execution_count": 1, "outputs": []},
             {"cell_type": "code", "metadata": {}, "source": "y = 2", "execution_count": 2, "outputs": []}]  # fmt: skip
    nb = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    nb["metadata"]["albert_np"] = {"source_sha256": run_notebooks.source_sha256(nb), "dtype": "float64"}
    assert run_notebooks.stale_reasons(nb) == []
    edited = copy.deepcopy(nb)
    edited["cells"][2]["source"] = "y = 3"
    assert any("changed" in r for r in run_notebooks.stale_reasons(edited))
    moved = copy.deepcopy(nb)  # the same code in other cells is other code
    moved["cells"][1]["source"], moved["cells"][2]["source"] = "x = 1", "assert x == 1\ny = 2"
    assert run_notebooks.stale_reasons(moved)
    unrun = copy.deepcopy(nb)
    unrun["cells"][2]["execution_count"] = None
    assert any("no stored execution" in r for r in run_notebooks.stale_reasons(unrun))
    prose = copy.deepcopy(nb)
    prose["cells"][0]["source"] = "# a new title"
    assert run_notebooks.stale_reasons(prose) == []  # markdown does not make outputs stale

    path = tmp_path / "edited.ipynb"
    path.write_text(json.dumps(edited), encoding="utf-8")
    monkeypatch.setattr(run_notebooks, "execute_notebook", lambda *a: pytest.fail("--check executed a notebook"))
    assert run_notebooks.main(["--check", str(path)]) == 1
    assert "edited.ipynb" in capsys.readouterr().out
    path.write_text(json.dumps(nb), encoding="utf-8")
    assert run_notebooks.main(["--check", str(path)]) == 0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", SERIES)
def test_runs_top_to_bottom_in_a_fresh_kernel(name, dtype, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("matplotlib")
    path = NOTEBOOK_DIR / f"{name}.ipynb"
    assert path.is_file(), f"{path.relative_to(ROOT)} is missing from the series"
    # The kernel is a child process: this checkout first on its path, whatever albert_np is installed.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("ALBERT_NP_NOTEBOOK_DTYPE", dtype)
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                                     extra_arguments=["--colors=NoColor"],  # plain tracebacks in pytest's report
                                     resources={"metadata": {"path": str(NOTEBOOK_DIR)}})  # fmt: skip
    client.execute()  # raises CellExecutionError, with the failing cell and its traceback, on any error
