"""Where the time goes: albert_np and transformers per op, on one thread and on two, each in its own process.

    python tools/bench_profile.py                          # b8s128 forward, 1 and 2 threads        (~3 min)
    python tools/bench_profile.py --what train --repeats 3 # forward + MLM loss + backward           (~6 min)
    python tools/bench_profile.py --shape b1s16 --repeats 20

For each framework and thread count, a fresh process loads the albert-base-v2-shaped AlbertForMaskedLM (the
checkpoint tools/bench.py makes) and alternates `--repeats` plain runs (their median is the "step" line) with as
many profiled ones (their mean per op is the rest):

- albert_np: the wall time of every `Backend.matmul`, `Backend.batchwise` and `Backend.rowwise` call made by the
  calling thread (the pool's other threads only run blocks of these calls, so their wall time is the op's),
  keyed by the op: the function that multiplied and the shapes, or the row function. What is left of the
  step is Python, the embedding lookup, reshapes and small ops outside the pool ("other").
- torch, forward: the wall time of every module's forward less its submodules' (forward hooks on every
  module), keyed by the module's class and input shape; what is left is time outside the modules.
- torch, train: `torch.profiler`'s self CPU time per ATen op and input shapes (module hooks see no backward).
  The profiler slows torch's elementwise ops down, so its total is well above the unprofiled step.

Both are put into the same few categories (products, attention, LayerNorm, activations and other elementwise,
embedding lookup, other) and printed with the scaling from one thread to two (time on 1 / time on 2); then
each framework's largest ops. Profiling adds a little per call, and on a noisy machine the profiled runs' sum
and the plain runs' median can part by 15% either way (measured on the AMD Zen 3): compare the categories.
Needs the bench extra (pip install -e ".[golden,bench]").
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_lib as lib  # noqa: E402

CATEGORIES = ("products", "attention", "LayerNorm", "activations and other elementwise", "embedding lookup", "other")


# ---- albert_np: time the three ways into the thread pool ------------------------------------------------------


def ours_category(key):
    kind, _, name = key.partition(" ")
    if kind == "other:":
        return "other"
    if kind == "matmul":
        return "products"
    if kind == "batchwise":
        return "attention"
    return "LayerNorm" if name.startswith("layernorm") else "activations and other elementwise"


def instrument_ours(times):
    """Wrap albert_np's matmul / batchwise / rowwise so that every call from the main thread adds its wall
    time to times[key]. Returns a function that takes the wrappers off."""
    from albert_np import _parallel

    main = threading.main_thread()
    originals = {name: getattr(_parallel, name) for name in ("matmul", "batchwise", "rowwise")}

    def row_function_name(f):
        f = getattr(f, "func", f)  # a functools.partial of the row function
        return getattr(f, "__name__", type(f).__name__)

    def timed(name, key_of):
        original = originals[name]

        def wrapper(bk, *args, **kwargs):
            if threading.current_thread() is not main:
                return original(bk, *args, **kwargs)
            t0 = time.perf_counter()
            try:
                return original(bk, *args, **kwargs)
            finally:
                times[f"{name} {key_of(sys._getframe(2), *args)}"] += time.perf_counter() - t0
        return wrapper

    def product_key(caller, a, b, bias=None):
        return f"{caller.f_code.co_name} {list(a.shape)} x {list(b.shape)}"

    _parallel.matmul = timed("matmul", product_key)
    _parallel.batchwise = timed("batchwise", lambda caller, f, *arrays: row_function_name(f))
    _parallel.rowwise = timed("rowwise", lambda caller, f, *arrays, **kw: row_function_name(f))

    def undo():
        for name, original in originals.items():
            setattr(_parallel, name, original)
    return undo


def profile_ours(model, run):
    """One run of albert_np, profiled: seconds per op."""
    times = defaultdict(float)
    undo = instrument_ours(times)
    t0 = time.perf_counter()
    run()
    total = time.perf_counter() - t0
    undo()
    times["other: outside the pool (Python, embedding lookup, reshapes, small ops)"] = total - sum(times.values())
    return times


# ---- torch: forward hooks on every module, or torch.profiler for a training step ---------------------------------


def torch_module_category(module):
    import torch

    name = type(module).__name__
    if isinstance(module, torch.nn.Linear):
        return "products"
    if isinstance(module, torch.nn.LayerNorm):
        return "LayerNorm"
    if isinstance(module, torch.nn.Embedding):
        return "embedding lookup"
    if "Attention" in name:
        return "attention"
    if "GELU" in name or "Activation" in name or isinstance(module, (torch.nn.Tanh, torch.nn.ReLU, torch.nn.SiLU)):
        return "activations and other elementwise"
    return "other"


def profile_torch_forward(model, run):
    """Each module's own wall time (its forward less its submodules'), keyed by category, class and input shape.
    torch.profiler is not used here: recording shapes, it slowed this b8s128 forward from 1.9 s to 2.9-3.4 s on
    2 threads of the AMD Zen 3 (2026-12-03), most of it in the elementwise ops."""
    times, stack = defaultdict(float), []  # stack: [t0, time spent in submodules] per module being run

    def pre(module, args):
        stack.append([time.perf_counter(), 0.0])

    def post(module, args, output):
        t0, inner = stack.pop()
        took = time.perf_counter() - t0
        if stack:
            stack[-1][1] += took
        x = args[0] if args and hasattr(args[0], "shape") else None
        shape = list(x.shape) if x is not None else ""
        extra = f" -> {module.out_features}" if hasattr(module, "out_features") else ""
        times[f"{torch_module_category(module)}: {type(module).__name__} {shape}{extra}"] += took - inner

    handles = [m.register_forward_pre_hook(pre) for m in model.modules()]
    handles += [m.register_forward_hook(post) for m in model.modules()]
    t0 = time.perf_counter()
    run()
    total = time.perf_counter() - t0
    for h in handles:
        h.remove()
    times["other: outside the modules"] = total - sum(times.values())
    return times


TORCH_PRODUCTS = ("aten::addmm", "aten::mm", "aten::linear", "aten::matmul")
TORCH_ATTENTION = ("scaled_dot_product", "aten::bmm", "aten::baddbmm", "aten::_softmax", "aten::softmax")
TORCH_ELEMENTWISE = ("aten::add", "aten::mul", "aten::div", "aten::tanh", "aten::pow", "aten::gelu", "aten::sub",
                     "aten::rsub", "aten::sum", "aten::neg", "aten::exp", "aten::where", "aten::threshold",
                     "aten::tanh_backward", "aten::_log_softmax", "aten::_log_softmax_backward_data",
                     "aten::nll_loss_forward", "aten::nll_loss_backward")


def torch_op_category(key):
    name = key.split(" ", 1)[0]
    if name in TORCH_PRODUCTS:
        return "products"
    if any(p in name for p in TORCH_ATTENTION):
        return "attention"
    if "layer_norm" in name:
        return "LayerNorm"
    if name.rstrip("_") in TORCH_ELEMENTWISE:
        return "activations and other elementwise"
    if name.startswith("aten::embedding") or name == "aten::index_select":
        return "embedding lookup"
    return "other"


def profile_torch_ops(model, run):
    """torch.profiler's self CPU time per ATen op and input shapes, for a training step (hooks see no backward).
    It slows torch down; the profiled total is reported beside the unprofiled step."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        run()
    ops = defaultdict(float)
    for event in prof.key_averages(group_by_input_shape=True):
        if event.self_cpu_time_total > 0:
            shapes = [s for s in event.input_shapes if s] if event.input_shapes else []
            ops[f"{torch_op_category(event.key)}: {event.key} {shapes}"] += event.self_cpu_time_total * 1e-6
    return ops


# ---- one process: time, then profile ----------------------------------------------------------------------------


def profile_child(who, path, shape, what, threads, repeats, warmup):
    model = lib.load(who, path, threads)
    run = lib.step(who, model, lib.make_batch(*shape), what)
    for _ in range(warmup):
        run()
    profiled = profile_ours if who == "ours" else profile_torch_forward if what == "forward" else profile_torch_ops
    times, ops = [], defaultdict(float)
    for _ in range(repeats):  # plain and profiled runs alternate, so that a slow spell of the machine hits both
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
        for key, seconds in profiled(model, run).items():
            ops[key] += seconds / repeats
    return {"step": statistics.median(times), "ops": ops}


def torch_category(key):
    return key.split(":", 1)[0]  # the torch keys start with their category


def summarize(got, category_of):
    sums = defaultdict(float)
    for key, seconds in got["ops"].items():
        sums[category_of(key)] += seconds
    return sums


def print_report(results, threads):
    """results[who][t] = profile_child's dict."""
    t1, t2 = threads
    cols = [(who, t) for who in ("ours", "torch") for t in threads]
    print(f"\n{'ms per step':36s}" + "".join(f"{who:>6s} {t}t " for who, t in cols)
          + f"  ours {t1}t/{t2}t  torch {t1}t/{t2}t  ours/torch {t1}t  ours/torch {t2}t")
    sums = {(who, t): summarize(results[who][t], ours_category if who == "ours" else torch_category) for who, t in cols}
    profiled = {c: sum(results[c[0]][c[1]]["ops"].values()) for c in cols}
    rows = [("step, unprofiled (median)", {c: results[c[0]][c[1]]["step"] for c in cols})]
    rows += [(cat, {c: sums[c][cat] for c in cols}) for cat in CATEGORIES]
    rows += [("sum of the above (the profiled step)", profiled)]
    def ratio(x, y):
        return f"{x / y:10.2f}" if y > 0 else f"{'-':>10s}"

    for label, v in rows:
        print(f"{label:36s}" + "".join(f"{1000 * v[c]:9.1f}" for c in cols)
              + ratio(v[("ours", t1)], v[("ours", t2)]) + "  " + ratio(v[("torch", t1)], v[("torch", t2)])
              + "      " + ratio(v[("ours", t1)], v[("torch", t1)])
              + "      " + ratio(v[("ours", t2)], v[("torch", t2)]))
    for who in ("ours", "torch"):
        a, b = results[who][t1]["ops"], results[who][t2]["ops"]
        top = sorted(set(a) | set(b), key=lambda k: -max(a.get(k, 0), b.get(k, 0)))[:14]
        print(f"\n{who}: largest ops, ms per step on {t1} and {t2} threads (scaling)")
        for k in top:
            x, y = a.get(k, 0.0), b.get(k, 0.0)
            print(f"  {1000 * x:8.1f} {1000 * y:8.1f}  ({x / y if y > 0 else float('nan'):4.2f})  {k[:110]}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", default="b8s128")
    ap.add_argument("--what", choices=["forward", "train"], default="forward")
    ap.add_argument("--threads", default="1,2", help="the two thread counts to compare")
    ap.add_argument("--repeats", type=int, default=5, help="plain runs, alternating with as many profiled ones, per process")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--checkpoint", help="reuse a saved albert-base-v2-shaped checkpoint")
    ap.add_argument("--json", help="also write every figure to this file")
    ap.add_argument("--_child", dest="child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        spec = json.loads(args.child)
        print(json.dumps(profile_child(**spec | {"shape": tuple(spec["shape"])})))
        return
    shape = lib.parse_shape(args.shape)
    threads = tuple(int(t) for t in args.threads.split(","))
    if len(threads) != 2 or min(threads) < 1:
        ap.error(f"--threads takes two positive thread counts like 1,2; got {args.threads!r}")
    header = lib.header()
    print(*header, sep="\n")
    print(f"AlbertForMaskedLM, albert-base-v2 shapes, batch {shape[0]} x seq {shape[1]}, float32, {args.what}; "
          f"each framework and thread count in its own process: {args.warmup} warm-up, then {args.repeats} plain "
          f"runs alternating with {args.repeats} profiled ones")
    results = {"ours": {}, "torch": {}}
    with tempfile.TemporaryDirectory() as tmp:
        path = args.checkpoint or tmp
        if not args.checkpoint:
            lib.make_checkpoint(path)
        for t in threads:
            for who in ("ours", "torch"):
                spec = {"who": who, "path": path, "shape": list(shape), "what": args.what, "threads": t,
                        "repeats": args.repeats, "warmup": args.warmup}
                results[who][t] = lib.run_child(spec, script=__file__)
                print(f"  {who:5s} on {t} thread(s): step {1000 * results[who][t]['step']:.1f} ms", flush=True)
    print_report(results, threads)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"cpu": header[0], "shape": shape, "what": args.what, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
