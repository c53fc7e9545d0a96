"""The one module that knows which array library runs the math.

Everything else in albert_np gets an array namespace `xp` from a `Backend` and only uses the names that
NumPy 2, CuPy and the Python Array API standard share (`xp.matmul`, `xp.exp`, `xp.permute_dims`, ...).
The few things the standard lacks live here: moving arrays to and from the device, `erf`, scatter-add
(for embedding gradients), random numbers (for dropout), and `rowwise`, which runs NumPy's elementwise work in
cache-sized blocks on several threads.
"""

from __future__ import annotations

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

_DTYPES = ("float32", "float64")


class Backend:
    """An Array-API namespace `xp`, the device arrays live on, and the extras the standard lacks."""

    def __init__(self, xp, name: str, device=None, seed: int | None = None):
        self.xp = xp
        self.name = name
        self.device = device
        self.num_threads = default_num_threads()  # threads `rowwise` may use (NumPy only)
        self.block_bytes = 512 * 1024              # `rowwise` block size: fits the CPU's L2 cache
        self.seed(seed)

    def __repr__(self):
        return f"Backend({self.name!r}, device={self.device!r})"

    # ---- dtypes and moving data --------------------------------------------------------------------

    def dtype(self, name: str):
        """The namespace's floating dtype called `name` ("float32" or "float64")."""
        if name not in _DTYPES:
            raise ValueError(f"dtype must be one of {_DTYPES}, got {name!r}")
        return getattr(self.xp, name)

    def asarray(self, x, dtype=None):
        """Put host data (NumPy array, list, scalar) or an array of this namespace on the backend's device."""
        return self.xp.asarray(x, dtype=dtype, **self._on_device())

    def is_array(self, x) -> bool:
        """True when `x` already belongs to this backend's namespace (so no host copy is needed)."""
        if self.name == "numpy":
            return isinstance(x, np.ndarray)
        return type(x).__module__.split(".")[0] == self.xp.__name__.split(".")[0] and hasattr(x, "shape")

    def to_numpy(self, x):
        """A NumPy copy of `x` on the host, from any backend (None passes through)."""
        return to_numpy(x)

    def zeros(self, shape, dtype):
        return self.xp.zeros(shape, dtype=dtype, **self._on_device())

    def ones(self, shape, dtype):
        return self.xp.ones(shape, dtype=dtype, **self._on_device())

    def arange(self, n: int):
        return self.xp.arange(n, **self._on_device())

    def _on_device(self) -> dict:
        # NumPy's default device needs no argument; other namespaces get the backend's device.
        return {} if self.device is None else {"device": self.device}

    # ---- what the standard lacks -------------------------------------------------------------------

    def erf(self, x):
        """The error function, elementwise (needed by the exact `gelu`)."""
        if self.name == "cupy":
            import cupyx.scipy.special

            return cupyx.scipy.special.erf(x)
        return _erf_series(self.xp, x)

    def index_add(self, target, index, values):
        """target[index[i]] += values[i] for every i, accumulating repeated indices (embedding backward).

        target: [V, E], index: [N] integers, values: [N, E]. Updates `target` in place and returns it.
        """
        if self.name == "numpy":
            np.add.at(target, index, values)
            return target
        if self.name == "cupy":
            import cupyx

            cupyx.scatter_add(target, index, values)
            return target
        # The standard has no scatter: build a one-hot [N, V] matrix and let a matmul do the sums.
        xp = self.xp
        vocab = self.arange(target.shape[0])
        one_hot = xp.astype(index[:, None] == vocab[None, :], values.dtype)
        target += xp.matmul(xp.permute_dims(one_hot, (1, 0)), values)
        return target

    def rowwise(self, f, *arrays):
        """f(*arrays) for an `f` that treats every row (the last axis) on its own: an activation, softmax, LayerNorm.

        `arrays` share their leading shape. `f` returns one array or a tuple of arrays with that leading shape,
        or None when it updates its first argument in place (a bias add). NumPy runs each ufunc on one core and
        streams the whole array through memory once per ufunc, so a GELU made of eight ufuncs reads and writes
        a 12 MB activation eight times. Here, for a large NumPy array, the rows are cut into blocks of about
        `block_bytes` that stay in the CPU cache through all of f's passes, and the blocks are shared among
        `num_threads` threads (NumPy releases the GIL inside ufuncs). The result is bit for bit that of
        f(*arrays), which is what small arrays and every other backend get.
        """
        x = arrays[0]
        if self.name != "numpy" or x.ndim == 0 or x.size == 0:
            return f(*arrays)
        n_rows = x.size // x.shape[-1]
        rows = max(1, self.block_bytes // (x.shape[-1] * x.itemsize))
        if n_rows < 2 * rows:
            return f(*arrays)
        if any(a.ndim > 2 and not a.flags.c_contiguous for a in arrays):
            return f(*arrays)  # flattening it to rows would copy it, and an in-place f would update the copy
        flat = [np.reshape(a, (n_rows, a.shape[-1])) for a in arrays]

        def block(s):
            return f(*(a[s:s + rows] for a in flat))

        # The first block, on this thread, tells the output shapes.
        first = block(0)
        single = not isinstance(first, tuple)
        results = () if first is None else (first,) if single else first
        for r in results:
            if r.shape[0] != rows:
                raise ValueError(f"rowwise: f must return arrays with one row per input row, got shape {r.shape}")
        outs = tuple(np.empty((n_rows,) + r.shape[1:], dtype=r.dtype) for r in results)

        def store(s, results):
            # An in-place f returns None and has no outputs: zip over the empty `outs` then stores nothing.
            for out, r in zip(outs, (results,) if single else results):
                out[s:s + rows] = r

        store(0, first)

        # The other blocks go to whichever thread asks next. A worker that starts late (its core busy, e.g.
        # with a BLAS thread spinning after a GEMM) just finds fewer blocks left, and this thread waits only
        # for blocks already handed out, so a late worker cannot hold the call up.
        queue = _BlockQueue(list(range(rows, n_rows, rows)))

        def work():
            while (s := queue.take()) is not None:
                try:
                    store(s, block(s))
                except BaseException as e:
                    queue.finish(e)
                else:
                    queue.finish()

        workers = min(self.num_threads, len(queue.starts)) - 1
        if workers > 0:
            pool = _thread_pool(workers)
            for _ in range(workers):
                pool.submit(work)
        work()
        queue.wait()
        if not outs:
            return None
        outs = tuple(np.reshape(out, x.shape[:-1] + out.shape[1:]) for out in outs)
        return outs[0] if single else outs

    def seed(self, seed: int | None):
        """Reseed the generators behind dropout masks and weight initialisation."""
        self._rng = np.random.default_rng(seed)
        # On the GPU, dropout masks are drawn there: copying a [B, heads, S, S] mask from the host per layer is slow.
        self._device_rng = self.xp.random.default_rng(seed) if self.name == "cupy" else None

    def uniform(self, shape, dtype):
        """Uniform [0, 1) samples of `shape` on the device (dropout masks)."""
        if self._device_rng is not None:
            return self._device_rng.random(shape, dtype=dtype)
        return self.asarray(self._rng.random(shape), dtype=dtype)

    def normal(self, shape, std: float, dtype):
        """Normal(0, std) samples on the device (weight initialisation of missing heads)."""
        return self.asarray(self._rng.normal(0.0, std, size=shape), dtype=dtype)


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
            if _pool is not None:
                _pool.shutdown(wait=False)
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


def _forget_pool():
    global _pool, _pool_size, _pool_lock
    _pool, _pool_size, _pool_lock = None, 0, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _cpu_device(xp):
    """The CPU device of a generic namespace, if it names one (array_api_strict does)."""
    device_cls = getattr(xp, "Device", None)
    if device_cls is None:
        return None
    try:
        return device_cls("CPU_DEVICE")
    except Exception:
        return None


def _erf_series(xp, x):
    """erf(x) to ~1e-16 from array operations alone, so it runs on any Array-API namespace.

    |x| < 2: erf(x) = 2/sqrt(pi) * exp(-x^2) * sum_n x (2x^2)^n / (1*3*...*(2n+1)), all terms positive,
    so nothing cancels. |x| >= 2: erfc(x) = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))),
    a continued fraction evaluated from the bottom up. Both branches run on clipped copies, then `where`
    picks; for |x| > 6 erf is +-1 in double precision.
    """
    a = xp.abs(x)
    s = xp.minimum(a, 2.0)
    term = s
    total = s
    two_s2 = 2.0 * s * s
    for n in range(1, 48):
        term = term * two_s2 / (2 * n + 1)
        total = total + term
    small = (2.0 / math.sqrt(math.pi)) * xp.exp(-s * s) * total

    b = xp.clip(a, 2.0, 6.0)
    f = b
    for k in range(60, 0, -1):
        f = b + (k / 2.0) / f
    large = 1.0 - xp.exp(-b * b) / (math.sqrt(math.pi) * f)

    value = xp.where(a < 2.0, small, large)
    return xp.where(x < 0, -value, value)


def to_numpy(x):
    """A NumPy copy of an array from NumPy, CuPy or any Array-API namespace (None passes through)."""
    if x is None or isinstance(x, np.ndarray):
        return x
    if type(x).__module__.split(".")[0] == "cupy":
        return x.get()
    # A generic Array-API array: move it to its namespace's CPU device first, then read its buffer.
    if hasattr(x, "__array_namespace__") and hasattr(x, "to_device"):
        cpu = _cpu_device(x.__array_namespace__())
        if cpu is not None and x.device != cpu:
            x = x.to_device(cpu)
    return np.asarray(x)


def get_backend(backend="numpy", device=None, seed: int | None = None) -> Backend:
    """Resolve "numpy", "cupy", an Array-API namespace module, or a Backend into a Backend."""
    if isinstance(backend, Backend):
        return backend
    if backend == "numpy" or backend is np:
        if int(np.__version__.split(".")[0]) < 2:
            raise ImportError(f"albert_np needs NumPy >= 2 (the Array-API names); found {np.__version__}")
        return Backend(np, "numpy", device, seed)
    if backend == "cupy" or getattr(backend, "__name__", "") == "cupy":
        try:
            import cupy
        except ImportError as e:
            raise ImportError(
                "backend='cupy' needs CuPy and a CUDA GPU: install it with `pip install 'albert_np[cupy]'` "
                "(or the cupy-cudaXXx wheel matching your CUDA), or use backend='numpy'."
            ) from e
        return Backend(cupy, "cupy", device, seed)
    if isinstance(backend, str):
        raise ValueError(
            f"unknown backend {backend!r}: use 'numpy', 'cupy', or pass an Array-API namespace module "
            "(e.g. array_api_strict)"
        )
    if not hasattr(backend, "matmul") or not hasattr(backend, "asarray"):
        raise TypeError(f"backend must be 'numpy', 'cupy' or an Array-API namespace, got {backend!r}")
    return Backend(backend, backend.__name__, device, seed)
