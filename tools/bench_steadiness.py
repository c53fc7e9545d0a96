"""How much one framework's forward time moves from one process to the next, and what moves with it.

    python tools/bench_steadiness.py                       # 6 processes each of albert_np and torch (~3 min)
    python tools/bench_steadiness.py --env NUMPY_MADVISE_HUGEPAGE=0 --who ours

Each process loads the albert-base-v2-shaped AlbertForMaskedLM (the checkpoint tools/bench.py makes), runs
2 warm-up and `--repeats` timed b8s128 float32 inference forwards, and reports their median together with what
the kernel counted over the timed runs: minor page faults, involuntary context switches, and the huge pages the
process held (AnonHugePages). The spread is the largest over the smallest per-process median. Processes of
the two frameworks alternate, so a slow spell of the machine falls on both.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_lib as lib  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--processes", type=int, default=6, help="processes per framework")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--who", choices=["ours", "torch", "both"], default="both")
    ap.add_argument("--env", action="append", default=[], help="NAME=VALUE for the measured processes")
    ap.add_argument("--checkpoint")
    args = ap.parse_args()
    print(*lib.header(), sep="\n")
    env = dict(item.split("=", 1) for item in args.env)
    print("environment added:", " ".join(args.env) or "nothing")
    who = ["ours", "torch"] if args.who == "both" else [args.who]
    with tempfile.TemporaryDirectory() as tmp:
        path = args.checkpoint or tmp
        if not args.checkpoint:
            lib.make_checkpoint(path)
        got = {w: [] for w in who}
        for i in range(args.processes):
            for w in (who if i % 2 == 0 else who[::-1]):
                r = lib.run_child({"kind": "time", "who": w, "path": path, "shape": [8, 128], "what": "forward",
                                   "repeats": args.repeats, "warmup": 2, "threads": args.threads}, env=env)
                r["median"] = statistics.median(r["times"])
                got[w].append(r)
                print(f"  {w:5s} process {i}: median {1000 * r['median']:7.1f} ms  runs "
                      f"{' '.join(f'{1000 * t:.0f}' for t in r['times'])}  page faults/run {r['minflt']:8.0f}  "
                      f"preempted/run {r['nivcsw']:5.1f}  huge pages {r['huge_mib']:5.0f} MiB", flush=True)
    for w, rs in got.items():
        medians = [r["median"] for r in rs]
        print(f"{w:5s}: median of medians {1000 * statistics.median(medians):.1f} ms, spread (max/min) "
              f"{max(medians) / min(medians):.3f} over {len(rs)} processes")


if __name__ == "__main__":
    main()
