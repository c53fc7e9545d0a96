"""Write an English corpus from text that ships with Python (no download), in google-research/albert's input format.

    python tools/stdlib_corpus.py --out runs/stdlib.txt

Documents: each help topic of `pydoc_data.topics` (Python's reference manual in prose), then the docstring of
each pure-Python standard-library module (found in the stdlib folder) and of its public classes and functions. Prose paragraphs are split into one
sentence per line; code (indented lines, >>> prompts) is left out; a blank line ends a document.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import os
import pkgutil
import re
import sys
import sysconfig
import warnings

SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\"'])")
MIN_WORDS = 3


def paragraphs(text: str):
    """Prose paragraphs of a help text or docstring: unindented lines joined, code and tables dropped."""
    block = []
    for line in text.splitlines():
        if not line.strip() or line.startswith((" ", "\t")) or line.lstrip().startswith((">>>", "...", "*", "+-", "=")):
            if block:
                yield " ".join(block)
            block = []
            continue
        if set(line.strip()) <= set("=-~*^"):   # reST underlines
            block = []
            continue
        block.append(line.strip())
    if block:
        yield " ".join(block)


def sentences(text: str) -> list[str]:
    out = []
    for para in paragraphs(text):
        for s in SENTENCE_END.split(para):
            s = " ".join(s.split())
            if len(s.split()) >= MIN_WORDS:
                out.append(s)
    return out


def topic_documents():
    from pydoc_data.topics import topics

    for name in sorted(topics):
        yield sentences(topics[name])


def module_documents():
    skip = ("test", "idlelib", "tkinter", "turtle", "antigravity", "this", "__", "lib2to3", "ensurepip")
    stdlib = os.path.realpath(sysconfig.get_paths()["stdlib"])
    names = sorted(m.name for m in pkgutil.iter_modules([stdlib]))
    for name in names:
        if name.startswith(skip) or name.startswith("_"):
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                module = importlib.import_module(name)
        except Exception:   # noqa: BLE001 - optional modules (curses, tkinter...) may be missing
            continue
        if not os.path.realpath(getattr(module, "__file__", None) or "/").startswith(stdlib):
            continue
        doc = sentences(inspect.getdoc(module) or "")
        for attr, value in sorted(vars(module).items()):
            if attr.startswith("_") or getattr(value, "__module__", None) != name:
                continue
            if inspect.isclass(value) or inspect.isfunction(value):
                doc += sentences(inspect.getdoc(value) or "")
        yield doc


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="the text file to write")
    args = parser.parse_args(argv)
    n_docs = n_lines = 0
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        for doc in [*topic_documents(), *module_documents()]:
            if len(doc) < 2:
                continue
            f.write("\n".join(doc) + "\n\n")
            n_docs += 1
            n_lines += len(doc)
    print(f"{args.out}: {n_docs} documents, {n_lines} sentences")
    return 0


if __name__ == "__main__":
    sys.exit(main())
