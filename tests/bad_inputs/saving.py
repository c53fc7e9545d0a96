"""Saving under bad targets and injected faults: each raises, and the old checkpoint and the user's files stay intact.

Every case's setup writes a complete checkpoint into `ckpt/` beside the user's `ckpt/notes.txt` and
`ckpt/old_run/`; `unchanged=True` then checks that a failed save changed no byte under the folder. Faults
are injected with unittest.mock.patch as a context manager inside `run`, so each case undoes its own patch.
"""

from __future__ import annotations

import json
import os
import unittest.mock

import numpy as np

import albert_np as an
from albert_np import io_utils, train
from albert_np.checkpoint import write_safetensors
from bad_inputs import Case


def tiny_model(seed=0):
    cfg = an.AlbertConfig(vocab_size=40, embedding_size=8, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                          intermediate_size=24, max_position_embeddings=16)
    return an.AlbertForSequenceClassification(cfg, seed=seed)


def old_checkpoint(d):
    """The state every saving case starts from: a checkpoint plus the user's own files in ckpt/."""
    train.save_checkpoint(tiny_model(seed=1), d / "ckpt", state={"step": 1})
    (d / "ckpt" / "notes.txt").write_text("my notes\n")
    (d / "ckpt" / "old_run").mkdir()
    (d / "ckpt" / "old_run" / "config.json").write_text("{}")


def save_new(d, **kwargs):
    train.save_checkpoint(tiny_model(seed=2), d / "ckpt", state={"step": 2}, **kwargs)


def with_fault(target, error=OSError("injected: disk full"), **patch_kwargs):
    """Run save_new while `target` (a dotted name) raises `error`."""
    def run(d):
        with unittest.mock.patch(target, side_effect=error, **patch_kwargs):
            save_new(d)
    return run


def fault_on_call(target, k, error=OSError("injected: disk full")):
    """Run save_new while the k-th call (0-based) of `target` raises; the other calls go through."""
    module_name, attr = target.rsplit(".", 1)
    module = {"os": os, "albert_np.io_utils.tempfile": io_utils.tempfile}[module_name]
    original = getattr(module, attr)
    calls = []

    def run(d):
        calls.clear()

        def maybe_fail(*args, **kwargs):
            calls.append(args)
            if len(calls) - 1 == k:
                raise error
            return original(*args, **kwargs)
        with unittest.mock.patch(target, side_effect=maybe_fail):
            save_new(d)
    return run


class FailingTokenizer:
    def save_pretrained(self, folder):
        with open(os.path.join(folder, "spiece.model"), "wb") as f:
            f.write(b"half a tokenizer")
        raise OSError("injected: tokenizer write failed")


def nan_weights(d):
    model = tiny_model(seed=2)
    model.params["classifier.bias"][0] = np.nan
    train.save_checkpoint(model, d / "ckpt")


def stale_bad_journal(d):
    old_checkpoint(d)
    (d / "ckpt" / io_utils.JOURNAL_NAME).write_text(json.dumps({"staging": "../other", "files": ["x"]}))


def folder_named_like_a_checkpoint_file(name):
    def setup(d):
        old_checkpoint(d)
        os.remove(d / "ckpt" / name)
        (d / "ckpt" / name).mkdir()
        (d / "ckpt" / name / "inside.txt").write_text("user data")
    return setup


FAULTS = [
    Case("fault_writing_weights", run=with_fault("albert_np.checkpoint.write_safetensors"), raises=OSError,
         match=r"injected: disk full", setup=old_checkpoint),
    Case("fault_writing_config", run=with_fault("albert_np.config.atomic_write_text"), raises=OSError,
         match=r"injected: disk full", setup=old_checkpoint),
    Case("fault_serialising_config", run=with_fault("albert_np.config.AlbertConfig.to_json_string", autospec=True),
         raises=OSError, match=r"injected", setup=old_checkpoint),
    Case("fault_writing_trainer_state", run=with_fault("albert_np.train.atomic_write_text"), raises=OSError,
         match=r"injected", setup=old_checkpoint),
    Case("fault_in_tokenizer_save", run=lambda d: save_new(d, tokenizer=FailingTokenizer()), raises=OSError,
         match=r"tokenizer write failed", setup=old_checkpoint),
    Case("fault_creating_staging", run=with_fault("albert_np.io_utils.tempfile.mkdtemp"), raises=OSError,
         match=r"injected", setup=old_checkpoint),
    Case("fault_writing_the_journal", run=with_fault("albert_np.io_utils.atomic_write_text"), raises=OSError,
         match=r"injected", setup=old_checkpoint),
    Case("fault_at_first_fsync", run=fault_on_call("os.fsync", 0), raises=OSError, match=r"injected", setup=old_checkpoint),
    Case("fault_at_second_fsync", run=fault_on_call("os.fsync", 1), raises=OSError, match=r"injected", setup=old_checkpoint),
    Case("fault_at_first_rename", run=fault_on_call("os.replace", 0), raises=OSError, match=r"injected", setup=old_checkpoint),
    Case("fault_at_second_rename", run=fault_on_call("os.replace", 1), raises=OSError, match=r"injected", setup=old_checkpoint),
    Case("fault_at_first_chmod", run=fault_on_call("os.chmod", 0), raises=OSError, match=r"injected", setup=old_checkpoint),
    Case("interrupt_while_writing_weights", run=with_fault("albert_np.checkpoint.write_safetensors", KeyboardInterrupt()),
         raises=KeyboardInterrupt, match=r"^$", setup=old_checkpoint),
    Case("memory_error_while_writing", run=with_fault("albert_np.checkpoint.write_safetensors", MemoryError("injected")),
         raises=MemoryError, match=r"injected", setup=old_checkpoint),
    Case("state_not_json", run=lambda d: train.save_checkpoint(tiny_model(), d / "ckpt", state={"when": object()}),
         raises=TypeError, match=r"not JSON serializable", setup=old_checkpoint),
    Case("weights_hold_nan", run=nan_weights, raises=ValueError,
         match=r"weight 'classifier.bias' holds NaN or inf; albert_np does not save .*nothing was written", setup=old_checkpoint),
]

TARGETS = [
    Case("target_is_a_file", run=lambda d: save_new(d), raises=NotADirectoryError,
         match=r"cannot save into .*ckpt: it is a file, not a folder.*left alone",
         setup=lambda d: (d / "ckpt").write_text("a file")),
    Case("target_below_a_file", run=lambda d: train.save_checkpoint(tiny_model(), d / "file" / "ckpt"),
         raises=NotADirectoryError, match=r"file is a file, not a folder", setup=lambda d: (d / "file").write_text("x")),
    Case("config_save_into_a_file", run=lambda d: tiny_model().config.save_pretrained(d / "ckpt"),
         raises=NotADirectoryError, match=r"it is a file, not a folder", setup=lambda d: (d / "ckpt").write_text("x")),
    Case("weights_file_onto_a_folder", run=lambda d: write_safetensors(d / "w", {"a": np.zeros(2)}),
         raises=IsADirectoryError, match=r"a folder of that name is there", setup=lambda d: (d / "w").mkdir()),
    Case("weights_of_object_dtype", run=lambda d: write_safetensors(d / "w.safetensors", {"a": np.array([None])}),
         raises=TypeError, match=r"cannot store 'a' of dtype object"),
    Case("folder_named_config_json", run=lambda d: save_new(d), raises=IsADirectoryError,
         match=r"cannot save 'config.json' into .*a folder of that name is there",
         setup=folder_named_like_a_checkpoint_file("config.json")),
    Case("folder_named_model_safetensors", run=lambda d: save_new(d), raises=IsADirectoryError,
         match=r"cannot save 'model.safetensors'", setup=folder_named_like_a_checkpoint_file("model.safetensors")),
    Case("journal_from_elsewhere", run=lambda d: save_new(d), raises=ValueError,
         match=r"names files outside .*not written by albert_np: delete it", setup=stale_bad_journal),
    Case("train_into_a_file", run=lambda d: train.train(tiny_model(), iter([]), steps=1, checkpoint_dir=d / "ckpt",
                                                        progress=False),
         raises=NotADirectoryError, match=r"it is a file, not a folder|is a file", setup=lambda d: (d / "ckpt").write_text("x")),
    Case("train_into_a_read_only_folder",
         run=lambda d: _denied(lambda: train.train(tiny_model(), iter([]), steps=1, checkpoint_dir=d / "ckpt", progress=False)),
         raises=PermissionError, match=r"checkpoint_dir .*ckpt is not writable.*pass a folder you can write to",
         setup=old_checkpoint),
]


def _denied(call):
    with unittest.mock.patch("albert_np.io_utils.os.access", return_value=False):
        return call()


CASES = FAULTS + TARGETS
