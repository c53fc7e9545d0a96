"""Plot a pretraining run's metrics.jsonl: training loss and held-out MLM / SOP accuracy against chance.

    python tools/plot_pretraining.py runs/stdlib-albert --out docs/pretraining_curves.png

Needs matplotlib (the `plot` extra). The MLM chance level is 1 / (vocabulary size), read from the run's config.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="the --out folder of python -m albert_np.pretrain_corpus")
    parser.add_argument("--out", required=True, help="PNG to write")
    parser.add_argument("--title", default=None)
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(os.path.join(args.run, "metrics.jsonl"), encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    with open(os.path.join(args.run, "config.json"), encoding="utf-8") as f:
        vocab = json.load(f)["vocab_size"]
    steps = [r["step"] for r in rows]

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    ax_loss.plot(steps, [r["loss"] for r in rows], label="training loss (MLM + SOP, mean since last log)")
    ax_loss.plot(steps, [r["eval_loss"] for r in rows], label="held-out loss")
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("cross-entropy")
    ax_loss.legend()
    ax_acc.plot(steps, [r["mlm_accuracy"] for r in rows], label="held-out MLM accuracy", color="C2")
    ax_acc.plot(steps, [r["sop_accuracy"] for r in rows], label="held-out SOP accuracy", color="C3")
    ax_acc.axhline(0.5, color="C3", linestyle=":", label="SOP chance 0.5")
    ax_acc.axhline(1 / vocab, color="C2", linestyle=":", label=f"MLM chance 1/{vocab}")
    ax_acc.set_xlabel("step")
    ax_acc.set_ylabel("accuracy")
    ax_acc.set_ylim(0, 1)
    ax_acc.legend(loc="upper left")
    fig.suptitle(args.title or f"ALBERT pretraining, {os.path.basename(os.path.normpath(args.run))}")
    fig.tight_layout()
    fig.savefig(args.out, dpi=100)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
