"""Peak memory of one albert-base-shaped forward, with the tape (the default) and under albert_np.no_grad().

    python tools/memory_forward.py                 # batch 8 x seq 128, float32, AlbertForMaskedLM
    python tools/memory_forward.py --batch 4 --seq 512

Each mode runs in a fresh subprocess on a randomly initialised model (no checkpoint, no torch): after a
warm-up forward under no_grad(), the kernel's peak-RSS counter is reset (writing 5 to /proc/self/clear_refs,
Linux only); the figures are the measured forward's high-water mark above the RSS it started from, and the peak
of the allocations tracemalloc sees (NumPy reports its array buffers to it), in MiB. With the tape, what the
forward keeps for backward() is part of both; under no_grad() nothing is kept. Freed pages the allocator
keeps can be reused without raising RSS, so the traced peak is the steadier of the two.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from bench_lib import BASE_V2, status_mib   # tools/ is this script's folder, so first on sys.path


def child(mode, batch, seq):
    import gc
    import tracemalloc

    import numpy as np

    import albert_np as an

    model = an.AlbertForMaskedLM(an.AlbertConfig(**BASE_V2), dtype="float32", seed=0)
    rng = np.random.default_rng(0)
    ids = rng.integers(5, BASE_V2["vocab_size"], size=(batch, seq))
    labels = np.where(rng.random(ids.shape) < 0.15, ids, -100)

    def run():
        if mode == "no_grad":
            with an.no_grad():
                return model(input_ids=ids, labels=labels)
        return model(input_ids=ids, labels=labels)

    with an.no_grad():                     # warm-up that keeps no tape, so both modes start from the same state
        model(input_ids=ids, labels=labels)
    gc.collect()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = status_mib("VmRSS")
    tracemalloc.start()
    out = run()
    traced_peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    peak = status_mib("VmHWM")
    del out
    print(json.dumps({"peak_growth_mib": peak - before, "traced_peak_mib": traced_peak}))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--_child", choices=["tape", "no_grad"], help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args._child:
        return child(args._child, args.batch, args.seq)
    print(f"AlbertForMaskedLM, albert-base-v2 shapes, batch {args.batch} x seq {args.seq}, float32, forward with labels")
    for mode in ("tape", "no_grad"):
        proc = subprocess.run([sys.executable, __file__, "--_child", mode, "--batch", str(args.batch), "--seq",
                               str(args.seq)], capture_output=True, text=True, check=True)
        got = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"{'with the tape' if mode == 'tape' else 'under no_grad()':18s} peak RSS growth "
              f"{got['peak_growth_mib']:7.0f} MiB   peak of NumPy's traced allocations {got['traced_peak_mib']:7.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
