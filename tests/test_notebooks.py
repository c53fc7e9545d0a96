"""The notebooks in notebooks/ run top to bottom without an error, and are stored without outputs.

They are teaching material that steps through albert_np by hand and asserts, cell by cell, that each step
equals the model's own forward/backward. So running them is also a test of the package. They are kept free
of outputs in git so diffs stay readable; this test executes them in a fresh kernel.
"""

import json
import os
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT_S = 120
# Notebooks may import only albert_np, NumPy and the standard library (no torch or transformers).
ALLOWED_IMPORTS = {"albert_np", "numpy"} | set(sys.stdlib_module_names)
IMPORT_RE = re.compile(r"^\s*(?:import|from)\s+([A-Za-z_][A-Za-z0-9_]*)", re.MULTILINE)


def code_cells(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    return [cell for cell in nb["cells"] if cell["cell_type"] == "code"]


def source(cell):
    return cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])


def test_there_are_notebooks():
    assert NOTEBOOKS, f"no .ipynb files in {ROOT / 'notebooks'}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_without_outputs(path):
    dirty = [i for i, cell in enumerate(code_cells(path)) if cell.get("outputs") or cell.get("execution_count")]
    assert not dirty, (
        f"{path.name}: code cells {dirty} hold outputs; clear them before committing "
        f"(`jupyter nbconvert --clear-output --inplace {path.relative_to(ROOT)}`)"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_imports_only_albert_np_numpy_and_stdlib(path):
    modules = {m for cell in code_cells(path) for m in IMPORT_RE.findall(source(cell))}
    assert modules <= ALLOWED_IMPORTS, f"{path.name} imports {sorted(modules - ALLOWED_IMPORTS)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_without_errors(path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    # The kernel is a child process: put this checkout first on its path, so it imports the albert_np under
    # test even where another copy is installed.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                                     extra_arguments=["--colors=NoColor"],  # plain tracebacks in pytest's report
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute()  # raises CellExecutionError, with the failing cell and its traceback, on any error
