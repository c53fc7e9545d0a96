"""Writing files so that a crash never leaves a half-written one behind: write a temp file, then rename."""

from __future__ import annotations

import contextlib
import os
import tempfile


@contextlib.contextmanager
def atomic_writer(path):
    """A binary file object for `path` that only replaces `path` once everything was written.

    The data goes to a temp file in the same folder, is flushed to disk, then renamed over `path` (an atomic
    step); on any error the temp file is removed and `path` is left as it was.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes the file private (0600); give it a normal file's mode
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path, data: bytes):
    """Write `data` to `path` through a temp file in the same folder and an atomic rename."""
    with atomic_writer(path) as f:
        f.write(data)


def atomic_write_text(path, text: str):
    atomic_write_bytes(path, text.encode("utf-8"))
