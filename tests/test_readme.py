"""Every ```python block of README.md and docs/*.md runs, and the cheap ```bash blocks too.

Blocks run in document order, one namespace per file (a block may use what an earlier block of the same file
defined), in a temporary folder holding a copy of albert_np/data/tiny-albert at the same relative path, so
examples write their outputs (my-albert/, runs/) there and not into the repository. A block is skipped only
when its first line is a marker comment `# not run: <reason>`; bash blocks run with `python` meaning this
interpreter and the repository on PYTHONPATH.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MARKER = re.compile(r"#\s*not run:\s*(\S.*)")
FENCE = re.compile(r"^```(\w*)\s*$")

# Files whose blocks are known not to run yet, with why; strict, so a fixed file fails here until removed.
KNOWN_BROKEN: dict[str, str] = {}


def code_blocks(path: Path) -> list[tuple[str, int, str]]:
    """(language, first line number, code) of each fenced block that starts at the beginning of a line."""
    blocks, language, start, lines = [], None, 0, []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        match = FENCE.match(line)
        if language is None and match:
            language, start, lines = match.group(1), number + 1, []
        elif language is not None and line.strip() == "```":
            blocks.append((language, start, "\n".join(lines) + "\n"))
            language = None
        elif language is not None:
            lines.append(line)
    return blocks


def skip_reason(code: str):
    first = code.lstrip("\n").splitlines()[0] if code.strip() else ""
    match = MARKER.match(first.strip())
    return match.group(1) if match else None


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    shutil.copytree(ROOT / "albert_np" / "data" / "tiny-albert", tmp_path / "albert_np" / "data" / "tiny-albert")
    bin_dir = tmp_path / ".bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "python"  # a script, not a symlink: a venv's python finds its pyvenv.cfg by its own path
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def repo_entries():
    return sorted(p.name for p in ROOT.iterdir())


@pytest.mark.filterwarnings("ignore:Some weights of")  # heads loaded from the pretraining checkpoint
@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_code_blocks_run(document, workdir, request):
    name = str(document.relative_to(ROOT))
    if name in KNOWN_BROKEN:
        request.applymarker(pytest.mark.xfail(reason=KNOWN_BROKEN[name], strict=True))
    before = repo_entries()
    namespace = {"__name__": "__readme__"}
    ran = 0
    for language, line, code in code_blocks(document):
        if language not in ("python", "bash") or skip_reason(code):
            continue
        if language == "python":
            exec(compile(code, f"{name}:{line}", "exec"), namespace)
        else:
            env = {**os.environ, "PATH": f"{workdir / '.bin'}{os.pathsep}{os.environ['PATH']}",
                   "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
            proc = subprocess.run(["bash", "-euo", "pipefail", "-c", code], cwd=workdir, env=env,
                                  capture_output=True, text=True, timeout=300)
            assert proc.returncode == 0, f"{name}:{line} failed:\n{proc.stdout}\n{proc.stderr}"
        ran += 1
    assert repo_entries() == before, "a block wrote into the repository instead of its working folder"
    if document.name == "README.md":
        assert ran >= 4  # the python blocks of "Using it" .. "Tokenizer" at least


def test_readme_blocks_are_collected_and_skips_say_why():
    blocks = code_blocks(ROOT / "README.md")
    python = [b for b in blocks if b[0] == "python"]
    assert len(python) >= 4 and all(skip_reason(code) is None for _, _, code in python)
    for document in DOCUMENTS:
        for language, line, code in code_blocks(document):
            first = code.lstrip("\n").splitlines()[0].strip() if code.strip() else ""
            if first.lower().startswith("# not run"):
                assert skip_reason(code), f"{document.name}:{line}: give the reason after '# not run:'"


def test_readme_examples_write_only_ignored_folders():
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert "/my-albert/" in ignored and "/runs/" in ignored
