"""LAMB step by step against two independent definitions, and google's warmup + polynomial decay schedule.

1. A NumPy reference written here from the paper's Algorithm 2 (You et al. 2019), with google's three named
   changes switched on: no bias correction, phi(x) = x in the trust ratio, LayerNorm/bias excluded from both
   weight decay and layer adaptation.
2. torch-optimizer's Lamb (when installed) with debias=False and its weight-norm clamp lifted: the same
   update except that it adapts every layer, so ours runs with exclude_from_layer_adaptation=() there.
"""

import numpy as np
import pytest

from albert_np.lamb import LAMB, polynomial_warmup_schedule

SHAPES = {"encoder.dense.weight": (6, 5), "encoder.dense.bias": (6,), "encoder.LayerNorm.weight": (5,),
          "head.weight": (3, 6), "zero.weight": (2, 2)}


def make_problem(seed=0):
    rng = np.random.default_rng(seed)
    params = {k: rng.normal(0, 0.5, s) for k, s in SHAPES.items()}
    params["zero.weight"][:] = 0.0                  # ||w|| = 0: the trust ratio must fall back to 1
    grads = [{k: rng.normal(0, 1.0, s) for k, s in SHAPES.items()} for _ in range(12)]
    return params, grads


def paper_lamb(params, grads, lr, b1, b2, eps, wd, bias_correction, phi, excluded):
    """Algorithm 2 of the LAMB paper, one weight array at a time; returns the weights after all steps."""
    w = {k: v.copy() for k, v in params.items()}
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v = {k: np.zeros_like(x) for k, x in params.items()}
    for t, g in enumerate(grads, start=1):
        for k in w:
            m[k] = b1 * m[k] + (1 - b1) * g[k]
            v[k] = b2 * v[k] + (1 - b2) * g[k] ** 2
            m_hat = m[k] / (1 - b1 ** t) if bias_correction else m[k]
            v_hat = v[k] / (1 - b2 ** t) if bias_correction else v[k]
            r = m_hat / (np.sqrt(v_hat) + eps)
            if excluded(k):
                w[k] = w[k] - lr * r
                continue
            r = r + wd * w[k]
            wn, rn = phi(np.linalg.norm(w[k])), np.linalg.norm(r)
            ratio = wn / rn if wn > 0 and rn > 0 else 1.0
            w[k] = w[k] - lr * ratio * r
    return w


def run_ours(params, grads, **kwargs):
    w = {k: v.copy() for k, v in params.items()}
    opt = LAMB(w, **kwargs)
    for g in grads:
        opt.step(g)
    return w


def test_lamb_matches_the_paper_with_googles_changes_over_12_float64_steps():
    params, grads = make_problem()
    ours = run_ours(params, grads, lr=0.01, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.01)
    ref = paper_lamb(params, grads, 0.01, 0.9, 0.999, 1e-6, 0.01, bias_correction=False, phi=lambda x: x,
                     excluded=lambda k: "LayerNorm" in k or "bias" in k)
    for k in SHAPES:
        np.testing.assert_allclose(ours[k], ref[k], rtol=1e-9, atol=1e-12, err_msg=k)
        assert not np.allclose(ours[k], params[k]), f"{k} did not move"


def test_bias_correction_would_change_the_result():
    """The check above can fail: the paper's bias-corrected update is measurably different from google's."""
    params, grads = make_problem()
    ours = run_ours(params, grads, lr=0.01, weight_decay=0.01)
    paper = paper_lamb(params, grads, 0.01, 0.9, 0.999, 1e-6, 0.01, bias_correction=True, phi=lambda x: x,
                       excluded=lambda k: "LayerNorm" in k or "bias" in k)
    assert np.abs(ours["encoder.LayerNorm.weight"] - paper["encoder.LayerNorm.weight"]).max() > 1e-4


def test_trust_ratio_is_weight_norm_over_update_norm_and_one_for_zero_weights():
    params, grads = make_problem()
    w = {k: v.copy() for k, v in params.items()}
    opt = LAMB(w, lr=0.1, weight_decay=0.0)
    ratios = opt.step(grads[0])
    # first step without bias correction: m = 0.1 g, v = 0.001 g^2, update = 0.1 g / (sqrt(0.001)|g| + eps)
    g = grads[0]["head.weight"]
    update = 0.1 * g / (np.sqrt(0.001) * np.abs(g) + 1e-6)
    assert ratios["head.weight"] == pytest.approx(np.linalg.norm(params["head.weight"]) / np.linalg.norm(update), rel=1e-12)
    assert ratios["zero.weight"] == 1.0
    assert ratios["encoder.dense.bias"] == 1.0 and ratios["encoder.LayerNorm.weight"] == 1.0   # excluded
    # a step moves each adapted weight by lr * ||w|| exactly
    assert np.linalg.norm(w["head.weight"] - params["head.weight"]) == pytest.approx(
        0.1 * np.linalg.norm(params["head.weight"]), rel=1e-12)


def test_matches_torch_optimizer_lamb_over_12_float64_steps():
    torch = pytest.importorskip("torch")
    torch_optimizer = pytest.importorskip("torch_optimizer")
    params, grads = make_problem(1)
    params["zero.weight"][:] = np.random.default_rng(5).normal(size=(2, 2))
    ours = run_ours(params, grads, lr=0.01, eps=1e-6, weight_decay=0.01, exclude_from_layer_adaptation=())
    tw = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    decayed = [tw[k] for k in SHAPES if "LayerNorm" not in k and "bias" not in k]
    plain = [tw[k] for k in SHAPES if "LayerNorm" in k or "bias" in k]
    opt = torch_optimizer.Lamb([{"params": decayed, "weight_decay": 0.01}, {"params": plain, "weight_decay": 0.0}],
                               lr=0.01, betas=(0.9, 0.999), eps=1e-6, clamp_value=1e30, debias=False)
    for g in grads:
        for k, p in tw.items():
            p.grad = torch.tensor(g[k], dtype=torch.float64)
        opt.step()
    for k in SHAPES:
        np.testing.assert_allclose(ours[k], tw[k].detach().numpy(), rtol=1e-9, atol=1e-12, err_msg=k)


def test_state_dict_round_trip_continues_the_same_trajectory():
    params, grads = make_problem()
    straight = run_ours(params, grads, lr=0.01)
    w = {k: v.copy() for k, v in params.items()}
    first = LAMB(w, lr=0.01)
    for g in grads[:5]:
        first.step(g)
    state = first.state_dict()
    second = LAMB(w, lr=0.01)
    second.load_state_dict({"t": state["t"], "lr": state["lr"], "m": {k: a.copy() for k, a in state["m"].items()},
                            "v": {k: a.copy() for k, a in state["v"].items()}})
    for g in grads[5:]:
        second.step(g)
    for k in SHAPES:
        np.testing.assert_array_equal(w[k], straight[k])
    assert second.t == 12


def test_load_state_dict_refuses_moments_of_another_shape():
    params, grads = make_problem()
    opt = LAMB({k: v.copy() for k, v in params.items()})
    opt.step(grads[0])
    state = opt.state_dict()
    state["m"]["head.weight"] = np.zeros((4, 4))
    with pytest.raises(ValueError, match=r"head\.weight.*\(4, 4\).*\(3, 6\)"):
        LAMB({k: v.copy() for k, v in params.items()}).load_state_dict(state)


def test_schedule_is_linear_warmup_then_polynomial_decay_from_step_zero():
    assert [polynomial_warmup_schedule(s, 10, 100) for s in (0, 5, 9)] == [0.0, 0.5, 0.9]
    assert polynomial_warmup_schedule(10, 10, 100) == pytest.approx(0.9)      # decay counts from 0, as google's
    assert polynomial_warmup_schedule(55, 10, 100) == pytest.approx(0.45)
    assert polynomial_warmup_schedule(100, 10, 100) == 0.0
    assert polynomial_warmup_schedule(150, 10, 100) == 0.0
    assert polynomial_warmup_schedule(50, 0, 100, power=2.0) == pytest.approx(0.25)
    assert polynomial_warmup_schedule(0, 0, 100) == 1.0
