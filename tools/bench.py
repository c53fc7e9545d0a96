"""Time albert_np against transformers (PyTorch eager, CPU) on albert-base-v2 shapes; prints ratios ours/torch.

    python tools/bench.py                        # b8s128: in-process and own-process times, memory (~15 min)
    python tools/bench.py --quick                # the same with few repeats, to check the script (~3 min)
    python tools/bench.py --shape b1s16          # one short sequence: pipeline latency
    python tools/bench.py --shape b32s512 --what forward --memory forward   # long sequences: 16x the tokens
    python tools/bench.py --seq-scaling          # batch 8 at seq 128, 256, 512: time and peak memory
    python tools/bench.py --baseline /tmp/prev/albert_np --what forward --processes 0 --no-memory

Both frameworks get the same weights (transformers saves, albert_np loads) and the same thread count. Below
1.0 albert_np is faster. Two timings, both reported:

- in one process: albert_np and torch alternate, in every order, in the same process (machine noise hits both
  alike). Harsher on whichever runs right after torch, whose OpenMP threads spin for a while after each run.
- in processes of their own (`--processes` pairs, alternating which goes first): each framework alone, as a
  user runs it; median of the per-process medians, and one paired ratio per pair of processes with its
  spread. The README quotes this one.

Memory, each framework in a fresh process (peak RSS above the loaded model, and what is still held once the
result is dropped; by default with glibc made to return freed blocks, so RSS is what the framework holds): a training step (forward + MLM loss + backward), and an inference forward with the tape
(albert_np's default, torch with autograd on) and without (albert_np under no_grad(), torch under
inference_mode()). The header names the CPU, its vector extensions, and the BLAS libraries with their kernels
and thread counts. Needs the bench extra (pip install -e ".[golden,bench]").
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_lib as lib  # noqa: E402

WHATS = {"forward": "forward (inference)", "train": "forward+backward (MLM loss)"}
MEMORY_WHATS = {"train": "training step", "forward_tape": "forward with tape", "forward": "forward without tape"}
README_QUOTES = "own processes"


def print_times(kind, what, s):
    print(f"  {WHATS[what]:28s} {kind:15s} ours {s['ours'] * 1000:8.1f} ms  torch {s['torch'] * 1000:8.1f} ms  "
          f"ratio {s['ratio']:.3f}  paired {s['paired']:.3f} [{s['low']:.3f}-{s['high']:.3f}, n={s['n']}]")


def in_process(ours, theirs, batch, what, repeats, warmup, gap, baseline=None):
    """Alternating runs in this process; returns the summary, plus the baseline's line when there is one."""
    runs = [lib.step("ours", ours, batch, what), lib.step("torch", theirs, batch, what)]
    if baseline is not None:
        runs.append(lib.step("ours", baseline, batch, what))
    times = lib.time_alternating(runs, repeats, warmup=warmup, gap=gap)
    summary = lib.summarize_pairs(times[0], times[1])
    print_times("one process", what, summary)
    if baseline is not None:
        s = lib.summarize_pairs(times[0], times[2])
        print(f"  {'':28s} {'baseline':15s} base {s['torch'] * 1000:8.1f} ms  ours/base paired {s['paired']:.3f} "
              f"[{s['low']:.3f}-{s['high']:.3f}]")
    return summary


def print_memory(what, mem):
    o, t = mem["ours"], mem["torch"]
    print(f"  memory, {MEMORY_WHATS[what]:21s} peak ours {o['peak_mib']:7.0f} MiB  torch {t['peak_mib']:7.0f} MiB  "
          f"ratio {o['peak_mib'] / t['peak_mib']:.2f}   held after del: ours {o['held_mib']:6.0f}  "
          f"torch {t['held_mib']:6.0f} MiB")


def bench_shape(args, path, shape, models):
    """The in-process and own-process times of `shape` for each --what, then its memory figures."""
    batch = lib.make_batch(*shape)
    whats = ["forward", "train"] if args.what == "both" else [args.what]
    results = {"shape": shape, "times": {}, "memory": {}}
    print(f"\nAlbertForMaskedLM, albert-base-v2 shapes, batch {shape[0]} x seq {shape[1]}, float32, "
          f"{args.threads} threads each")
    for what in whats:
        if args.repeats:
            results["times"][what, "one process"] = in_process(models[0], models[1], batch, what, args.repeats,
                                                              args.warmup, args.gap, *models[2:])
        if args.processes:
            s = lib.time_own_processes(path, shape, what, args.processes, args.process_repeats, args.warmup,
                                       args.threads)
            print_times("own processes", what, s)
            results["times"][what, "own processes"] = s
    for what in args.memory:
        results["memory"][what] = mem = lib.measure_memory(path, shape, what, args.threads, args.allocator)
        print_memory(what, mem)
    return results


def figure(result, key, who):
    # key: (what, "one process" | "own processes") for a median time, ("memory", what) for a peak
    if key[0] == "memory":
        return result["memory"][key[1]][who]["peak_mib"]
    return result["times"][key][who]


def seq_scaling(args, path, models):
    """Batch 8 at each length of lib.SEQ_SCALING; then how time and memory grow from the first length."""
    rows = [bench_shape(args, path, (8, seq), models) for seq in lib.SEQ_SCALING]
    print(f"\nGrowth with sequence length (batch 8): each framework's figure over its own at seq {lib.SEQ_SCALING[0]} "
          "(xN), and ours/torch at that length")
    for key in list(rows[0]["times"]) + [("memory", what) for what in rows[0]["memory"]]:
        label = f"peak, {MEMORY_WHATS[key[1]]}" if key[0] == "memory" else f"{WHATS[key[0]]}, {key[1]}"
        cells = [f"s{r['shape'][1]}: ours x{figure(r, key, 'ours') / figure(rows[0], key, 'ours'):.2f} "
                 f"torch x{figure(r, key, 'torch') / figure(rows[0], key, 'torch'):.2f} "
                 f"ratio {figure(r, key, 'ours') / figure(r, key, 'torch'):.2f}" for r in rows]
        print(f"  {label:44s} " + "   ".join(cells))


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", default="b8s128", help="bBsS: batch B, seq S (b8s128, b1s16, b32s512)")
    ap.add_argument("--seq-scaling", action="store_true", help="batch 8 at seq 128, 256 and 512 instead of --shape")
    ap.add_argument("--what", choices=["forward", "train", "both"], default="both")
    ap.add_argument("--repeats", type=int, default=7, help="alternating rounds in one process (0: skip)")
    ap.add_argument("--processes", type=int, default=3, help="pairs of own processes (0: skip)")
    ap.add_argument("--process-repeats", type=int, default=5, help="timed runs in each own process")
    ap.add_argument("--warmup", type=int, default=2, help="untimed runs first, in each process")
    ap.add_argument("--quick", action="store_true", help="to check the script: 2 rounds, 2 pairs of 2 runs, 1 warm-up")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--gap", type=float, default=0.0, help="idle seconds before every timed run in one process")
    ap.add_argument("--baseline", metavar="PACKAGE_DIR",
                    help="also time another checkout's albert_np/ (e.g. `git worktree add /tmp/prev HEAD~1`, then "
                         "/tmp/prev/albert_np) in the one-process alternation")
    ap.add_argument("--memory", default=",".join(MEMORY_WHATS),
                    help="which peaks to measure, comma-separated: train (a training step), forward_tape, forward "
                         "(without tape), or none. With b32s512 keep to forward: with a tape each framework keeps "
                         "16x b8s128's activations (64x its attention probabilities in albert_np), many GB")
    ap.add_argument("--no-memory", action="store_true", help="the same as --memory none")
    ap.add_argument("--allocator", choices=sorted(lib.ALLOCATORS), default="live",
                    help="live: glibc returns every block over 64 KiB when freed, so RSS is what each framework "
                         "holds (default); glibc: its default settings, freed blocks kept for reuse")
    ap.add_argument("--checkpoint", help="reuse a saved albert-base-v2-shaped checkpoint")
    ap.add_argument("--_child", dest="child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.memory = [] if args.no_memory or args.memory == "none" else args.memory.split(",")
    unknown = [w for w in args.memory if w not in MEMORY_WHATS]
    if unknown:
        ap.error(f"--memory: unknown {unknown}; choose from {', '.join(MEMORY_WHATS)} or none")
    if args.quick:
        args.repeats, args.processes, args.process_repeats, args.warmup = (min(args.repeats, 2), min(args.processes, 2),
                                                                           2, 1)
    return args


def load_baseline(package_dir, path, threads):
    """Another albert_np checkout's package (e.g. the previous commit's), imported as `albert_np_baseline`, so
    that a change can be timed against what it replaces in the same process; its model from `path`."""
    import importlib.util

    init = os.path.join(package_dir, "__init__.py")
    spec = importlib.util.spec_from_file_location("albert_np_baseline", init, submodule_search_locations=[package_dir])
    if spec is None or not os.path.exists(init):
        raise SystemExit(f"--baseline {package_dir}: no albert_np package there (expected {init})")
    module = importlib.util.module_from_spec(spec)
    sys.modules["albert_np_baseline"] = module
    spec.loader.exec_module(module)
    model = module.AlbertForMaskedLM.from_pretrained(path, dtype="float32")
    model.backend.num_threads = threads
    return model


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        return lib.child(json.loads(args.child))
    shape = lib.parse_shape(args.shape)
    with tempfile.TemporaryDirectory() as tmp:
        path = args.checkpoint or tmp
        if not args.checkpoint:
            lib.make_checkpoint(path)
        models = []
        if args.repeats:
            models = [lib.load("ours", path, args.threads), lib.load("torch", path, args.threads)]
            if args.baseline:
                models.append(load_baseline(args.baseline, path, args.threads))
        for line in lib.header():
            print(line)
        print(f"threads: {args.threads} each; "
              f"one process: {args.repeats} alternating rounds after {args.warmup} warm-up, gap {args.gap} s; "
              f"own processes: {args.processes} pairs x {args.process_repeats} runs after {args.warmup} warm-up; "
              f"memory: allocator {args.allocator!r} (--allocator)")
        print(f"ratio: median(ours) / median(torch); paired: median [min-max] of the per-round (one process) or "
              f"per-pair (own processes) ratios. The README quotes the {README_QUOTES} paired ratio.")
        if args.seq_scaling:
            seq_scaling(args, path, models)
        else:
            bench_shape(args, path, shape, models)


if __name__ == "__main__":
    main()
