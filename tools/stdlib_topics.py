"""Write a text-classification data set of real English from the standard library (no download): which package
does a docstring sentence come from?

    python tools/stdlib_topics.py --out runs/stdlib-topics      # train.csv, validation.csv (text,label), vocab/

Each sentence of the docstrings of the public classes, functions and methods of seven standard-library
packages (asyncio, email, logging, multiprocessing, unittest, xml, http), split into sentences as
tools/stdlib_corpus.py does, is labelled by its package. A sentence found in two packages is dropped, one found
twice in a package kept once. Whole docstrings go to train or validation (one in five to validation, by a hash of
the object's name), so no docstring is split between the two. The text depends on the Python version (3.11 here).

With --vocab-size N (default 2000; 0: none) it also trains a SentencePiece vocabulary in ALBERT's layout on the
training sentences only (albert_np.vocab.train_vocab) into OUT/vocab, for a model trained from scratch
(`albert-np finetune --from-scratch --tokenizer OUT/vocab`): the bundled tiny model's 249 pieces, made for its
synthetic facts, spell most English words letter by letter.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import inspect
import os
import pkgutil
import sys
import warnings
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from stdlib_corpus import sentences  # noqa: E402

PACKAGES = ("asyncio", "email", "logging", "multiprocessing", "unittest", "xml", "http")


def modules(package: str):
    """The package and its submodules that import here (tests and __main__ left out)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        top = importlib.import_module(package)
        yield top
        for info in pkgutil.walk_packages(top.__path__, package + "."):
            if ".test" in info.name or info.name.endswith("__main__"):
                continue
            try:
                yield importlib.import_module(info.name)
            except Exception:   # noqa: BLE001 - optional parts (e.g. Windows-only modules) may not import
                continue


def documented(module):
    """(qualified name, docstring) of the module's own public classes and functions and of their methods."""
    for name, value in sorted(vars(module).items()):
        if name.startswith("_") or getattr(value, "__module__", None) != module.__name__:
            continue
        if not (inspect.isclass(value) or inspect.isfunction(value)):
            continue
        yield f"{module.__name__}.{name}", inspect.getdoc(value)
        if inspect.isclass(value):
            for attr, member in sorted(vars(value).items()):
                if not attr.startswith("_") and inspect.isfunction(member):
                    yield f"{module.__name__}.{name}.{attr}", inspect.getdoc(member)


def examples(packages=PACKAGES, validation_share: int = 5):
    """{"train": [(text, label)], "validation": [...]}: every docstring sentence of each package, labelled by it."""
    seen = {}   # sentence -> (label, split); None when two packages share it
    for package in packages:
        for module in modules(package):
            for qualname, doc in documented(module):
                split = "validation" if zlib.crc32(qualname.encode()) % validation_share == 0 else "train"
                for sentence in sentences(doc or ""):
                    if sentence in seen and seen[sentence] is not None and seen[sentence][0] != package:
                        seen[sentence] = None
                    elif sentence not in seen:
                        seen[sentence] = (package, split)
    out = {"train": [], "validation": []}
    for sentence, where in seen.items():
        if where is not None:
            out[where[1]].append((sentence, where[0]))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="folder for train.csv and validation.csv")
    parser.add_argument("--vocab-size", type=int, default=2000, help="pieces of OUT/vocab (default 2000; 0: none)")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    data = examples()
    for split, rows in data.items():
        path = os.path.join(args.out, f"{split}.csv")
        with open(path, "w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["text", "label"])
            writer.writerows(rows)
        counts = {p: sum(label == p for _, label in rows) for p in PACKAGES}
        print(f"{path}: {len(rows)} sentences, " + ", ".join(f"{p} {n}" for p, n in counts.items()))
    if args.vocab_size:
        from albert_np.vocab import train_vocab

        tokenizer = train_vocab((text for text, _ in data["train"]), os.path.join(args.out, "vocab"), args.vocab_size)
        print(f"{os.path.join(args.out, 'vocab')}: {len(tokenizer)} pieces from the training sentences")
    return 0


if __name__ == "__main__":
    sys.exit(main())
