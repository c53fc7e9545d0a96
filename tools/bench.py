"""Time albert_np against transformers (PyTorch eager, CPU) on albert-base-v2 shapes; prints median ratios.

    python tools/bench.py                      # forward and forward+backward, 8 x 128, float32
    python tools/bench.py --repeats 10 --what forward
    python tools/bench.py --gap 0.25           # let idle worker threads of the last run go to sleep first

Both frameworks get the same weights (transformers saves, albert_np loads) and the same thread count, and
their runs alternate in one process so that machine noise hits both alike. The figure is median(ours) /
median(torch): below 1.0 albert_np is faster. Peak memory of one training step is measured for each
framework in a fresh subprocess (peak RSS minus RSS after loading). Needs the golden extra (torch, transformers).

albert_np runs its products with OpenBLAS held at one thread and shares them, and the elementwise work, among
its own `Backend.num_threads` threads (set to the same count as torch's here). Idle threads of either framework
can still spin for a while after a run; `--gap` idles before each run to show how much that moves the ratio
(docs/performance.md).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

BASE_V2 = dict(vocab_size=30000, embedding_size=128, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
               intermediate_size=3072, hidden_act="gelu_new", max_position_embeddings=512)


def make_checkpoint(path):
    import torch
    import transformers

    torch.manual_seed(0)
    transformers.AlbertForMaskedLM(transformers.AlbertConfig(**BASE_V2)).save_pretrained(path)


def make_batch(batch, seq, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, BASE_V2["vocab_size"], size=(batch, seq))
    labels = np.where(rng.random((batch, seq)) < 0.15, ids, -100)
    return ids, np.ones_like(ids), labels


def load_both(path, threads):
    import torch
    import transformers

    import albert_np as an

    torch.set_num_threads(threads)
    theirs = transformers.AlbertForMaskedLM.from_pretrained(path).eval()
    ours = an.AlbertForMaskedLM.from_pretrained(path, dtype="float32")
    ours.backend.num_threads = threads  # every albert_np thread: its products (BLAS held at one) and elementwise work
    return ours, theirs


def step_fns(ours, theirs, ids, mask, labels, what):
    import torch

    t_ids, t_mask, t_labels = torch.from_numpy(ids), torch.from_numpy(mask), torch.from_numpy(labels)
    if what == "forward":
        def run_ours():
            ours.requires_grad_(False)
            return ours(input_ids=ids, attention_mask=mask).logits

        def run_theirs():
            with torch.inference_mode():
                return theirs(input_ids=t_ids, attention_mask=t_mask).logits
    else:
        def run_ours():
            ours.requires_grad_(True)
            ours(input_ids=ids, attention_mask=mask, labels=labels)
            return ours.backward()

        def run_theirs():
            theirs.zero_grad(set_to_none=True)
            theirs(input_ids=t_ids, attention_mask=t_mask, labels=t_labels).loss.backward()
    return run_ours, run_theirs


def time_alternating(runs, repeats, warmup=2, gap=0.0):
    """Times of `repeats` rounds in which every function of `runs` runs once, after `warmup` rounds; `gap`
    seconds of idle before every timed run. Returns one list of times per function.

    Round r runs the functions in the r-th of their n! orders (cycling), so within a round each function runs
    right after each other one equally often over n! rounds. With a fixed order, a function that always runs
    right after torch pays for torch's OpenMP threads, which spin for a while after each run.
    """
    for _ in range(warmup):
        for run in runs:
            run()
    orders = list(itertools.permutations(range(len(runs))))
    times = [[] for _ in runs]
    for r in range(repeats):
        for j in orders[r % len(orders)]:
            time.sleep(gap)
            t0 = time.perf_counter()
            runs[j]()
            times[j].append(time.perf_counter() - t0)
    return times


def load_baseline(package_dir, path, threads):
    """Another albert_np checkout's package (e.g. the previous commit's), imported as `albert_np_baseline`, so
    that a change can be timed against what it replaces in the same process; its model from `path`."""
    import importlib.util

    init = os.path.join(package_dir, "__init__.py")
    spec = importlib.util.spec_from_file_location("albert_np_baseline", init,
                                                  submodule_search_locations=[package_dir])
    if spec is None or not os.path.exists(init):
        raise SystemExit(f"--baseline {package_dir}: no albert_np package there (expected {init})")
    module = importlib.util.module_from_spec(spec)
    sys.modules["albert_np_baseline"] = module
    spec.loader.exec_module(module)
    model = module.AlbertForMaskedLM.from_pretrained(path, dtype="float32")
    if hasattr(model.backend, "num_threads"):
        model.backend.num_threads = threads
    return model


def _status_mib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def measure_memory_child(path, who, batch, seq, threads):
    """Run in a subprocess: peak RSS growth (MiB) of one forward+backward step by `who` ("ours"|"torch").

    Only that framework's model is loaded; after a warm-up step the kernel's peak-RSS counter is reset
    (writing 5 to /proc/self/clear_refs), so the figure is the step's own high-water mark above its start.
    """
    import torch
    import transformers

    import albert_np as an

    torch.set_num_threads(threads)
    ids, mask, labels = make_batch(batch, seq)
    if who == "ours":
        model = an.AlbertForMaskedLM.from_pretrained(path, dtype="float32")

        def run():
            model(input_ids=ids, attention_mask=mask, labels=labels)
            return model.backward()
    else:
        model = transformers.AlbertForMaskedLM.from_pretrained(path).eval()
        t_ids, t_mask, t_labels = (torch.from_numpy(a) for a in (ids, mask, labels))

        def run():
            model.zero_grad(set_to_none=True)
            model(input_ids=t_ids, attention_mask=t_mask, labels=t_labels).loss.backward()
    run()
    import gc

    gc.collect()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = _status_mib("VmRSS")
    grads = run()
    peak = _status_mib("VmHWM")
    del grads
    print(json.dumps({"peak_growth_mib": peak - before}))


def memory(path, batch, seq, threads):
    out = {}
    for who in ("ours", "torch"):
        proc = subprocess.run([sys.executable, __file__, "--_memory-child", who, "--checkpoint", path,
                               "--batch", str(batch), "--seq", str(seq), "--threads", str(threads)],
                              capture_output=True, text=True, check=True)
        out[who] = json.loads(proc.stdout.strip().splitlines()[-1])["peak_growth_mib"]
    return out


def machine():
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"{cpu}, {os.cpu_count()} cores; Python {platform.python_version()}, NumPy {np.__version__}, "
            f"torch {torch.__version__}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--what", choices=["forward", "train", "both"], default="both")
    ap.add_argument("--gap", type=float, default=0.0, help="idle seconds before every timed run")
    ap.add_argument("--baseline", metavar="PACKAGE_DIR",
                    help="also time another checkout's albert_np/ (e.g. `git worktree add /tmp/prev HEAD~1`, then "
                         "/tmp/prev/albert_np) in the same alternation")
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    ap.add_argument("--checkpoint", help="reuse a saved albert-base-v2-shaped checkpoint")
    ap.add_argument("--_memory-child", dest="memory_child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.memory_child:
        return measure_memory_child(args.checkpoint, args.memory_child, args.batch, args.seq, args.threads)

    tmp = None
    path = args.checkpoint
    if path is None:
        tmp = tempfile.TemporaryDirectory()
        path = tmp.name
        make_checkpoint(path)
    ours, theirs = load_both(path, args.threads)
    ids, mask, labels = make_batch(args.batch, args.seq)
    print(f"machine: {machine()}; threads: {args.threads}; "
          f"OPENBLAS_THREAD_TIMEOUT={os.environ.get('OPENBLAS_THREAD_TIMEOUT', 'unset')}; gap: {args.gap} s")
    print(f"AlbertForMaskedLM, albert-base-v2 shapes, batch {args.batch} x seq {args.seq}, float32, "
          f"{args.repeats} alternating runs")
    baseline = load_baseline(args.baseline, path, args.threads) if args.baseline else None
    whats = ["forward", "train"] if args.what == "both" else [args.what]
    for what in whats:
        runs = list(step_fns(ours, theirs, ids, mask, labels, what))
        if baseline is not None:
            runs.append(step_fns(baseline, theirs, ids, mask, labels, what)[0])
        times = time_alternating(runs, args.repeats, gap=args.gap)
        mo, mt = statistics.median(times[0]), statistics.median(times[1])
        label = "forward" if what == "forward" else "forward+backward (MLM loss)"
        print(f"{label:28s} ours {mo * 1000:8.1f} ms   torch {mt * 1000:8.1f} ms   ratio ours/torch {mo / mt:.3f}")
        if baseline is not None:
            mb = statistics.median(times[2])
            paired = statistics.median(o / b for o, b in zip(times[0], times[2]))
            print(f"{'  baseline':28s} base {mb * 1000:8.1f} ms   ratio base/torch {mb / mt:.3f}   "
                  f"ours/base (median of per-round ratios) {paired:.3f}")
    if "train" in whats and not args.no_memory:
        del ours, theirs, baseline
        mem = memory(path, args.batch, args.seq, args.threads)
        print(f"{'peak memory of a train step':28s} ours {mem['ours']:8.0f} MiB  torch {mem['torch']:8.0f} MiB  "
              f"ratio {mem['ours'] / mem['torch']:.2f}")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
