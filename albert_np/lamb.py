"""LAMB, the optimizer ALBERT was pretrained with, as google-research/albert's `lamb_optimizer.py` defines it.

For each weight w with gradient g (google's LAMBOptimizer.apply_gradients):

    m <- beta1 m + (1 - beta1) g                  v <- beta2 v + (1 - beta2) g^2
    update = m / (sqrt(v) + eps)                   (no bias correction)
    update += weight_decay * w                     (not for names matching `exclude_from_weight_decay`)
    ratio = ||w|| / ||update||, or 1 when either norm is 0     (not for `exclude_from_layer_adaptation`: 1)
    w <- w - lr * ratio * update

"Layer-wise" means per weight array: each array gets its own trust ratio. How this differs from the paper
(You et al., "Large Batch Optimization for Deep Learning: Training BERT in 76 minutes", Algorithm 2):
  1. no bias correction of m and v (the paper divides by 1 - beta^t);
  2. the trust ratio is the plain ||w|| / ||update||: the paper scales ||w|| by a function phi (e.g. clipped
     to [gamma_l, gamma_u]), google uses phi(x) = x;
  3. names excluded from weight decay (LayerNorm, bias) are also excluded from layer adaptation unless
     `exclude_from_layer_adaptation` is given (the paper adapts every layer).
The learning rate follows optimization.py's create_optimizer: `polynomial_warmup_schedule`.
"""

from __future__ import annotations

import math
import re

# optimization.py's create_optimizer(..., optimizer="lamb") passes these.
ALBERT_EXCLUDE_FROM_WEIGHT_DECAY = ("LayerNorm", "layer_norm", "bias")


def _check(name, value, ok, want):
    if not ok:
        raise ValueError(f"LAMB {name}={value!r} is invalid: {want}")


class LAMB:
    """google-research/albert's LAMBOptimizer over the dict of live weight arrays (updated in place).

    exclude_from_weight_decay / exclude_from_layer_adaptation: regular expressions searched in each weight's
    name, as google's `_do_use_weight_decay` / `_do_layer_adaptation`; exclude_from_layer_adaptation=None
    means "the same as exclude_from_weight_decay".
    """

    def __init__(self, params: dict, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-6,
                 weight_decay: float = 0.01,
                 exclude_from_weight_decay: tuple[str, ...] | list[str] = ALBERT_EXCLUDE_FROM_WEIGHT_DECAY,
                 exclude_from_layer_adaptation: tuple[str, ...] | list[str] | None = None):
        _check("lr", lr, isinstance(lr, (int, float)) and math.isfinite(lr) and lr >= 0,
               "pass a learning rate >= 0 (ALBERT used 0.00176 with batch 4096)")
        _check("betas", betas, isinstance(betas, (tuple, list)) and len(betas) == 2
               and all(isinstance(b, (int, float)) and 0 <= b < 1 for b in betas),
               "pass two numbers in [0, 1), e.g. (0.9, 0.999)")
        _check("eps", eps, isinstance(eps, (int, float)) and math.isfinite(eps) and eps > 0,
               "pass a small positive number, e.g. 1e-6 (google's value)")
        _check("weight_decay", weight_decay,
               isinstance(weight_decay, (int, float)) and math.isfinite(weight_decay) and weight_decay >= 0,
               "pass 0 or more (google's create_optimizer uses 0.01)")
        if not isinstance(params, dict) or not params:
            raise ValueError(f"LAMB params must be a non-empty dict of weight arrays, got {type(params).__name__}; "
                             "pass model.parameters()")
        self.params = params
        self.lr, self.betas, self.eps, self.weight_decay = float(lr), tuple(float(b) for b in betas), float(eps), float(weight_decay)
        self.exclude_from_weight_decay = tuple(exclude_from_weight_decay or ())
        self.exclude_from_layer_adaptation = (self.exclude_from_weight_decay if exclude_from_layer_adaptation is None
                                              else tuple(exclude_from_layer_adaptation))
        self.t = 0
        self.m: dict = {}
        self.v: dict = {}

    def use_weight_decay(self, name: str) -> bool:
        return bool(self.weight_decay) and not any(re.search(r, name) for r in self.exclude_from_weight_decay)

    def use_layer_adaptation(self, name: str) -> bool:
        return not any(re.search(r, name) for r in self.exclude_from_layer_adaptation)

    def step(self, grads: dict) -> dict:
        """One update from `grads` ({name: gradient}); returns {name: trust ratio} of the weights it updated."""
        unknown = [k for k in grads if k not in self.params and k != "inputs_embeds"]
        if unknown:
            raise KeyError(f"gradients for unknown weights {unknown[:3]}; pass the dict model.backward() returned")
        self.t += 1
        b1, b2 = self.betas
        ratios = {}
        for name, w in self.params.items():
            g = grads.get(name)
            if g is None:
                continue
            xp = w.__array_namespace__()
            if name not in self.m:
                self.m[name] = xp.zeros_like(w)
                self.v[name] = xp.zeros_like(w)
            m, v = self.m[name], self.v[name]
            m *= b1
            m += (1.0 - b1) * g
            v *= b2
            v += (1.0 - b2) * (g * g)
            update = m / (xp.sqrt(v) + self.eps)
            if self.use_weight_decay(name):
                update += self.weight_decay * w
            ratio = 1.0
            if self.use_layer_adaptation(name):
                w_norm = float(xp.sqrt(xp.sum(w * w)))
                u_norm = float(xp.sqrt(xp.sum(update * update)))
                if w_norm > 0 and u_norm > 0:
                    ratio = w_norm / u_norm
            w -= (self.lr * ratio) * update
            ratios[name] = ratio
        return ratios

    def state_dict(self) -> dict:
        """Step count, learning rate and the moments: what resuming a run needs."""
        return {"t": self.t, "lr": self.lr, "m": dict(self.m), "v": dict(self.v)}

    def load_state_dict(self, state: dict) -> None:
        """Resume from state_dict(); the moments must belong to this optimizer's weights."""
        missing = [k for k in ("t", "lr", "m", "v") if k not in state]
        if missing:
            raise KeyError(f"LAMB state has no {missing}; pass what LAMB.state_dict() returned")
        unknown = [k for k in list(state["m"]) + list(state["v"]) if k not in self.params]
        if unknown:
            raise KeyError(f"optimizer state for unknown weights {unknown[:3]}; was it saved for another model?")
        for moments in (state["m"], state["v"]):
            for name, a in moments.items():
                if tuple(a.shape) != tuple(self.params[name].shape):
                    raise ValueError(f"optimizer state for {name!r} has shape {tuple(a.shape)}, the weight has "
                                     f"{tuple(self.params[name].shape)}; was it saved for another model size?")
        self.t, self.lr = int(state["t"]), float(state["lr"])
        self.m, self.v = dict(state["m"]), dict(state["v"])


def polynomial_warmup_schedule(global_step: int, warmup_steps: int, total_steps: int, power: float = 1.0) -> float:
    """The learning-rate factor of google's optimization.py create_optimizer, at `global_step` (0 for the first update).

    polynomial decay from 1 to 0 over total_steps (tf.train.polynomial_decay, end 0, no cycle), and during the
    first warmup_steps the linear ramp global_step / warmup_steps instead. The decay counts from step 0, not from
    the end of warmup, so the factor drops from 1 to (1 - warmup/total)^power when warmup ends, as in google's.
    """
    if total_steps < 1 or warmup_steps < 0 or power <= 0:
        raise ValueError(f"schedule needs total_steps >= 1, warmup_steps >= 0 and power > 0; got total_steps="
                         f"{total_steps}, warmup_steps={warmup_steps}, power={power}")
    if global_step < warmup_steps:
        return global_step / warmup_steps
    return (1.0 - min(global_step, total_steps) / total_steps) ** power
