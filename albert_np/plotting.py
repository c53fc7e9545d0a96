"""Training curves of a run folder as a PNG: `plot_run(run_dir, png)` (needs matplotlib: the `plot` extra).

Reads, in this order of preference:
* `metrics.jsonl`: one JSON object per log line (`step`, `loss`, `learning_rate`, `grad_norm`, `eval_*`);
* `trainer_state.json` with transformers' `log_history` (a list of such objects);
* `trainer_state.json` as albert_np's training loop writes it today (`losses`, `grad_norms`, `lrs` per step and
  `evals` as [{step, metric: value}]).
"""

from __future__ import annotations

import io
import json
import os

from .io_utils import atomic_write_bytes

METRICS_NAME = "metrics.jsonl"
TRAINER_STATE_NAME = "trainer_state.json"
TIMINGS = ("_runtime", "_per_second")   # transformers' eval_runtime, eval_samples_per_second...: not curves
PANELS = (("loss", "loss"), ("learning_rate", "learning rate"), ("grad_norm", "gradient norm (before clipping)"))


def read_log(run_dir) -> list[dict]:
    """The run's log as a list of {step, name: value} records, oldest first."""
    run_dir = os.fspath(run_dir)
    if not os.path.isdir(run_dir):
        raise FileNotFoundError(f"no run folder at {run_dir!r}: pass the folder training wrote (its --out)")
    metrics = os.path.join(run_dir, METRICS_NAME)
    if os.path.isfile(metrics):
        records = []
        with open(metrics, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if line.strip():
                    try:
                        records.append(json.loads(line))
                    except json.JSONDecodeError as e:
                        raise ValueError(f"{metrics} line {number} is not JSON ({e.msg})") from None
        return records
    state_file = os.path.join(run_dir, TRAINER_STATE_NAME)
    if not os.path.isfile(state_file):
        raise FileNotFoundError(f"{run_dir!r} has neither {METRICS_NAME} nor {TRAINER_STATE_NAME}: train with "
                                "--out RUN_DIR so that the run writes its log there")
    with open(state_file, encoding="utf-8") as f:
        state = json.load(f)
    if "log_history" in state:
        return list(state["log_history"])
    records = [{"step": i + 1, "loss": loss} for i, loss in enumerate(state.get("losses", []))]
    for name, key in (("grad_norms", "grad_norm"), ("lrs", "learning_rate")):
        for record, value in zip(records, state.get(name, [])):
            record[key] = value
    for evaluation in state.get("evals", []):
        records.append({k if k == "step" or k.startswith("eval_") else f"eval_{k}": v for k, v in evaluation.items()})
    return records


def plot_run(run_dir, png=None) -> str:
    """Draw loss, learning rate, gradient norm and evaluation metrics against the step; returns the PNG's path
    (default: RUN_DIR/training_curves.png), written atomically."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("plotting needs matplotlib: pip install 'albert_np[plot]'") from None
    records = read_log(run_dir)
    png = os.fspath(png) if png is not None else os.path.join(os.fspath(run_dir), "training_curves.png")
    evals = sorted({k for r in records for k in r if k.startswith("eval_") and isinstance(r[k], (int, float))
                    and not k.endswith(TIMINGS)})
    panels = [(key, title) for key, title in PANELS if any(key in r for r in records)] + [(k, k) for k in evals]
    if not panels:
        raise ValueError(f"the log of {run_dir!r} holds no loss, learning rate, gradient norm or eval_ metric to plot")
    fig, axes = plt.subplots(len(panels), 1, figsize=(7, 2.2 * len(panels)), sharex=True, squeeze=False)
    for ax, (key, title) in zip(axes[:, 0], panels):
        points = [(r["step"], r[key]) for r in records if key in r and "step" in r]
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o" if len(points) < 30 else None)
        ax.set_ylabel(title, fontsize=8)
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("step")
    fig.suptitle(os.path.basename(os.path.abspath(os.fspath(run_dir))))
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(png, buffer.getvalue())
    return png
