"""Golden trace fixtures: transformers' own intermediates and their gradients, under albert_np's trace names.

For every forward case of tools/make_golden.py, this loads the committed model and inputs
(tests/golden/<case>/), runs transformers in float64 with eager attention, records the output of every
named module with forward hooks (the query/key/value/dense/LayerNorm Linear and LayerNorm modules, the
FFN, its activation, the pooler, each head's layers), the attention context (the input of `dense`), and
the attention scores and probabilities from a recording copy of transformers' `eager_attention_forward`
(the same three lines: scores = q k^T * scaling, + mask, softmax). Each recorded tensor gets
`retain_grad()`; after the case's loss (or, for AlbertModel, its stored upstream gradients) is
differentiated, tests/golden/trace/<case>.npz holds `value.<name>` and `grad.<name>` for each one
(a tensor the loss does not reach has no `grad.` entry, as in albert_np's `model.trace_grads`), and `names`
the names in the order transformers computed them.

Layers are counted as executed, as transformers' hidden_states count them: layer i is the i-th AlbertLayer
call, so with inner_group_num > 1 the inner layers of one group are consecutive indices.

    python tools/make_trace_golden.py            # (re)write tests/golden/trace/ from tests/golden/<case>/
    python tools/make_trace_golden.py --check    # recompute and compare with the committed files

--check uses golden_utils.RTOL (float64 "outputs" for values, "gradients" for gradients), the table the
parity tests use. Run tools/make_golden.py first when the cases change.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_golden as mg  # noqa: E402  (its cases, model loading, npz writer; sets up torch and tests/ on sys.path)

import golden_utils  # noqa: E402
import torch  # noqa: E402
from transformers.models.albert import modeling_albert  # noqa: E402

TRACE_DIR = mg.GOLDEN_DIR / "trace"


class Recorder:
    """Hooks on one transformers ALBERT model that keep every named intermediate (with retain_grad)."""

    def __init__(self, model):
        self.tensors, self.layer, self.handles = {}, -1, []
        base = getattr(model, "albert", model)
        emb = base.embeddings
        for name in ("word_embeddings", "token_type_embeddings", "position_embeddings", "LayerNorm"):
            self.hook(getattr(emb, name), f"embeddings.{name}")
        self.hook(emb, "embeddings")
        self.hook(base.encoder.embedding_hidden_mapping_in, "encoder.embedding_hidden_mapping_in")
        for group in base.encoder.albert_layer_groups:
            for layer in group.albert_layers:
                self.handles.append(layer.register_forward_pre_hook(self.next_layer))
                for name in ("query", "key", "value"):
                    self.hook(getattr(layer.attention, name), f"attention.{name}", per_layer=True)
                self.handles.append(layer.attention.dense.register_forward_pre_hook(
                    lambda module, args: self.keep(self.layer_name("attention.context"), args[0])))
                self.hook(layer.attention.dense, "attention.dense", per_layer=True)
                self.hook(layer.attention.LayerNorm, "attention.LayerNorm", per_layer=True)
                for name, module in (("ffn", layer.ffn), ("ffn_act", layer.activation), ("ffn_output", layer.ffn_output),
                                     ("full_layer_layer_norm", layer.full_layer_layer_norm)):
                    self.hook(module, name, per_layer=True)
        if getattr(base, "pooler", None) is not None:
            self.hook(base.pooler, "pooler")
            self.hook(base.pooler_activation, "pooler_activation")
        if hasattr(model, "predictions"):
            for name in ("dense", "activation", "LayerNorm", "decoder"):
                self.hook(getattr(model.predictions, name), f"predictions.{name}")
        for name in ("sop_classifier", "classifier", "qa_outputs"):
            if hasattr(model, name):
                self.hook(getattr(model, name), name)

    def next_layer(self, module, args):
        self.layer += 1

    def layer_name(self, name):
        return f"encoder.layer.{self.layer}.{name}"

    def keep(self, name, tensor):
        if tensor.requires_grad:
            tensor.retain_grad()
        self.tensors[name] = tensor

    def hook(self, module, name, per_layer=False):
        def record(module, args, output):
            self.keep(self.layer_name(name) if per_layer else name, output)
        self.handles.append(module.register_forward_hook(record))

    def attention(self, module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
        """transformers' eager_attention_forward, recording the scores (before the mask) and the probabilities."""
        scores = torch.matmul(query, key.transpose(2, 3)) * scaling
        self.keep(self.layer_name("attention.scores"), scores)
        weights = scores + attention_mask if attention_mask is not None else scores
        weights = torch.nn.functional.softmax(weights, dim=-1)
        self.keep(self.layer_name("attention.probs"), weights)
        weights = torch.nn.functional.dropout(weights, p=dropout, training=module.training)
        return torch.matmul(weights, value).transpose(1, 2).contiguous(), weights


def trace_case(case_dir, cls_name):
    """{value.<name>, grad.<name>} of transformers' float64 run of one committed golden case."""
    model = mg.load_reference(case_dir, cls_name, torch.float64).eval()
    inputs = golden_utils.load_npz(case_dir / "inputs.npz")
    committed = golden_utils.load_npz(case_dir / "expected_float64.npz")
    douts = mg.to_torch({k: v for k, v in committed.items() if k.startswith("dout.")}, torch.float64)
    recorder = Recorder(model)
    original = modeling_albert.eager_attention_forward
    modeling_albert.eager_attention_forward = recorder.attention
    try:
        out = model(**mg.to_torch(inputs, torch.float64))
    finally:
        modeling_albert.eager_attention_forward = original
        for handle in recorder.handles:
            handle.remove()
    if not any(name.endswith("attention.scores") for name in recorder.tensors):
        raise RuntimeError("the recording attention was not called: transformers no longer looks up "
                           "eager_attention_forward at call time; update Recorder.attention")
    loss = sum((out[k.removeprefix("dout.")] * d).sum() for k, d in douts.items()) if douts else out.loss
    loss.backward()
    arrays = {"names": np.array(list(recorder.tensors))}              # the execution order (npz keys are sorted)
    for name, tensor in recorder.tensors.items():
        arrays[f"value.{name}"] = tensor.detach().numpy().copy()
        if tensor.grad is not None:
            arrays[f"grad.{name}"] = tensor.grad.numpy().copy()
    return arrays


def trace_cases():
    return [case for case in mg.build_cases() if case.kind == "forward"]


def generate(out_dir, golden_dir):
    mg.setup_torch()
    out_dir.mkdir(parents=True, exist_ok=True)
    for case in trace_cases():
        mg.save_npz(out_dir / f"{case.name}.npz", trace_case(golden_dir / case.name, case.cls))


def check(generated, committed):
    diffs, worst = [], {}
    names = sorted(p.name for p in generated.glob("*.npz"))
    diffs += [f"{p.name}: committed but not generated" for p in committed.glob("*.npz") if p.name not in names]
    for name in names:
        if not (committed / name).exists():
            diffs.append(f"{name}: generated but not committed")
            continue
        ours, ref = golden_utils.load_npz(generated / name), golden_utils.load_npz(committed / name)
        if sorted(ours) != sorted(ref):
            diffs.append(f"{name}: keys differ: {sorted(set(ours) ^ set(ref))}")
            continue
        for key in ours:
            if key == "names":
                if not np.array_equal(ours[key], ref[key]):
                    diffs.append(f"{name}: the traced names or their order differ")
                continue
            what = "gradients" if key.startswith("grad.") else "outputs"
            tolerance = golden_utils.RTOL[("float64", what)]
            err = golden_utils.rel_err(ours[key], ref[key]) if ours[key].shape == ref[key].shape else np.inf
            if err > worst.get(what, (-1, ""))[0]:
                worst[what] = (err, f"{name}:{key}")
            if not err <= tolerance:
                diffs.append(f"{name}: {key} rel err {err:.3e} > {tolerance:g}")
    for what, (err, where) in sorted(worst.items()):
        print(f"largest float64 trace {what} error {err:.2e} (tolerance {golden_utils.RTOL[('float64', what)]:g}) at {where}")
    return diffs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="recompute and compare with tests/golden/trace/")
    parser.add_argument("--golden-dir", type=Path, default=mg.GOLDEN_DIR, help="fixture directory (default tests/golden)")
    args = parser.parse_args(argv)
    start, trace_dir = time.perf_counter(), args.golden_dir / "trace"
    if not args.check:
        generate(trace_dir, args.golden_dir)
        size = sum(p.stat().st_size for p in trace_dir.glob("*.npz"))
        print(f"wrote {len(trace_cases())} trace fixtures to {trace_dir} ({size / 1e6:.2f} MB, "
              f"{time.perf_counter() - start:.1f}s)")
        return 0
    with tempfile.TemporaryDirectory(prefix="albert_trace_") as tmp:
        generate(Path(tmp), args.golden_dir)
        diffs = check(Path(tmp), trace_dir)
    for line in diffs:
        print(line)
    if diffs:
        print(f"FAILED: {len(diffs)} difference(s) against {trace_dir}")
        return 1
    print(f"OK: {len(trace_cases())} trace fixtures match {trace_dir} ({time.perf_counter() - start:.1f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
