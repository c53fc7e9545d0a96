"""The pieces of tools/bench.py: the machine header, the models and batches, the timing loops and the memory probes.

Each function does one thing; bench.py strings them together and prints. The timing and memory functions that
run in a fresh process (`child`) are reached through `bench.py --_child SPEC`, where SPEC is a JSON dict
(`child_spec`), so that a child imports only the framework it measures.
"""

from __future__ import annotations

import gc
import itertools
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

BASE_V2 = dict(vocab_size=30000, embedding_size=128, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
               intermediate_size=3072, hidden_act="gelu_new", max_position_embeddings=512)

SHAPES = {                # name -> (batch, seq)
    "b8s128": (8, 128),   # the default: the figures the README quotes
    "b1s16": (1, 16),     # one short sequence: a pipeline's latency
    "b32s512": (32, 512), # long sequences, 16x the tokens of b8s128 (its MLM logits alone are 2 GB in float32)
}
SEQ_SCALING = (128, 256, 512)   # `--seq-scaling`: batch 8 at each of these lengths


def parse_shape(text):
    """"b8s128" -> (8, 128); any bBsS works, the names in SHAPES are the ones the docs use."""
    m = re.fullmatch(r"b(\d+)s(\d+)", text)
    if not m or int(m[1]) < 1 or not 1 <= int(m[2]) <= BASE_V2["max_position_embeddings"]:
        raise ValueError(f"shape must look like b8s128 (batch 8, seq 128, seq <= 512), got {text!r}")
    return int(m[1]), int(m[2])


# ---- the machine ----------------------------------------------------------------------------------------

VECTOR_FLAGS = ("avx", "fma", "avx2", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16", "amx_tile")


def cpu_info():
    """(model name with its family and model numbers, [vector flags present]) from /proc/cpuinfo (Linux), or the
    platform's name and [] elsewhere. A VM may show only "AMD EPYC"; the numbers then tell the generation."""
    fields, flags = {}, set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "flags":
                    flags = set(value.split())
                    break
                fields.setdefault(key, value.strip())
    except OSError:
        pass
    model = fields.get("model name", platform.processor() or platform.machine())
    if "cpu family" in fields:
        model += f" (family {fields['cpu family']} model {fields.get('model', '?')})"
    return model, [f for f in VECTOR_FLAGS if f in flags]


def cpu_family(flags):
    """The vector family the figures belong to: "AVX-512", "AVX2 (no AVX-512)" or "no AVX2"."""
    if "avx512f" in flags:
        return "AVX-512"
    return "AVX2 (no AVX-512)" if "avx2" in flags else "no AVX2"


def blas_lines():
    """One line per thread pool NumPy and torch loaded (threadpoolctl): its library, version, kernel, threads."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        raise SystemExit("tools/bench.py needs threadpoolctl for its header: pip install -e '.[golden,bench]'") from None

    lines = []
    for pool in threadpool_info():
        kernel = pool.get("architecture") or pool.get("threading_layer") or "-"
        lines.append(f"{pool['internal_api']} {pool.get('version') or '?'} ({pool['user_api']}), kernel {kernel}, "
                     f"{pool['num_threads']} threads: {os.path.basename(pool['filepath'])}")
    return lines


def header(with_torch=True):
    """The lines that say which machine and libraries the figures are from."""
    model, flags = cpu_info()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    lines = [f"CPU: {model}; vector extensions: {' '.join(flags) or 'none found'} -> {cpu_family(flags)}; "
             f"{os.cpu_count()} cores ({usable} usable)",
             f"Python {platform.python_version()}, NumPy {np.__version__}"]
    if with_torch:
        import torch
        import transformers

        lines[-1] += (f", torch {torch.__version__} (ATen kernels: {torch.backends.cpu.get_cpu_capability()}), "
                      f"transformers {transformers.__version__}")
    lines += ["BLAS and thread pools (threadpoolctl): " + line for line in blas_lines()]
    lines += kernel_setting_lines()
    lines += memory_lines()
    if with_torch:
        lines.append("torch's own BLAS (linked into it, so threadpoolctl cannot see it): " + torch_blas())
    return lines


# Environment variables that choose the kernels (docs/parity.md) or their blocking: a figure is only
# comparable with another one taken under the same settings.
KERNEL_SETTINGS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_THREAD_TIMEOUT", "MKL_ENABLE_INSTRUCTIONS",
                   "MKL_CBWR", "ATEN_CPU_CAPABILITY", "DNNL_MAX_CPU_ISA")


def kernel_setting_lines():
    """The kernel settings set in the environment and, when OPENBLAS_CORETYPE forces a kernel, the one OpenBLAS
    would pick for this CPU on its own (asked of a fresh process without the variable)."""
    found = [f"{name}={os.environ[name]}" for name in KERNEL_SETTINGS if name in os.environ]
    lines = ["kernel settings in the environment: " + (" ".join(found) if found else "none")]
    if "OPENBLAS_CORETYPE" in os.environ:
        env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
        ask = ("import numpy; from threadpoolctl import threadpool_info; "
               "print(*[p.get('architecture') for p in threadpool_info() if p['internal_api'] == 'openblas'])")
        own = subprocess.run([sys.executable, "-c", ask], env=env, capture_output=True, text=True).stdout.strip()
        lines.append(f"  OPENBLAS_CORETYPE forces OpenBLAS's kernel; without it OpenBLAS picks {own or '?'} on this CPU")
    return lines


# glibc's settings that decide whether freed memory stays in the process (docs/performance.md, "Fresh memory").
# NUMPY_MADVISE_HUGEPAGE=0 stops NumPy asking the kernel for huge pages on arrays of 4 MiB and up, which torch
# never asks for ("Huge pages" in docs/performance.md).
ALLOCATOR_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_ARENA_MAX",
                      "LD_PRELOAD", "NUMPY_MADVISE_HUGEPAGE")
VIRTIO_BALLOON, VIRTIO_BALLOON_F_REPORTING = "0x0005", 5   # the device id and the feature bit, in the virtio spec
VIRTIO_DEVICES = "/sys/bus/virtio/devices"                   # where Linux lists a VM's virtio devices
HUGE_PAGES = "/sys/kernel/mm/transparent_hugepage/enabled"   # the kernel's mode, e.g. "always [madvise] never"
HUGE_PAGE_MEANING = {
    "always": "large arrays of both frameworks get them",
    "madvise": "NumPy asks for them on arrays of 4 MiB and up unless NUMPY_MADVISE_HUGEPAGE=0; torch does not",
    "never": "neither framework gets them",
}


def memory_lines(virtio_root=VIRTIO_DEVICES, huge_pages=HUGE_PAGES):
    """The allocator settings in the environment, the kernel's huge-page mode, and whether this is a VM that takes
    freed memory back."""
    found = [f"{name}={os.environ[name]}" for name in ALLOCATOR_SETTINGS if name in os.environ]
    lines = ["allocator settings in the environment: " + (" ".join(found) if found else "none")]
    mode = huge_page_mode(huge_pages)
    if mode is not None:
        meaning = HUGE_PAGE_MEANING.get(mode, "a mode this script does not know")
        lines.append(f"transparent huge pages: {mode} ({meaning})")
    if free_page_reporting(virtio_root):
        lines.append("memory: a VM whose balloon reports free pages to the host (virtio-balloon free page reporting): "
                     "memory freed for about 2 s goes back to the host and costs several times as much to touch "
                     "again, for both frameworks (docs/performance.md, 'Fresh memory')")
    return lines


def huge_page_mode(path=HUGE_PAGES):
    """The kernel's transparent huge page mode, the bracketed word of `path` ("always", "madvise" or "never"), or
    None where the file is missing (not Linux, or a kernel without them)."""
    try:
        text = Path(path).read_text()
    except OSError:
        return None
    found = re.search(r"\[(\w+)\]", text)
    return found.group(1) if found else None


def free_page_reporting(virtio_root=VIRTIO_DEVICES):
    """True when a virtio balloon device offers free page reporting: its feature string (one 0/1 per bit) has
    bit VIRTIO_BALLOON_F_REPORTING set. False on bare metal or without that feature."""
    root = Path(virtio_root)
    if not root.is_dir():
        return False
    for dev in sorted(root.iterdir()):
        try:
            if (dev / "device").read_text().strip() != VIRTIO_BALLOON:
                continue
            features = (dev / "features").read_text().strip()
        except OSError:
            continue
        if len(features) > VIRTIO_BALLOON_F_REPORTING and features[VIRTIO_BALLOON_F_REPORTING] == "1":
            return True
    return False


def torch_blas():
    """torch's MKL version and thread count, from torch.__config__.parallel_info()."""
    import torch

    info = torch.__config__.parallel_info().splitlines()
    mkl = [line.strip() for line in info if "Math Kernel Library" in line or "mkl_get_max_threads" in line]
    return "; ".join(mkl) or "no MKL line in torch.__config__.parallel_info()"


# ---- models and batches ------------------------------------------------------------------------------------


def make_checkpoint(path):
    """A randomly initialised albert-base-v2-shaped AlbertForMaskedLM saved by transformers into `path`."""
    import torch
    import transformers

    torch.manual_seed(0)
    transformers.AlbertForMaskedLM(transformers.AlbertConfig(**BASE_V2)).save_pretrained(path)


def make_batch(batch, seq, seed=0):
    # ids, mask [batch, seq] ints (no padding); labels: 15% of positions, -100 elsewhere
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, BASE_V2["vocab_size"], size=(batch, seq))
    labels = np.where(rng.random((batch, seq)) < 0.15, ids, -100)
    return ids, np.ones_like(ids), labels


def load(who, path, threads):
    """The model of "ours" (albert_np, float32) or "torch" (transformers, eval mode) from `path`, on `threads`."""
    if who == "torch":
        import torch
        import transformers

        torch.set_num_threads(threads)
        return transformers.AlbertForMaskedLM.from_pretrained(path).eval()
    import albert_np as an

    model = an.AlbertForMaskedLM.from_pretrained(path, dtype="float32")
    model.backend.num_threads = threads  # every albert_np thread: its products (BLAS held at one) and elementwise work
    return model


def step(who, model, batch, what):
    """A function running one `what` of `model` on `batch` = (ids, mask, labels); it returns what it made.

    what: "forward" (inference: albert_np under no_grad(), torch under inference_mode()), "forward_tape" (the
    default forward: albert_np keeps its tape, torch its autograd graph) or "train" (forward with the MLM loss
    and backward; albert_np returns its gradients, torch leaves them in .grad).
    """
    ids, mask, labels = batch
    if who == "ours":
        import albert_np as an

        if what == "forward":
            def run():
                with an.no_grad():
                    return model(input_ids=ids, attention_mask=mask).logits
        elif what == "forward_tape":
            def run():
                return model(input_ids=ids, attention_mask=mask).logits
        else:
            def run():
                model(input_ids=ids, attention_mask=mask, labels=labels)
                return model.backward()
        return run

    import torch

    t_ids, t_mask, t_labels = torch.from_numpy(ids), torch.from_numpy(mask), torch.from_numpy(labels)
    if what == "forward":
        def run():
            with torch.inference_mode():
                return model(input_ids=t_ids, attention_mask=t_mask).logits
    elif what == "forward_tape":
        def run():
            return model(input_ids=t_ids, attention_mask=t_mask).logits
    else:
        def run():
            model.zero_grad(set_to_none=True)
            model(input_ids=t_ids, attention_mask=t_mask, labels=t_labels).loss.backward()
    return run


def release(who, model):
    """Drop what a step left behind in the framework: albert_np's tape, torch's .grad (as the next step would)."""
    if who == "ours":
        model._local.tape = None     # the next forward does this first (AlbertPreTrainedModel._prepare)
    else:
        model.zero_grad(set_to_none=True)


# ---- timing ---------------------------------------------------------------------------------------------------


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


def summarize_pairs(ours, theirs):
    """Figures of paired times: the medians, their ratio, and the median / min / max of the per-pair ratios."""
    ratios = [o / t for o, t in zip(ours, theirs)]
    return {"ours": statistics.median(ours), "torch": statistics.median(theirs),
            "ratio": statistics.median(ours) / statistics.median(theirs),
            "paired": statistics.median(ratios), "low": min(ratios), "high": max(ratios), "n": len(ratios)}


def run_child(spec, env=None, script=None):
    """Run `bench.py --_child SPEC` (or another tool's `script`) in a fresh interpreter, with `env` added to the
    environment, and return the JSON dict its last line prints."""
    script = script or os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench.py")
    proc = subprocess.run([sys.executable, script, "--_child", json.dumps(spec)], capture_output=True, text=True,
                          env=os.environ | (env or {}))
    if proc.returncode != 0:
        raise RuntimeError(f"child {os.path.basename(script)} {spec} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def time_own_processes(path, shape, what, pairs, repeats, warmup, threads):
    """Each framework timed in processes of its own, alternating: `pairs` pairs of fresh processes, the first of a
    pair ours on even pairs and torch's on odd ones; each process does `warmup` runs and then `repeats` timed
    ones and reports their median. Returns summarize_pairs of the per-process medians (one ratio per pair).

    A process that imports only albert_np never meets torch's still-spinning OpenMP threads, and a fresh
    process shows how much the figure moves with where the memory and threads land.
    """
    medians = {"ours": [], "torch": []}
    for i in range(pairs):
        for who in (("ours", "torch") if i % 2 == 0 else ("torch", "ours")):
            got = run_child({"kind": "time", "who": who, "path": path, "shape": shape, "what": what,
                             "repeats": repeats, "warmup": warmup, "threads": threads})
            medians[who].append(statistics.median(got["times"]))
    return summarize_pairs(medians["ours"], medians["torch"]) | {"per_process": medians}


def time_child(who, path, shape, what, repeats, warmup, threads):
    # in its own process: load one framework, warm up, time `repeats` runs
    model = load(who, path, threads)
    run = step(who, model, make_batch(*shape), what)
    for _ in range(warmup):
        run()
    before = resource.getrusage(resource.RUSAGE_SELF)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    after = resource.getrusage(resource.RUSAGE_SELF)
    # what the kernel counted per timed run, and the huge pages held: what moves a process's time (bench_steadiness.py)
    return {"times": times, "minflt": (after.ru_minflt - before.ru_minflt) / repeats,
            "nivcsw": (after.ru_nivcsw - before.ru_nivcsw) / repeats, "huge_mib": huge_pages_mib()}


def huge_pages_mib():
    """Transparent huge pages this process holds (AnonHugePages of /proc/self/smaps_rollup; 0 where there is none)."""
    try:
        with open("/proc/self/smaps_rollup") as f:
            for line in f:
                if line.startswith("AnonHugePages:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


# ---- memory -----------------------------------------------------------------------------------------------------


def status_mib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def memory_child(who, path, shape, what, threads):
    """In its own process: the peak RSS of one `what` (see `step`) above the loaded model, and what stays held.

    The model is loaded (its RSS is the zero of every figure), one warm-up runs and is released, then the
    kernel's peak-RSS counter is reset (writing 5 to /proc/self/clear_refs, Linux) and the measured run goes.
    peak: its high-water mark above the loaded model. held: RSS once the caller has dropped the run's result
    (`del out`), above the loaded model: albert_np's tape after a forward with it or a training step (until the
    next forward), torch's nothing after a forward and its .grad after a step. Both count
    freed memory that glibc keeps for reuse, which is memory the process holds all the same.
    """
    model = load(who, path, threads)
    run = step(who, model, make_batch(*shape), what)
    gc.collect()
    loaded = status_mib("VmRSS")
    run()
    release(who, model)
    gc.collect()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    out = run()
    peak = status_mib("VmHWM")
    del out                          # after "train", albert_np still holds its tape and torch its .grad
    gc.collect()
    return {"peak_mib": peak - loaded, "held_mib": status_mib("VmRSS") - loaded}


# glibc keeps freed blocks below its mmap threshold for reuse, and raises that threshold (up to 32 MiB) each time
# it frees a mapped block, so after a warm-up most of a framework's arrays come from a heap that RSS never gives
# back. Peaks measured that way mix what a framework holds with what the allocator kept (torch kept 1.4 GiB
# after a training step on b8s128). With the threshold fixed at 64 KiB every larger block is returned to the
# kernel when it is freed, and RSS follows the memory each framework holds: "live", the default here.
ALLOCATORS = {"live": {"MALLOC_MMAP_THRESHOLD_": "65536"}, "glibc": {}}


def measure_memory(path, shape, what, threads, allocator="live"):
    """{"ours": memory_child figures, "torch": ...}, each from a fresh process with glibc set by ALLOCATORS."""
    return {who: run_child({"kind": "memory", "who": who, "path": path, "shape": shape, "what": what,
                            "threads": threads}, env=ALLOCATORS[allocator])
            for who in ("ours", "torch")}


def child(spec):
    """The entry point of `bench.py --_child SPEC`: prints one JSON line."""
    args = {k: spec[k] for k in ("who", "path", "what", "threads")} | {"shape": tuple(spec["shape"])}
    if spec["kind"] == "time":
        got = time_child(**args, repeats=spec["repeats"], warmup=spec["warmup"])
    else:
        got = memory_child(**args)
    print(json.dumps(got))
