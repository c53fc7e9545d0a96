"""The one module that knows which array library runs the math.

Everything else in albert_np gets an array namespace `xp` from a `Backend` and only uses the names that
NumPy 2, CuPy and the Python Array API standard share (`xp.matmul`, `xp.exp`, `xp.permute_dims`, ...).
The few things the standard lacks live here: moving arrays to and from the device, `erf`, scatter-add
(for embedding gradients), random numbers (for dropout), and the entry points of the work shared among one
pool of threads on NumPy: `matmul` (products, with BLAS held at one thread), `rowwise` (elementwise work in
cache-sized blocks) and `batchwise` (attention, a few sequences at a time). The pool, the OpenBLAS control and
the GEMM splitting behind them are in the private module _parallel.py.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from . import _parallel
from ._parallel import default_num_threads

_DTYPES = ("float32", "float64")


class Backend:
    """An Array-API namespace `xp`, the device arrays live on, and the extras the standard lacks."""

    def __init__(self, xp: Any, name: str, device: Any = None, seed: int | None = None):
        self.xp = xp
        self.name = name
        self.device = device
        self.num_threads = default_num_threads()  # threads for matmul, rowwise and batchwise (NumPy only)
        self.block_bytes = 512 * 1024              # `rowwise` block size: fits the CPU's L2 cache
        self.seed(seed)

    def __repr__(self) -> str:
        return f"Backend({self.name!r}, device={self.device!r})"

    # ---- dtypes and moving data --------------------------------------------------------------------

    def dtype(self, name: str) -> Any:
        """The namespace's floating dtype called `name` ("float32" or "float64")."""
        if name not in _DTYPES:
            raise ValueError(f"dtype must be one of {_DTYPES}, got {name!r}")
        return getattr(self.xp, name)

    def asarray(self, x: Any, dtype: Any = None) -> Any:
        """Put host data (NumPy array, list, scalar) or an array of this namespace on the backend's device."""
        return self.xp.asarray(x, dtype=dtype, **self._on_device())

    def is_array(self, x: Any) -> bool:
        """True when `x` already belongs to this backend's namespace (so no host copy is needed)."""
        if self.name == "numpy":
            return isinstance(x, np.ndarray)
        return type(x).__module__.split(".")[0] == self.xp.__name__.split(".")[0] and hasattr(x, "shape")

    def to_numpy(self, x: Any) -> np.ndarray | None:
        """A NumPy copy of `x` on the host, from any backend (None passes through)."""
        return to_numpy(x)

    def zeros(self, shape: tuple[int, ...], dtype: Any) -> Any:
        return self.xp.zeros(shape, dtype=dtype, **self._on_device())

    def ones(self, shape: tuple[int, ...], dtype: Any) -> Any:
        return self.xp.ones(shape, dtype=dtype, **self._on_device())

    def arange(self, n: int) -> Any:
        return self.xp.arange(n, **self._on_device())

    def _on_device(self) -> dict:
        # NumPy's default device needs no argument; other namespaces get the backend's device.
        return {} if self.device is None else {"device": self.device}

    # ---- what the standard lacks -------------------------------------------------------------------

    def erf(self, x: Any) -> Any:
        """The error function, elementwise (needed by the exact `gelu`)."""
        if self.name == "cupy":
            import cupyx.scipy.special

            return cupyx.scipy.special.erf(x)
        return _erf_series(self.xp, x)

    def index_add(self, target: Any, index: Any, values: Any) -> Any:
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

    def set_rows(self, target: Any, rows: Any, values: Any) -> Any:
        """target[rows] = values for rows without repeats (the loss gradient of the counted rows only).

        target: [N, C], rows: [n] distinct integers, values: [n, C]. Updates `target` in place and returns it.
        """
        if self.name in ("numpy", "cupy"):
            target[rows] = values
            return target
        return self.index_add(target, rows, values)  # the standard has no scatter; onto zeros, adding is setting

    # ---- work shared among threads on NumPy (the machinery is in _parallel.py) -------------------------

    def rowwise(self, f: Callable[..., Any], *arrays: Any, out: Any = None) -> Any:
        """f(*arrays) for an `f` that treats every row (the last axis) on its own: an activation, softmax, LayerNorm.

        `arrays` share their leading shape; `f` returns one array or a tuple of arrays with that leading shape
        (or None when it updates its first argument in place). On NumPy, large arrays go through `f` in
        cache-sized row blocks shared among `num_threads` threads; the result is bit for bit f(*arrays).
        `out` is an array f's (first) result may be written into, typically an input nothing needs afterwards.
        """
        return _parallel.rowwise(self, f, *arrays, out=out)

    def batchwise(self, f: Callable[..., Any], *arrays: Any) -> Any:
        """f(*arrays) for an `f` that treats every item of the first axis on its own (attention, per sequence)."""
        return _parallel.batchwise(self, f, *arrays)

    def matmul(self, a: Any, b: Any, bias: Any = None) -> Any:
        """a @ b (+ bias, broadcast over the last axis), as `xp.matmul`; on NumPy a large product is shared among threads."""
        return _parallel.matmul(self, a, b, bias)

    def seed(self, seed: int | None) -> None:
        """Reseed the generators behind dropout masks and weight initialisation."""
        self._rng = np.random.default_rng(seed)
        # On the GPU, dropout masks are drawn there: copying a [B, heads, S, S] mask from the host per layer is slow.
        self._device_rng = self.xp.random.default_rng(seed) if self.name == "cupy" else None

    @property
    def rng_state(self) -> dict:
        """The host generator's state (NumPy's bit-generator dict), to save and restore so a resumed run draws
        the same dropout masks as an uninterrupted one. (CuPy's device generator is not covered.)"""
        return self._rng.bit_generator.state

    @rng_state.setter
    def rng_state(self, state: dict) -> None:
        self._rng.bit_generator.state = state

    def take_generator(self, other: Backend) -> None:
        """Continue from `other`'s random state (model.to() moving to this backend): the same host generator
        state, so NumPy draws the same dropout masks and initial weights; CuPy's device generator is seeded
        from that state, so a seeded run stays reproducible after the move."""
        host = np.random.default_rng()
        host.bit_generator.state = other.rng_state
        self.seed(int(host.integers(2**63)))
        self.rng_state = other.rng_state

    def uniform(self, shape: tuple[int, ...], dtype: Any) -> Any:
        """Uniform [0, 1) samples of `shape` on the device (dropout masks)."""
        if self._device_rng is not None:
            return self._device_rng.random(shape, dtype=dtype)
        return self.asarray(self._rng.random(shape), dtype=dtype)

    def normal(self, shape: tuple[int, ...], std: float, dtype: Any) -> Any:
        """Normal(0, std) samples on the device (weight initialisation of missing heads)."""
        return self.asarray(self._rng.normal(0.0, std, size=shape), dtype=dtype)


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


def to_numpy(x: Any) -> np.ndarray | None:
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


def get_backend(backend: Any = "numpy", device: Any = None, seed: int | None = None) -> Backend:
    """Resolve "numpy", "cupy", an Array-API namespace module, or a Backend into a Backend."""
    if isinstance(backend, Backend):
        return backend
    if backend == "numpy" or backend is np:
        if int(np.__version__.split(".")[0]) < 2:
            raise ImportError(f"albert_np needs NumPy >= 2 (the Array-API names); found {np.__version__}")
        return Backend(np, "numpy", device, seed)
    if backend == "cupy" or getattr(backend, "__name__", "") == "cupy":
        return Backend(_cupy_or_error(), "cupy", device, seed)
    if isinstance(backend, str):
        raise ValueError(
            f"unknown backend {backend!r}: use 'numpy', 'cupy', or pass an Array-API namespace module "
            "(e.g. array_api_strict)"
        )
    if not hasattr(backend, "matmul") or not hasattr(backend, "asarray"):
        raise TypeError(f"backend must be 'numpy', 'cupy' or an Array-API namespace, got {backend!r}")
    return Backend(backend, backend.__name__, device, seed)


def _cupy_or_error():
    """The cupy module when it is installed AND sees a CUDA device; otherwise one sentence saying what to do."""
    try:
        import cupy
    except ImportError as e:
        raise ImportError(
            "backend='cupy' needs CuPy and a CUDA GPU: install it with `pip install 'albert_np[cupy]'` "
            "(or the cupy-cudaXXx wheel matching your CUDA), or use backend='numpy'."
        ) from e
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:   # CUDARuntimeError, or a missing/mismatched driver library
        raise RuntimeError(
            f"CuPy is installed but sees no CUDA device ({type(e).__name__}: {e}); run on a machine with an NVIDIA GPU "
            "and driver, or use backend='numpy'."
        ) from None
    if count < 1:
        raise RuntimeError("CuPy is installed but sees no CUDA device; run on a machine with an NVIDIA GPU "
                           "and driver, or use backend='numpy'.")
    return cupy
