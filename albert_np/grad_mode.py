"""`no_grad()`: forward passes that keep nothing for a backward, as torch.no_grad (one switch per thread).

    with albert_np.no_grad():
        out = model(input_ids=ids)      # no caches kept: less memory, and backward() would say why it cannot run

Like torch's, the switch belongs to the thread that sets it, so one thread's inference cannot drop another
thread's caches; it also works as a decorator.
"""

from __future__ import annotations

import functools
import threading
from typing import Any, Callable

_state = threading.local()


def is_grad_enabled() -> bool:
    """False inside `no_grad()` on this thread, else True."""
    return getattr(_state, "enabled", True)


class no_grad:
    """Context manager (and decorator) under which model forwards on this thread keep no caches for backward()."""

    def __enter__(self):
        self._previous = is_grad_enabled()
        _state.enabled = False
        return self

    def __exit__(self, *exc):
        _state.enabled = self._previous
        return False

    def __call__(self, func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with no_grad():
                return func(*args, **kwargs)

        return wrapper
