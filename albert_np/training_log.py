"""The logs of a training run: TrainHistory in memory, metrics.jsonl as it goes, trainer_state.json at each
checkpoint in the shape of transformers' TrainerState (its `log_history` records are metrics.jsonl's lines).

A step logs {"loss", "grad_norm" (before clipping), "learning_rate", "epoch" (when the data has passes), "step"};
an evaluation {"eval_<metric>"..., "eval_runtime", "epoch", "step"}; the last step also transformers' closing
record {"train_runtime", "train_loss", "train_steps_per_second", "train_samples_per_second", "total_flos", ...}.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

TRAINER_STATE_NAME = "trainer_state.json"
METRICS_NAME = "metrics.jsonl"


@dataclass
class TrainHistory:
    """What a run did: per-step loss, gradient norm (before clipping) and learning rate, every evaluation, and the
    same as transformers' `TrainerState.log_history` records (what metrics.jsonl holds, one per line)."""

    losses: list = field(default_factory=list)
    grad_norms: list = field(default_factory=list)
    lrs: list = field(default_factory=list)
    evals: list = field(default_factory=list)      # (step, {metric: value})
    seconds: float = 0.0
    log_history: list = field(default_factory=list)   # [{loss, grad_norm, learning_rate, (epoch), step}, {eval_*...}]

    @property
    def steps(self) -> int:
        return len(self.losses)

    def to_dict(self) -> dict:
        """The per-step lists that trainer_state.json held before it took transformers' shape (the bundled
        tiny-albert's file is in this schema; albert_np.plotting reads both)."""
        return {"steps": self.steps, "seconds": round(self.seconds, 1), "losses": _short(self.losses),
                "grad_norms": _short(self.grad_norms), "lrs": _short(self.lrs),
                "evals": [{"step": step, **metrics} for step, metrics in self.evals]}


def _short(values):
    """5 significant digits are plenty for a log."""
    return [float(f"{v:.5g}") for v in values]


def trainer_state(history: TrainHistory, *, max_steps: int, eval_steps: int = 0, save_steps: int = 0,
                  train_batch_size: int | None = None, epoch: float | None = None,
                  num_train_epochs: int = 0) -> dict:
    """trainer_state.json with exactly the keys of transformers' TrainerState (TrainerState.load_from_json reads
    it): log_history, global_step, max_steps, epoch, ...; albert_np logs every step (logging_steps 1)."""
    return {"best_global_step": None, "best_metric": None, "best_model_checkpoint": None, "epoch": epoch,
            "eval_steps": eval_steps, "global_step": history.steps, "is_hyper_param_search": False,
            "is_local_process_zero": True, "is_world_process_zero": True, "log_history": list(history.log_history),
            "logging_steps": 1, "max_steps": max_steps, "num_input_tokens_seen": 0,
            "num_train_epochs": num_train_epochs, "save_steps": save_steps, "stateful_callbacks": {},
            "total_flos": 0, "train_batch_size": train_batch_size, "trial_name": None, "trial_params": None}


class MetricsLog:
    """metrics.jsonl: one JSON object per line, written and flushed as training goes (a crash keeps every line
    logged before it). train() starts a new run, never a resumed one, so its first line starts a new file; a
    log already there from an earlier run is kept, renamed to metrics.jsonl.1 (or .2, ... the first free name),
    since saving never deletes what was there."""

    def __init__(self, path):
        self.path, self.started = os.fspath(path), False

    def write(self, record: dict):
        if not self.started:
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            if os.path.exists(self.path):
                n = 1
                while os.path.exists(f"{self.path}.{n}"):
                    n += 1
                os.replace(self.path, f"{self.path}.{n}")
        with open(self.path, "a" if self.started else "x", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
            f.flush()
        self.started = True
