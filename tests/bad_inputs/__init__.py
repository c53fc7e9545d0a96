"""The table of bad inputs and faults that tests/test_bad_inputs.py runs, one module per family.

Each family module (inputs, checkpoints, configs, saving, tokenizer, training, threads, pipelines) defines
``CASES``, a list of :class:`Case`.  A case is one bad call against the public API: ``setup`` lays
out whatever it needs in a fresh temporary folder, ``run`` makes the call, and the test asserts
the exception type, the words of its message (``match``, a regular expression searched in
``str(exc)``: name the argument, the bad value and the fix) and, when ``unchanged`` is true, that
every file under the folder is byte for byte what ``setup`` left there.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

FAMILIES = ("inputs", "checkpoints", "configs", "saving", "tokenizer", "training", "threads", "pipelines",
            "pretraining")


@dataclass(frozen=True)
class Case:
    id: str                                   # short, unique within its family: "attention_mask_minus_one"
    run: Callable[[Path], object]             # the bad call; gets the case's temporary folder
    raises: type[BaseException]               # the exception type it must raise
    match: str                                # regex searched in the message (argument, value, fix)
    setup: Callable[[Path], None] | None = None   # lays out files before `run` (checkpoints, notes.txt...)
    unchanged: bool = True                    # nothing under the folder may change when `run` raises


def snapshot(root: Path) -> dict:
    """{relative path: bytes (files) or None (folders)} of everything under `root`, hidden entries too."""
    return {
        str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None)
        for p in sorted(root.rglob("*"))
    }
