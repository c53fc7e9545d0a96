"""Writing files so that a crash never leaves a half-written one or a half-switched checkpoint behind.

Two tools:
  atomic_writer(path)      one file: write a temp file beside it, fsync, rename over `path`.
  folder_transaction(dir)  a set of files (a checkpoint): write them all into a hidden staging folder inside
                           `dir`, commit with a journal, then rename each into `dir`; a crash after the commit
                           is finished by the next save or load (finish_interrupted_save). Nothing else in
                           `dir` is ever touched. docs/reliability.md states the guarantee precisely.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import re
import shutil
import tempfile

STAGING_PREFIX = ".albert_np-staging-"
JOURNAL_NAME = ".albert_np-commit.json"
_STAGING_RE = re.compile(r"^\.albert_np-staging-[A-Za-z0-9_]+$")


@contextlib.contextmanager
def atomic_writer(path):
    """A binary file object for `path` that only replaces `path` once everything was written.

    The data goes to a temp file in the same folder, is flushed to disk, then renamed over `path` (an atomic
    step); on any error the temp file is removed and `path` is left as it was.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise IsADirectoryError(f"cannot write the file {path}: a folder of that name is there; pass another path")
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


# ---- a set of files switched in as one ----------------------------------------------------------------


def make_target_folder(folder) -> list[str]:
    """Create `folder` (and missing parents); returns the folders it created, deepest first, for undoing.

    A file at `folder` is an error (it is never moved aside or replaced).
    """
    folder = os.path.abspath(os.fspath(folder))
    if os.path.lexists(folder) and not os.path.isdir(folder):
        raise NotADirectoryError(
            f"cannot save into {folder}: it is a file, not a folder; pass a folder path (the file is left alone)"
        )
    created, probe = [], folder
    while not os.path.lexists(probe):
        created.append(probe)
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe):
        raise NotADirectoryError(f"cannot save into {folder}: {probe} is a file, not a folder; pass another path")
    os.makedirs(folder, exist_ok=True)
    return created


def check_writable_folder(folder, what: str = "folder"):
    """Raise PermissionError/NotADirectoryError now if a save into `folder` would fail; leaves nothing behind.

    Used before training starts, so that a read-only checkpoint_dir fails in a second, not after every step.
    """
    folder = os.path.abspath(os.fspath(folder))
    probe = folder
    while not os.path.lexists(probe):
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe):
        raise NotADirectoryError(f"{what} {folder} cannot be created: {probe} is a file, not a folder; pass another path")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise PermissionError(
            f"{what} {folder} is not writable ({probe} does not allow writing); pass a folder you can write to"
        )
    # access() can say yes on a read-only mount or to root: create the folder and a file for real, then undo.
    created = []
    try:
        created = make_target_folder(folder)
        fd, tmp = tempfile.mkstemp(prefix=STAGING_PREFIX + "probe", dir=folder)
        os.close(fd)
        os.remove(tmp)
    except OSError as e:
        raise PermissionError(
            f"{what} {folder} is not writable ({e.strerror or e}); pass a folder you can write to"
        ) from None
    finally:
        for made in created:
            with contextlib.suppress(OSError):
                os.rmdir(made)


def finish_interrupted_save(folder) -> bool:
    """Complete a save whose commit was recorded but not finished (a crash or error mid-switch); drop stale staging.

    Idempotent. Returns True when a committed save was rolled forward. Only hidden `.albert_np-staging-*`
    folders and the journal are touched; a journal that names anything else is refused (ValueError).
    """
    folder = os.path.abspath(os.fspath(folder))
    journal = os.path.join(folder, JOURNAL_NAME)
    rolled = False
    if os.path.isfile(journal):
        staging, names = _read_journal(journal)
        for name in names:
            src = os.path.join(staging, name)
            if os.path.isfile(src) and not os.path.islink(src):
                with contextlib.suppress(FileNotFoundError):   # another process finishing the same switch
                    os.replace(src, os.path.join(folder, name))
        _fsync_dir(folder)
        with contextlib.suppress(FileNotFoundError):
            os.remove(journal)
        rolled = True
    for stale in glob.glob(os.path.join(glob.escape(folder), STAGING_PREFIX + "*")):
        if _STAGING_RE.match(os.path.basename(stale)) and os.path.isdir(stale) and not os.path.islink(stale):
            shutil.rmtree(stale, ignore_errors=True)
        elif os.path.basename(stale).startswith(STAGING_PREFIX + "probe") and os.path.isfile(stale):
            os.remove(stale)
    _remove_stale_temp_files(folder, [JOURNAL_NAME])   # a save killed while writing its journal
    return rolled


def _read_journal(journal) -> tuple[str, list[str]]:
    folder = os.path.dirname(journal)
    try:
        with open(journal, encoding="utf-8") as f:
            record = json.load(f)
        staging, names = record["staging"], list(record["files"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{journal} (the record of an interrupted save) is damaged ({e}); delete it and save again") from e
    plain = all(isinstance(n, str) and n == os.path.basename(n) and n not in ("", ".", "..") and "\\" not in n
                for n in names)
    if not isinstance(staging, str) or not _STAGING_RE.match(staging) or not plain:
        raise ValueError(f"{journal} names files outside {folder}; it was not written by albert_np: delete it")
    return os.path.join(folder, staging), names


def _fsync_dir(folder):
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _remove_stale_temp_files(folder, names):
    """Temp files that an atomic_writer killed mid-write left for these names (`.config.json.k3j_x9a2.tmp`)."""
    for name in names:
        for stale in glob.glob(os.path.join(glob.escape(folder), glob.escape("." + name + ".") + "*.tmp")):
            if re.fullmatch(re.escape("." + name + ".") + r"[a-z0-9_]{8}\.tmp", os.path.basename(stale)) \
                    and os.path.isfile(stale) and not os.path.islink(stale):
                os.remove(stale)


def _commit_order(names, last: tuple[str, ...]) -> list[str]:
    """Every file name, those in `last` at the end in that order (config.json is switched in last)."""
    rest = sorted(n for n in names if n not in last)
    return rest + [n for n in last if n in names]


@contextlib.contextmanager
def folder_transaction(folder, last: tuple[str, ...] = ("config.json",)):
    """Yield a fresh staging folder; when the block ends cleanly, its files replace their namesakes in `folder`.

        with folder_transaction("runs/ckpt") as staging:
            model.write_pretrained_files(staging); tokenizer.save_pretrained(staging)

    Steps: finish or drop what an earlier, killed save left; write into `folder/.albert_np-staging-*`; fsync;
    write the journal (the commit point); rename each file into `folder` (`last` ones last); remove the journal.
    An error before the commit leaves `folder` as it was (a folder created for the save is removed again);
    an error after it is retried at once and otherwise finished by the next save or load.
    """
    created = make_target_folder(folder)
    folder = os.path.abspath(os.fspath(folder))
    staging = None
    committed = False
    try:
        finish_interrupted_save(folder)
        staging = tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=folder)
        yield staging
        names = []
        for name in os.listdir(staging):
            path = os.path.join(staging, name)
            if not os.path.isfile(path) or os.path.islink(path):
                raise ValueError(f"a checkpoint holds plain files only, but {name!r} was written as a folder or link")
            os.chmod(path, 0o666 & ~_umask())
            names.append(name)
        blocked = [n for n in names if os.path.isdir(os.path.join(folder, n))]
        if blocked:
            raise IsADirectoryError(
                f"cannot save {blocked[0]!r} into {folder}: a folder of that name is there; move it away or save elsewhere"
            )
        _fsync_dir(staging)
        record = {"staging": os.path.basename(staging), "files": _commit_order(names, last)}
        atomic_write_text(os.path.join(folder, JOURNAL_NAME), json.dumps(record))
        _fsync_dir(folder)
        committed = True
        try:
            finish_interrupted_save(folder)
        except OSError:
            finish_interrupted_save(folder)   # one retry; if it fails again the next save or load finishes it
        _remove_stale_temp_files(folder, names)
    except BaseException as e:
        if not committed or not isinstance(e, Exception):
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)
            for made in created:
                with contextlib.suppress(OSError):
                    os.rmdir(made)
            raise
        raise OSError(
            f"the new checkpoint in {folder} is committed but could not be switched in completely ({e}); "
            "the next save or from_pretrained of that folder finishes it"
        ) from e
