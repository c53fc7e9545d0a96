"""The Python blocks of docs/trace.md run as written, and its table names every traced tensor."""

import re
from pathlib import Path

import albert_np as an
from factory import make_batch, tiny_config

DOC = Path(__file__).resolve().parent.parent / "docs" / "trace.md"


def test_trace_doc_code_blocks_run():
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), {})


def test_trace_doc_table_lists_every_name_a_model_traces():
    documented = set(re.findall(r"^\| `([^`]+)` \|", DOC.read_text(), flags=re.M))
    seen = set()
    for cls in an.ALL_MODEL_CLASSES:
        cfg = tiny_config(num_labels=3 if cls is an.AlbertForSequenceClassification else 2)
        out = cls(cfg, dtype="float64", seed=0)(**make_batch(cls, cfg), output_trace=True)
        seen |= {re.sub(r"^encoder\.layer\.\d+\.", "encoder.layer.{i}.", name) for name in out.trace}
    assert seen == documented
