"""The work albert_np shares among threads on NumPy: one pool, OpenBLAS held at one thread, GEMMs cut in blocks.

Private: `Backend.rowwise`, `Backend.batchwise` and `Backend.matmul` are the way in (backend.py). NumPy runs
each ufunc on one core, and OpenBLAS threads each GEMM itself and then spins its idle workers for about 0.1 s,
which starves elementwise threads that run next. So here BLAS runs on one thread while albert_np's own pool
cuts the products, the elementwise work (in cache-sized row blocks) and attention (a few sequences at a time)
into blocks that whichever thread asks next takes. Elementwise and attention results are bit for bit those
of the unsplit call. A product's are in float64, and in float32 to the last bits only: OpenBLAS's AVX2 (Haswell)
SGEMM kernel sums a row's terms in an order that depends on how many rows and columns the call has, so a row
cut off with fewer others can differ by a few units in the last place (up to 7e-5 on 768-term dot products of
N(0, 1) numbers, about 1e-6 relative, on an AMD Zen 3 and a Zen 5), as does OpenBLAS's own two-thread run.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np


def rowwise(bk, f, *arrays, out=None):
    """f(*arrays) for an `f` that treats every row (the last axis) on its own: an activation, softmax, LayerNorm.

    `arrays` share their leading shape. `f` returns one array or a tuple of arrays with that leading shape,
    or None when it updates its first argument in place. NumPy runs each ufunc on one core and streams the
    whole array through memory once per ufunc, so a GELU made of eight ufuncs reads and writes a 12 MB
    activation eight times. Here, for a large NumPy array, the rows are cut into blocks of about
    `block_bytes` that stay in the CPU cache through all of f's passes, and the blocks are shared among
    `num_threads` threads (NumPy releases the GIL inside ufuncs). The result is bit for bit that of
    f(*arrays), which is what small arrays and every other backend get.

    `out` is an array that f's (first) result may be written into instead of a new one, typically the input
    when nothing needs it afterwards: a fresh 12 MB array costs page faults. Use the returned array.
    """
    x = arrays[0]
    if bk.name != "numpy" or x.ndim == 0 or x.size == 0:
        return f(*arrays)
    n_rows = x.size // x.shape[-1]
    rows = max(1, bk.block_bytes // (x.shape[-1] * x.itemsize))
    if n_rows < 2 * rows:
        return f(*arrays)
    if any(a.ndim > 2 and not a.flags.c_contiguous for a in arrays):
        return f(*arrays)  # flattening it to rows would copy it, and an in-place f would update the copy
    flat = [np.reshape(a, (n_rows, a.shape[-1])) for a in arrays]
    if out is not None:
        out = np.reshape(out, (n_rows, out.shape[-1])) if out.flags.c_contiguous else None
    outs = _blockwise(bk, f, flat, rows, "one row per input row", out)
    if outs is None:
        return None
    if isinstance(outs, tuple):
        return tuple(np.reshape(out, x.shape[:-1] + out.shape[1:]) for out in outs)
    return np.reshape(outs, x.shape[:-1] + outs.shape[1:])


def batchwise(bk, f, *arrays):
    """f(*arrays) for an `f` that treats every item of the first axis on its own: attention, one sequence each.

    Like `rowwise`, but the blocks are whole items of the batch (so `f` may multiply matrices within one
    item), about four per thread, and BLAS runs on one thread while `f` does. An argument may be None, and
    f gets None for it. The result is f(*arrays), which small batches and every other backend get.
    """
    n = arrays[0].shape[0]
    if bk.name != "numpy" or bk.num_threads < 2 or n < 2 or _blas() is None:
        return f(*arrays)
    return _blockwise(bk, f, arrays, -(-n // (4 * bk.num_threads)), "one item per input item")

def _blockwise(bk, f, arrays, length, what, out=None):
    """f on blocks of `length` along the first axis of every array (None passes through), in parallel.

    Returns None when f works in place, else f's one array or tuple of arrays, gathered from the blocks
    (the first into `out` when it fits). The first block to finish tells the output shapes; the others
    copy their results in after it.
    """
    n = arrays[0].shape[0]
    outs, lock = [], threading.Lock()
    kind = []  # set by the first block with results: ["single"] or ["tuple"]; stays empty when f is in place

    def task(s):
        results = f(*(a if a is None else a[s:s + length] for a in arrays))
        if results is None:
            return
        single = not isinstance(results, tuple)
        results = (results,) if single else results
        for r in results:
            if r.shape[0] != min(length, n - s):
                raise ValueError(f"f must return arrays with {what}, got shape {r.shape}")
        with lock:
            if not kind:
                kind.append("single" if single else "tuple")
                shapes = [((n,) + r.shape[1:], r.dtype) for r in results]
                fits = out is not None and (out.shape, out.dtype) == shapes[0]
                outs.extend(out if i == 0 and fits else np.empty(shape, dtype=dtype)
                            for i, (shape, dtype) in enumerate(shapes))
        for o, r in zip(outs, results):
            o[s:s + length] = r

    with _blas_on_one_thread() if _blas() is not None else contextlib.nullcontext():
        _in_parallel(bk, range(0, n, length), task)
    if not kind:
        return None
    return outs[0] if kind[0] == "single" else tuple(outs)


def matmul(bk, a, b, bias=None):
    """a @ b (+ bias), as `xp.matmul`; on NumPy, a large product is shared among `num_threads` threads.

    NumPy's BLAS (OpenBLAS) threads each GEMM itself, and after every GEMM its idle workers spin on the
    cores for about 0.1 s, which starves the elementwise threads of `rowwise` that run next. So here BLAS
    runs on one thread and the product is cut instead: the rows of a 2-D `a` (or, when it has too few rows,
    the columns of a 2-D `b`), or the leading (batch, head) axis of stacked matrices, go out in blocks to the
    same threads as `rowwise`. One pool then does all the work, as in torch. `bias` (broadcast over the last
    axis) is added to each block of the result right after its GEMM, while the block is still in cache.
    Where NumPy's BLAS offers no thread control (not OpenBLAS), this is plain `np.matmul`.
    """
    own_threads = bk.name == "numpy" and _blas() is not None
    axis, size = _matmul_split_axis(a, b, bk.num_threads) if own_threads else (None, 0)
    with _blas_on_one_thread() if own_threads else contextlib.nullcontext():
        if axis is None:
            y = bk.xp.matmul(a, b)
            if bias is not None:
                y += bias
            return y
        out = np.empty(np.broadcast_shapes(a.shape[:-1], b.shape[:-2] + (1,)) + b.shape[-1:],
                       dtype=np.result_type(a, b))
        if axis == -1:  # blocks of b's columns, each the product of all of a with them
            def block(s):
                cols = slice(s, s + size)
                y = np.matmul(a, b[:, cols], out=out[..., cols])
                if bias is not None:
                    y += bias[cols]
            _in_parallel(bk, range(0, b.shape[-1], size), block)
            return out
        lead = (slice(None),) * axis

        def block(s):
            i = lead + (slice(s, s + size),)
            y = np.matmul(a[i], b if b.ndim == 2 else b[i], out=out[i])
            if bias is not None:
                y += bias

        _in_parallel(bk, range(0, a.shape[axis], size), block)
        return out

def _in_parallel(bk, starts, task):
    """task(s) for every s in `starts`, shared among `num_threads` threads, this one included.

    Blocks go to whichever thread asks next. A worker that starts late (its core busy) just finds fewer
    blocks left, and this thread waits only for blocks already handed out, so a late worker cannot hold
    the call up. An error in any block is re-raised here.
    """
    queue = _BlockQueue(list(starts))

    def work():
        while (s := queue.take()) is not None:
            try:
                task(s)
            except BaseException as e:
                queue.finish(e)
            else:
                queue.finish()

    workers = min(bk.num_threads, len(queue.starts)) - 1
    if workers > 0:
        pool = _thread_pool(workers)
        for _ in range(workers):
            pool.submit(work)
    work()
    queue.wait()


def default_num_threads() -> int:
    """Threads for elementwise work: $ALBERT_NP_NUM_THREADS if set, else the CPU cores this process may use."""
    env = os.environ.get("ALBERT_NP_NUM_THREADS")
    if env:
        try:
            n = int(env)
        except ValueError:
            n = 0
        if n < 1:
            raise ValueError(f"ALBERT_NP_NUM_THREADS must be a positive integer, got {env!r}")
        return n
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no sched_getaffinity
        return os.cpu_count() or 1


# One pool of worker threads per process, replaced by a bigger one when a backend asks for more threads, and
# forgotten in a forked child (a fork copies the pool object but not its threads).
_pool, _pool_size = None, 0
_pool_lock = threading.Lock()


def _thread_pool(workers: int):
    global _pool, _pool_size
    with _pool_lock:
        if _pool is None or _pool_size < workers:
            # The old pool is not shut down: another thread may be about to submit to it. Once nothing refers to
            # it, its idle workers exit (ThreadPoolExecutor wakes them when it is garbage-collected).
            _pool_size = max(1, workers)
            _pool = ThreadPoolExecutor(max_workers=_pool_size, thread_name_prefix="albert_np")
        return _pool


class _BlockQueue:
    """Hands out block starts to the threads of one `rowwise` call, and lets the caller wait for them."""

    def __init__(self, starts):
        self.starts, self.handed_out, self.done, self.error = starts, 0, 0, None
        self._cond = threading.Condition()

    def take(self):
        with self._cond:
            if self.error is not None or self.handed_out == len(self.starts):
                return None
            self.handed_out += 1
            return self.starts[self.handed_out - 1]

    def finish(self, error=None):
        with self._cond:
            self.done += 1
            if error is not None and self.error is None:
                self.error = error
            self._cond.notify_all()

    def wait(self):
        """Until every block handed out is done and none is left (or one failed); re-raises a block's error."""
        with self._cond:
            self._cond.wait_for(lambda: self.done == self.handed_out
                                and (self.error is not None or self.handed_out == len(self.starts)))
        if self.error is not None:
            raise self.error


# ---- NumPy's BLAS threads ------------------------------------------------------------------------------
# `Backend.matmul` runs BLAS on one thread and shares the product among its own threads. OpenBLAS's thread count
# is process-wide, so it is set to 1 only while an albert_np product runs (a depth count lets threads nest
# and overlap) and put back after. Meanwhile a NumPy product that another thread of the process starts on its own
# also runs on one BLAS thread.

_MATMUL_MIN_FLOPS = 1 << 22  # about 4 MFLOP, some 30 us: below this a split costs more than it saves
_MATMUL_MIN_ROWS = 64        # with fewer rows per block, packing `b` starts to cost as much as the product
_MATMUL_MIN_COLUMN_FLOPS = 1 << 25  # about 32 MFLOP: a product of few rows is cut by columns only above this
_MATMUL_COLUMN_ALIGN = 64    # column blocks are whole multiples of the GEMM kernel's panel width
_blas_controls = "unset"     # (get_num_threads, set_num_threads) of NumPy's OpenBLAS, or None: see _blas()
_blas_depth, _blas_saved = 0, None
_blas_lock = threading.Lock()


def _blas():
    """The thread controls of the OpenBLAS NumPy uses, through ctypes, or None if NumPy uses another BLAS."""
    global _blas_controls
    if _blas_controls == "unset":
        _blas_controls = _find_openblas()
    return _blas_controls


def _find_openblas():
    # The library is the one already loaded in this process: on Linux /proc/self/maps names it; elsewhere
    # look where NumPy's wheels keep it (numpy.libs beside the package, or numpy/.dylibs).
    paths = []
    try:
        with open("/proc/self/maps") as maps:
            paths = [line.split()[-1] for line in maps if "openblas" in line.rsplit("/", 1)[-1].lower()]
    except OSError:
        root = os.path.dirname(np.__file__)
        for folder in (root + ".libs", os.path.join(root, ".dylibs")):
            if os.path.isdir(folder):
                paths += [os.path.join(folder, f) for f in os.listdir(folder) if "openblas" in f.lower()]
    for path in dict.fromkeys(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        # NumPy's own build (scipy-openblas) prefixes the symbols; a system OpenBLAS does not.
        for get, set_ in (("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
                          ("scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads"),
                          ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
                          ("openblas_get_num_threads", "openblas_set_num_threads")):
            if hasattr(lib, get) and hasattr(lib, set_):
                get, set_ = getattr(lib, get), getattr(lib, set_)
                get.restype, set_.argtypes, set_.restype = ctypes.c_int, [ctypes.c_int], None
                return get, set_
    return None


@contextlib.contextmanager
def _blas_on_one_thread():
    """OpenBLAS on one thread inside the block; its previous count is put back when the last such block ends."""
    global _blas_depth, _blas_saved
    get, set_ = _blas()
    with _blas_lock:
        if _blas_depth == 0:
            _blas_saved = get()
            set_(1)
        _blas_depth += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_depth -= 1
            if _blas_depth == 0:
                set_(_blas_saved)


def _matmul_split_axis(a, b, threads):
    """(axis, block length) along which to cut a @ b into about 2 * threads blocks, or (None, 0): run it whole.

    A 2-D `b` (a weight) is shared by every block and `a` is cut along its first axis (its rows when 2-D).
    When `a` has too few rows for two blocks of `_MATMUL_MIN_ROWS` (one short sequence: 16 rows), `b` is cut
    into blocks of columns instead (axis -1), each multiplied by all of `a`, above a larger size: with the
    whole of b's columns on one thread, a b1s16 forward ran every product on one core.
    Stacked matrices with the same leading shape are cut along the batch axis, or the head axis when the batch
    is too small. Twice as many blocks as threads lets a thread that starts late take fewer.
    """
    if threads < 2 or a.ndim < 2 or b.ndim < 2:
        return None, 0
    flops = 2 * a.size * b.shape[-1]
    if flops < _MATMUL_MIN_FLOPS:
        return None, 0
    if b.ndim == 2:
        rows = a.size // a.shape[-1]
        if rows < 2 * _MATMUL_MIN_ROWS and flops >= _MATMUL_MIN_COLUMN_FLOPS:
            return -1, _MATMUL_COLUMN_ALIGN * -(-b.shape[-1] // (2 * threads * _MATMUL_COLUMN_ALIGN))
        axis, min_len = 0, (_MATMUL_MIN_ROWS if a.ndim == 2 else 1)
    elif a.shape[:-2] == b.shape[:-2]:
        axis, min_len = (0 if a.shape[0] >= threads or a.ndim == 3 else 1), 1
    else:
        return None, 0
    n = a.shape[axis]
    if n < 2 * min_len:
        return None, 0
    return axis, max(min_len, -(-n // (2 * threads)))


def _forget_pool():
    # A fork copies neither the pool's threads nor a product in flight on another thread, so the child starts
    # with no pool and, if the parent was inside `matmul`, puts OpenBLAS's thread count back.
    global _pool, _pool_size, _pool_lock, _blas_depth, _blas_lock
    _pool, _pool_size, _pool_lock = None, 0, threading.Lock()
    if _blas_depth:
        _blas()[1](_blas_saved)
    _blas_depth, _blas_lock = 0, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)

