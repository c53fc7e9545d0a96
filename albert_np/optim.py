"""AdamW with torch.optim.AdamW's exact update, a linear warmup/decay schedule, and global-norm gradient clipping.

The optimizer updates the model's own arrays in place, so `model.params` is always the current model.
Arrays bring their namespace with them (`x.__array_namespace__()`, or their module for CuPy 14, whose arrays
lack that method), so this works on every backend.
"""

from __future__ import annotations

import math
import sys


def array_namespace(x):
    """The array's namespace: `x.__array_namespace__()`, else the top-level module of its type (cupy.ndarray -> cupy)."""
    get = getattr(x, "__array_namespace__", None)
    return get() if get is not None else sys.modules[type(x).__module__.split(".")[0]]


class TrainingDiverged(FloatingPointError):
    """A loss, gradient norm or update stopped being a finite number; the weights were not updated with it.

    The message says at which step, what was not finite, and what to try.
    """


def _check_real(name, value, allowed, ok):
    """A ValueError naming the AdamW argument, in the spirit of torch's "Invalid learning rate: nan"."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not ok(value):
        raise ValueError(f"Invalid AdamW {name}: {value!r}; it must be a finite number {allowed}")


class AdamW:
    """Adam with decoupled weight decay (Loshchilov & Hutter), step for step as torch.optim.AdamW.

    For each weight p with gradient g, at step t:
        p <- p * (1 - lr * weight_decay)                       (decay first, independent of the gradient)
        m <- m + (1 - beta1) (g - m);  v <- beta2 v + (1 - beta2) g^2
        p <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
    `no_decay` lists name fragments (e.g. ("bias", "LayerNorm")) exempt from weight decay; torch's default,
    and ours, decays every weight.
    """

    def __init__(self, params: dict, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.01, no_decay: tuple[str, ...] = ()):
        self.lr = lr   # checked by the property below
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"AdamW betas must be a pair (beta1, beta2) such as (0.9, 0.999), got {betas!r}")
        for i, beta in enumerate(betas):
            _check_real(f"betas[{i}]", beta, "in [0, 1) (e.g. 0.9 and 0.999)", lambda b: 0.0 <= b < 1.0)
        _check_real("eps", eps, ">= 0 (e.g. 1e-8)", lambda e: e >= 0.0)
        _check_real("weight_decay", weight_decay, ">= 0 (e.g. 0.01)", lambda w: w >= 0.0)
        self.params = params
        self.betas = tuple(betas)
        self.eps = eps
        self.weight_decay = weight_decay
        self.no_decay = tuple(no_decay)
        self.t = 0
        self.m = {}
        self.v = {}

    @property
    def lr(self) -> float:
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        _check_real("lr", value, ">= 0 (e.g. 1e-3)", lambda v: v >= 0.0)
        self._lr = value

    def step(self, grads: dict) -> None:
        """Apply one update from `grads` ({name: gradient}); names without a gradient are left alone.

        All updates are computed before any is applied: if one weight (or moment) would become NaN or inf, nothing
        changes (weights, moments, step count) and TrainingDiverged names the weight. This costs one extra copy of
        the weights and moments for the duration of the call.
        """
        unknown = [k for k in grads if k not in self.params and k != "inputs_embeds"]
        if unknown:
            raise KeyError(f"gradients for unknown weights {unknown[:3]}; pass the dict model.backward() returned")
        t = self.t + 1
        b1, b2 = self.betas
        bias1 = 1.0 - b1 ** t
        bias2_sqrt = math.sqrt(1.0 - b2 ** t)
        step_size = self.lr / bias1
        updates = {}
        for name, p in self.params.items():
            g = grads.get(name)
            if g is None:
                continue
            xp = array_namespace(p)
            m = self.m[name] if name in self.m else xp.zeros_like(p)
            v = self.v[name] if name in self.v else xp.zeros_like(p)
            new_p = p * (1.0 - self.lr * self.weight_decay) if self.weight_decay and not any(
                f in name for f in self.no_decay) else p
            new_m = m + (1.0 - b1) * (g - m)
            new_v = v * b2 + (1.0 - b2) * (g * g)
            denom = xp.sqrt(new_v) / bias2_sqrt + self.eps
            new_p = new_p - step_size * (new_m / denom)
            for what, arr in (("weight", new_p), ("first moment", new_m), ("second moment", new_v)):
                if not bool(xp.all(xp.isfinite(arr))):
                    raise TrainingDiverged(
                        f"AdamW step {t} would make the {what} of {name!r} NaN or inf (lr={self.lr:.3g}); the weights "
                        "were NOT updated (weights, moments and step count are as before this step). Lower the "
                        "learning rate, clip the gradients (clip_grad_norm), or check the inputs and labels"
                    )
            updates[name] = (new_p, new_m, new_v)
        for name, (new_p, new_m, new_v) in updates.items():
            self.params[name][...] = new_p   # in place: the model and tied weights share these arrays
            self.m[name], self.v[name] = new_m, new_v
        self.t = t

    def state_dict(self) -> dict:
        """Step count, learning rate and the moment estimates: what resuming a run needs."""
        return {"t": self.t, "lr": self.lr, "m": dict(self.m), "v": dict(self.v)}

    def load_state_dict(self, state: dict) -> None:
        """Resume from state_dict(); the moments must belong to this optimizer's weights."""
        unknown = [k for k in list(state["m"]) + list(state["v"]) if k not in self.params]
        if unknown:
            raise KeyError(f"optimizer state for unknown weights {unknown[:3]}; was it saved for another model?")
        for name in state["m"]:
            if tuple(state["m"][name].shape) != tuple(self.params[name].shape):
                raise ValueError(f"optimizer state for {name!r} has shape {tuple(state['m'][name].shape)}, "
                                 f"the weight has {tuple(self.params[name].shape)}")
        self.t, self.lr = int(state["t"]), float(state["lr"])
        self.m, self.v = dict(state["m"]), dict(state["v"])


def linear_schedule(step: int, warmup_steps: int, total_steps: int) -> float:
    """The learning-rate factor of transformers' get_linear_schedule_with_warmup: 0 -> 1 over warmup, then -> 0."""
    if step < warmup_steps:
        return step / max(1, warmup_steps)
    return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))


def global_norm(grads: dict) -> float:
    """sqrt of the sum of every squared gradient entry (the norm clipping looks at)."""
    total = 0.0
    for name, g in grads.items():
        if name == "inputs_embeds":
            continue
        xp = array_namespace(g)
        total += float(xp.sum(g * g))
    return math.sqrt(total)


def clip_grad_norm(grads: dict, max_norm: float) -> float:
    """Scale all gradients in place so their global norm is at most max_norm (torch.nn.utils.clip_grad_norm_).

    Returns the norm before clipping, which is also what a training loop logs and checks for NaN/inf.
    """
    norm = global_norm(grads)
    coef = max_norm / (norm + 1e-6)
    if coef < 1.0:
        for name, g in grads.items():
            if name != "inputs_embeds":
                g *= coef
    return norm
