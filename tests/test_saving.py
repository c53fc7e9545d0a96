"""Saving keeps what was there: only the checkpoint's own files change, as a whole or not at all, even under faults."""

from __future__ import annotations

import contextlib
import json
import os
import stat
import unittest.mock

import numpy as np
import pytest

import albert_np as an
from albert_np import io_utils, train
from albert_np.io_utils import JOURNAL_NAME, STAGING_PREFIX
from bad_inputs import snapshot
from test_train import endless, random_batch, tiny_classifier

CHECKPOINT_FILES = ["config.json", "model.safetensors", "trainer_state.json"]


def user_files(root):
    """The user's own things beside a checkpoint: a note and an older run."""
    (root / "notes.txt").write_text("keep me\n")
    (root / "old_run").mkdir()
    (root / "old_run" / "model.safetensors").write_bytes(b"an older run")


def test_save_checkpoint_keeps_other_files_in_the_target(tmp_path):
    user_files(tmp_path)
    train.save_checkpoint(tiny_classifier(), tmp_path, state={"step": 1})
    assert (tmp_path / "notes.txt").read_text() == "keep me\n"
    assert (tmp_path / "old_run" / "model.safetensors").read_bytes() == b"an older run"
    assert sorted(os.listdir(tmp_path)) == sorted(CHECKPOINT_FILES + ["notes.txt", "old_run"])


def test_save_checkpoint_into_the_working_directory_empties_nothing(tmp_path, monkeypatch):
    user_files(tmp_path)
    monkeypatch.chdir(tmp_path)
    train.save_checkpoint(tiny_classifier(), ".")
    assert sorted(os.listdir(tmp_path)) == ["config.json", "model.safetensors", "notes.txt", "old_run"]


def test_a_file_at_the_target_is_an_error_and_stays_where_it_is(tmp_path):
    (tmp_path / "ckpt").write_text("not a folder")
    with pytest.raises(NotADirectoryError, match="it is a file, not a folder"):
        train.save_checkpoint(tiny_classifier(), tmp_path / "ckpt")
    assert os.listdir(tmp_path) == ["ckpt"] and (tmp_path / "ckpt").read_text() == "not a folder"


def test_model_and_config_save_pretrained_keep_other_files(tmp_path):
    user_files(tmp_path)
    model = tiny_classifier()
    model.save_pretrained(tmp_path)
    model.config.save_pretrained(tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["config.json", "model.safetensors", "notes.txt", "old_run"]


def test_a_stale_staging_folder_of_a_killed_save_is_removed_by_the_next_save(tmp_path):
    stale = tmp_path / (STAGING_PREFIX + "killed")
    stale.mkdir()
    (stale / "model.safetensors").write_bytes(b"x" * 1000)
    train.save_checkpoint(tiny_classifier(), tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["config.json", "model.safetensors"]


def test_temp_files_of_a_killed_single_file_write_are_removed_by_the_next_save(tmp_path):
    (tmp_path / ".model.safetensors.k3j_x9a2.tmp").write_bytes(b"half a file")
    (tmp_path / ".notes.txt.k3j_x9a2.tmp").write_text("not ours to remove")
    train.save_checkpoint(tiny_classifier(), tmp_path)
    assert sorted(os.listdir(tmp_path)) == [".notes.txt.k3j_x9a2.tmp", "config.json", "model.safetensors"]


def test_a_committed_but_unfinished_save_is_finished_by_from_pretrained(tmp_path):
    old, new = tiny_classifier(seed=1), tiny_classifier(seed=2)
    train.save_checkpoint(old, tmp_path)
    staging = tmp_path / (STAGING_PREFIX + "crashed")
    new.save_pretrained(staging)
    # The crash came after the commit and after model.safetensors was switched in, before config.json.
    (tmp_path / JOURNAL_NAME).write_text(json.dumps({"staging": staging.name, "files": ["model.safetensors", "config.json"]}))
    os.replace(staging / "model.safetensors", tmp_path / "model.safetensors")
    loaded = an.AlbertForSequenceClassification.from_pretrained(tmp_path)
    assert_same_weights(loaded, new)
    assert sorted(os.listdir(tmp_path)) == ["config.json", "model.safetensors"]


def test_a_journal_naming_files_outside_the_folder_is_refused(tmp_path):
    train.save_checkpoint(tiny_classifier(), tmp_path / "ckpt")
    (tmp_path / "ckpt" / JOURNAL_NAME).write_text(json.dumps({"staging": "../elsewhere", "files": ["config.json"]}))
    with pytest.raises(an.CheckpointError, match="not written by albert_np"):
        an.AlbertForSequenceClassification.from_pretrained(tmp_path / "ckpt")


def assert_same_weights(model, reference):
    assert set(model.params) == set(reference.params)
    for key, value in reference.params.items():
        np.testing.assert_array_equal(model.params[key], value)


def count_io_calls(tmp_path):
    """How many os.replace / os.fsync / os.chmod / mkdtemp calls one save_checkpoint makes (the fault points)."""
    calls = []
    with fault_at(None, calls):
        train.save_checkpoint(tiny_classifier(seed=2), tmp_path / "count", state={"step": 2})
    return len(calls)


def fault_at(k, calls, persistent=False):
    """Patch the file-system steps of a save so that call number k (and, if persistent, every later one) fails."""
    originals = {name: getattr(os, name) for name in ("replace", "fsync", "chmod")}
    originals["mkdtemp"] = io_utils.tempfile.mkdtemp

    def wrap(name):
        def call(*args, **kwargs):
            calls.append(name)
            if k is not None and (len(calls) - 1 == k or (persistent and len(calls) - 1 > k)):
                raise OSError(f"injected fault in {name}")
            return originals[name](*args, **kwargs)
        return call

    patches = [unittest.mock.patch(f"os.{name}", wrap(name)) for name in ("replace", "fsync", "chmod")]
    patches.append(unittest.mock.patch("albert_np.io_utils.tempfile.mkdtemp", wrap("mkdtemp")))
    stack = contextlib.ExitStack()
    for patch in patches:
        stack.enter_context(patch)
    return stack


@pytest.mark.parametrize("persistent", [False, True], ids=["one-fault", "fault-from-then-on"])
def test_a_fault_at_any_step_leaves_the_old_or_the_new_checkpoint_whole(tmp_path, persistent):
    steps = count_io_calls(tmp_path)
    assert steps >= 8   # staging, each file's fsync + chmod + rename, the journal, the switch
    old, new = tiny_classifier(seed=1), tiny_classifier(seed=2)
    outcomes = []   # the fault points after which the new checkpoint is in place
    for k in range(steps):
        folder = tmp_path / f"k{k}"
        folder.mkdir()
        user_files(folder)
        train.save_checkpoint(old, folder, state={"step": 1})
        before = snapshot(folder)
        calls = []
        try:
            with fault_at(k, calls, persistent):
                train.save_checkpoint(new, folder, state={"step": 2})
        except OSError as e:
            if "committed" not in str(e):
                assert "injected fault" in str(e)
                assert snapshot(folder) == before, f"a fault at step {k} ({calls[k]}) changed the old checkpoint"
                continue
        outcomes.append(k)
        loaded = an.AlbertForSequenceClassification.from_pretrained(folder)  # finishes a committed switch
        assert_same_weights(loaded, new)
        assert json.loads((folder / "trainer_state.json").read_text()) == {"step": 2}
        assert sorted(os.listdir(folder)) == sorted(CHECKPOINT_FILES + ["notes.txt", "old_run"]), f"step {k}"
    assert 0 < len(outcomes) < steps   # both sides of the commit point were hit


def test_a_fault_while_writing_config_json_keeps_the_old_weights(tmp_path):
    old, new = tiny_classifier(seed=1), tiny_classifier(seed=2)
    train.save_checkpoint(old, tmp_path)
    before = snapshot(tmp_path)
    with unittest.mock.patch.object(an.AlbertConfig, "to_json_string", side_effect=OSError("disk full")):
        with pytest.raises(OSError, match="disk full"):
            train.save_checkpoint(new, tmp_path)
    assert snapshot(tmp_path) == before
    assert_same_weights(an.AlbertForSequenceClassification.from_pretrained(tmp_path), old)


def test_a_failed_save_into_a_new_folder_leaves_no_folder(tmp_path):
    with unittest.mock.patch.object(an.AlbertConfig, "to_json_string", side_effect=OSError("disk full")):
        with pytest.raises(OSError, match="disk full"):
            train.save_checkpoint(tiny_classifier(), tmp_path / "a" / "b")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("how", ["chmod", "access-denied"])
def test_a_read_only_checkpoint_dir_fails_before_the_first_step(tmp_path, how):
    if how == "chmod" and (os.name != "posix" or os.geteuid() == 0):
        pytest.skip("root writes into read-only folders")
    tmp_path.chmod(stat.S_IRUSR | stat.S_IXUSR)
    denied = unittest.mock.patch("albert_np.io_utils.os.access", return_value=False)
    model = tiny_classifier()
    steps_run = []

    def batches():
        while True:
            steps_run.append(1)
            yield random_batch()

    try:
        with denied if how == "access-denied" else contextlib.nullcontext():
            with pytest.raises(PermissionError, match="checkpoint_dir .* is not writable"):
                train.train(model, batches(), steps=3, checkpoint_dir=tmp_path / "ckpt", progress=False)
    finally:
        tmp_path.chmod(stat.S_IRWXU)
    assert steps_run == []


def test_a_checkpoint_dir_below_a_file_fails_before_training(tmp_path):
    (tmp_path / "blocker").write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file"):
        train.train(tiny_classifier(), endless(random_batch()), steps=2, checkpoint_dir=tmp_path / "blocker" / "ckpt",
                    progress=False)
    assert os.listdir(tmp_path) == ["blocker"]


def test_write_model_dir_switches_weights_and_config_together(tmp_path):
    from albert_np.checkpoint import write_model_dir
    user_files(tmp_path)
    old, new = tiny_classifier(seed=1), tiny_classifier(seed=2)
    write_model_dir(tmp_path, dict(old.params), old.config)
    before = snapshot(tmp_path)
    with unittest.mock.patch.object(an.AlbertConfig, "to_json_string", side_effect=OSError("disk full")):
        with pytest.raises(OSError, match="disk full"):
            write_model_dir(tmp_path, dict(new.params), new.config)
    assert snapshot(tmp_path) == before
    write_model_dir(tmp_path, dict(new.params), new.config)
    assert_same_weights(an.AlbertForSequenceClassification.from_pretrained(tmp_path), new)
    assert sorted(os.listdir(tmp_path)) == ["config.json", "model.safetensors", "notes.txt", "old_run"]


def killed_at(k, folder, model):
    """Save `model` into `folder` in a forked child that dies (os._exit, no cleanup runs) at file-system step k."""
    pid = os.fork()
    if pid == 0:   # the child: no exception handler, no finally, no atexit runs after the kill
        try:
            calls = []
            originals = {name: getattr(os, name) for name in ("replace", "fsync", "chmod")}

            def wrap(name):
                def call(*args, **kwargs):
                    calls.append(name)
                    if len(calls) - 1 == k:
                        os._exit(0)
                    return originals[name](*args, **kwargs)
                return call
            with contextlib.ExitStack() as stack:
                for name in originals:
                    stack.enter_context(unittest.mock.patch(f"os.{name}", wrap(name)))
                train.save_checkpoint(model, folder, state={"step": 2})
        finally:
            os._exit(1)   # the save finished without reaching step k
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork to kill a save midway")
def test_a_save_killed_at_any_step_leaves_old_or_new_whole_and_the_next_save_cleans_up(tmp_path):
    old, new = tiny_classifier(seed=1), tiny_classifier(seed=2)
    killed = []
    for k in range(40):
        folder = tmp_path / f"k{k}"
        folder.mkdir()
        user_files(folder)
        train.save_checkpoint(old, folder, state={"step": 1})
        if not killed_at(k, folder, new):
            break
        killed.append(k)
        loaded = an.AlbertForSequenceClassification.from_pretrained(folder)   # finishes a committed switch
        step = json.loads((folder / "trainer_state.json").read_text())["step"]
        assert_same_weights(loaded, new if step == 2 else old)
        train.save_checkpoint(new, folder, state={"step": 2})   # the next save leaves no temp data behind
        assert sorted(os.listdir(folder)) == sorted(CHECKPOINT_FILES + ["notes.txt", "old_run"]), f"killed at {k}"
    assert len(killed) >= 8
