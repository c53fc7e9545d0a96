"""Finite-difference checks of every hand-written backward (float64, central differences).

For an op y = f(x) and a fixed random G, the backward's dx must equal the numerical derivative of
sum(f(x) * G): (L(x + h e_i) - L(x - h e_i)) / 2h, whose error is O(h^2) ~ 1e-10 here.
"""

import numpy as np
import pytest

import albert_np as an
from albert_np import losses, ops
from factory import make_batch, random_params, tiny_config

BK = an.get_backend("numpy", seed=0)
xp = BK.xp
H = 1e-6
RTOL = 1e-6


def numerical_grad(loss_fn, x):
    """d loss_fn / dx by central differences, perturbing x in place one entry at a time."""
    g = np.zeros_like(x)
    flat, gflat = x.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + H
        up = loss_fn()
        flat[i] = old - H
        down = loss_fn()
        flat[i] = old
        gflat[i] = (up - down) / (2 * H)
    return g


def assert_close(analytic, numeric):
    scale = max(np.abs(numeric).max(), 1e-8)
    assert np.abs(analytic - numeric).max() / scale < RTOL, (np.abs(analytic - numeric).max(), scale)


rng = np.random.default_rng(0)


def test_linear_backward_matches_finite_differences():
    x, w, b = rng.normal(size=(4, 5)), rng.normal(size=(3, 5)), rng.normal(size=3)
    G = rng.normal(size=(4, 3))
    y, cache = ops.linear_forward(BK, x, w, b)
    dx, dw, db = ops.linear_backward(BK, G, cache)
    for arr, grad in ((x, dx), (w, dw), (b, db)):
        assert_close(grad, numerical_grad(lambda: float(np.sum(ops.linear_forward(BK, x, w, b)[0] * G)), arr))


def test_layernorm_backward_has_all_three_terms():
    x, w, b = rng.normal(size=(4, 6)) * 3 + 1, rng.normal(size=6), rng.normal(size=6)
    G = rng.normal(size=(4, 6))
    _, cache = ops.layernorm_forward(BK, x, w, b, 1e-12)
    dx, dw, db = ops.layernorm_backward(BK, G, cache)
    loss = lambda: float(np.sum(ops.layernorm_forward(BK, x, w, b, 1e-12)[0] * G))
    for arr, grad in ((x, dx), (w, dw), (b, db)):
        assert_close(grad, numerical_grad(loss, arr))


def test_layernorm_with_residual_normalises_the_sum_and_sends_its_gradient_to_both_inputs():
    x, r, w, b = rng.normal(size=(4, 6)), rng.normal(size=(4, 6)) * 2, rng.normal(size=6), rng.normal(size=6)
    G = rng.normal(size=(4, 6))
    y, cache = ops.layernorm_forward(BK, x, w, b, 1e-12, residual=r)
    np.testing.assert_array_equal(y, ops.layernorm_forward(BK, x + r, w, b, 1e-12)[0])
    ds, dw, db = ops.layernorm_backward(BK, G, cache)
    loss = lambda: float(np.sum(ops.layernorm_forward(BK, x, w, b, 1e-12, residual=r)[0] * G))
    for arr, grad in ((x, ds), (r, ds), (w, dw), (b, db)):
        assert_close(grad, numerical_grad(loss, arr))


def test_embedding_backward_accumulates_repeats_and_skips_padding_row():
    table = rng.normal(size=(7, 3))
    ids = np.array([0, 2, 2, 5, 0, 6])
    G = rng.normal(size=(6, 3))
    _, cache = ops.embedding_forward(BK, ids, table, padding_idx=0)
    dtable = ops.embedding_backward(BK, G, cache)
    expected = np.zeros_like(table)
    for i, v in enumerate(ids):
        if v != 0:
            expected[v] += G[i]
    np.testing.assert_array_equal(dtable, expected)
    np.testing.assert_allclose(dtable[2], G[1] + G[2])


@pytest.mark.parametrize("act", sorted(ops.ACTIVATIONS))
def test_activation_backward_matches_finite_differences(act):
    fwd, bwd = ops.get_activation(act).forward, ops.get_activation(act).backward
    x = rng.normal(size=(5, 7)) * 2
    x[np.abs(x) < 1e-3] = 0.5  # keep relu's kink away from the finite-difference stencil
    G = rng.normal(size=x.shape)
    _, cache = fwd(BK, x)
    dx = bwd(BK, G, cache)
    assert_close(dx, numerical_grad(lambda: float(np.sum(fwd(BK, x)[0] * G)), x))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("act", sorted(ops.ACTIVATIONS))
def test_activation_backward_with_output_rebuilds_the_forward_bit_for_bit(act, dtype):
    # The FFN keeps only the activation's input; its backward rebuilds the output for the next weight gradient.
    a = ops.get_activation(act)
    x = (rng.normal(size=(64, 96)) * 3).astype(dtype)
    G = rng.normal(size=x.shape).astype(dtype)
    y, cache = a.forward(BK, x)
    BK.block_bytes, saved = 256, BK.block_bytes   # small blocks, so rowwise really splits the rows
    try:
        dx, y_again = a.backward_with_output(BK, G, cache)
    finally:
        BK.block_bytes = saved
    np.testing.assert_array_equal(y_again, y)
    np.testing.assert_array_equal(dx, a.backward(BK, G, cache))


def test_softmax_backward_matches_finite_differences():
    x, G = rng.normal(size=(3, 5)), rng.normal(size=(3, 5))
    _, cache = ops.softmax_forward(BK, x)
    dx = ops.softmax_backward(BK, G, cache)
    assert_close(dx, numerical_grad(lambda: float(np.sum(ops.softmax_forward(BK, x)[0] * G)), x))


@pytest.mark.parametrize("rebuild", [False, True], ids=["probs-kept", "probs-rebuilt"])
@pytest.mark.parametrize("training", [False, True], ids=["eval", "dropout"])
def test_attention_backward_matches_finite_differences(training, rebuild):
    B, S, heads, Hd = 2, 4, 2, 6
    x = rng.normal(size=(B * S, Hd))
    w, b = rng.normal(size=(3 * Hd, Hd)) * 0.5, rng.normal(size=3 * Hd)
    mask = np.zeros((B, 1, 1, S))
    mask[1, ..., -1] = np.finfo(np.float64).min
    G = rng.normal(size=(B * S, Hd))

    def run():
        BK.seed(7)  # the same dropout mask on every call
        return ops.attention_forward(BK, x, w, b, mask, B, S, heads, 0.3, training)

    ctx, cache = run()
    if rebuild:
        cache.probs = None   # as a model's tape leaves it: the backward rebuilds them from q, k and the mask
    dx, dw, db, _ = ops.attention_backward(BK, G, cache)
    loss = lambda: float(np.sum(run()[0] * G))
    for arr, grad in ((x, dx), (w, dw), (b, db)):
        assert_close(grad, numerical_grad(loss, arr))


@pytest.mark.parametrize("name", ["cross_entropy", "mse", "bce"])
def test_loss_backward_matches_finite_differences(name):
    logits = rng.normal(size=(6, 4))
    if name == "cross_entropy":
        target = np.array([0, 3, -100, 2, 1, -100])
        fwd, bwd = losses.cross_entropy_forward, losses.cross_entropy_backward
    elif name == "mse":
        target = rng.normal(size=(6, 4))
        fwd, bwd = losses.mse_forward, losses.mse_backward
    else:
        target = (rng.random((6, 4)) < 0.5).astype(float)
        fwd, bwd = losses.bce_with_logits_forward, losses.bce_with_logits_backward
    _, cache = fwd(BK, logits, target)
    d = bwd(BK, 1.0, cache)
    assert_close(d, numerical_grad(lambda: float(fwd(BK, logits, target)[0]), logits))


def test_cross_entropy_ignores_minus_100_and_averages_over_kept_rows():
    logits = np.log(np.array([[0.5, 0.5], [0.25, 0.75], [0.9, 0.1]]))
    loss, _ = losses.cross_entropy_forward(BK, logits, np.array([0, -100, 1]))
    np.testing.assert_allclose(float(loss), -(np.log(0.5) + np.log(0.1)) / 2, rtol=1e-14)


def test_cross_entropy_gives_ignored_rows_an_exactly_zero_gradient_and_counted_rows_softmax_minus_onehot():
    logits = rng.normal(size=(4, 5))
    _, cache = losses.cross_entropy_forward(BK, logits, np.array([1, -100, 3, -100]))
    d = losses.cross_entropy_backward(BK, 1.0, cache)
    assert d.shape == (4, 5) and np.all(d[[1, 3]] == 0.0)
    p = np.exp(logits[[0, 2]]) / np.exp(logits[[0, 2]]).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(d[[0, 2]], (p - np.eye(5)[[1, 3]]) / 2, rtol=1e-12)


@pytest.mark.filterwarnings("ignore:invalid value encountered")
def test_cross_entropy_with_every_row_ignored_is_nan_like_torch():
    loss, cache = losses.cross_entropy_forward(BK, np.zeros((2, 3)), np.array([-100, -100]))
    assert np.isnan(float(loss))
    np.testing.assert_array_equal(losses.cross_entropy_backward(BK, 1.0, cache), np.zeros((2, 3)))  # as torch's


@pytest.mark.parametrize("rows", [[5, 0, 3], []], ids=["three rows", "no row"])
def test_linear_backward_over_counted_rows_equals_the_backward_of_the_whole_zero_padded_gradient(rows):
    x, w = rng.normal(size=(7, 4)), rng.normal(size=(6, 4))
    rows = np.array(rows, dtype=np.int64)
    dy = ops.RowGradient(rows, rng.normal(size=(len(rows), 6)), (7, 6))
    _, cache = ops.linear_forward(BK, x, w, np.zeros(6))
    dense = np.zeros((7, 6))
    dense[rows] = dy.values
    np.testing.assert_array_equal(dy.dense(BK), dense)
    dx, dw, db = ops.linear_backward_rows(BK, dy, cache)
    for got, want in zip((dx, dw, db), ops.linear_backward(BK, dense, cache)):
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)
    others = np.setdiff1d(np.arange(7), rows)
    assert np.all(dx[others] == 0.0) and np.all(dx[rows] != 0.0)


@pytest.mark.parametrize("cls", [an.AlbertForMaskedLM, an.AlbertForPreTraining], ids=lambda c: c.__name__)
def test_mlm_loss_backward_over_counted_rows_equals_backward_of_the_dense_logit_gradient(cls):
    """The loss hands the decoder a RowGradient; given the same gradient as a [B, S, V] array, backward agrees."""
    cfg = tiny_config(vocab_size=20)
    model = random_params(cls(cfg, dtype="float64", seed=0))
    batch = make_batch(cls, cfg, batch=2, seq=5)
    batch["labels"][0, :3] = -100                 # some positions without a label
    out = model(**batch)
    assert model._tape.loss[0].backward is losses.cross_entropy_row_gradient   # the rows-only path is the one tested
    from_loss = model.backward()
    name = "logits" if cls is an.AlbertForMaskedLM else "prediction_logits"
    cache = model._tape.loss[0].cache
    dlogits = np.reshape(losses.cross_entropy_backward(BK, 1.0, cache), out[name].shape)
    assert np.count_nonzero(np.any(dlogits != 0, axis=-1)) == int(np.sum(batch["labels"] != -100))
    grad_outputs = {name: dlogits}
    if cls is an.AlbertForPreTraining:            # the SOP term's gradient, as its loss gives it
        grad_outputs["sop_logits"] = losses.cross_entropy_backward(BK, 1.0, model._tape.loss[1].cache)
    model(**batch)
    from_array = model.backward(grad_outputs)
    for k in model.params:
        np.testing.assert_allclose(from_loss[k], from_array[k], rtol=1e-12, atol=1e-14, err_msg=k)


HEADS = [c for c in an.ALL_MODEL_CLASSES if c is not an.AlbertModel]


@pytest.mark.parametrize("cls", HEADS, ids=lambda c: c.__name__)
def test_whole_model_gradient_matches_finite_differences(cls):
    """Perturb a few entries of every weight of a tiny model (2 groups, 2 inner layers) and compare."""
    cfg = tiny_config(num_hidden_layers=4, num_hidden_groups=2, hidden_act="gelu", vocab_size=20,
                      num_labels=3 if cls in (an.AlbertForSequenceClassification, an.AlbertForTokenClassification) else 2)
    model = random_params(cls(cfg, dtype="float64", seed=0))
    batch = make_batch(cls, cfg, batch=2, seq=5)
    model(**batch)
    grads = model.backward()
    pick = np.random.default_rng(3)
    for name, w in model.params.items():
        flat, gflat = w.reshape(-1), grads[name].reshape(-1)
        for i in pick.choice(flat.size, size=min(3, flat.size), replace=False):
            old = flat[i]
            flat[i] = old + H
            up = float(model(**batch).loss)
            flat[i] = old - H
            down = float(model(**batch).loss)
            flat[i] = old
            numeric = (up - down) / (2 * H)
            assert abs(gflat[i] - numeric) <= 1e-6 * max(1.0, abs(numeric)), (name, i, gflat[i], numeric)


def test_inputs_embeds_gradient_matches_finite_differences():
    cfg = tiny_config()
    model = random_params(an.AlbertForSequenceClassification(cfg, dtype="float64"))
    embeds = rng.normal(size=(2, 4, cfg.embedding_size))
    labels = np.array([1, 0])
    model(inputs_embeds=embeds, labels=labels)
    d = model.backward()["inputs_embeds"]
    assert d.shape == embeds.shape
    assert_close(d, numerical_grad(lambda: float(model(inputs_embeds=embeds, labels=labels).loss), embeds))


def test_shared_layer_gradient_is_the_sum_over_its_uses():
    """With one group reused by 3 layers, the group's gradient equals the sum of 3 unshared copies' gradients."""
    shared_cfg = tiny_config(num_hidden_layers=3, num_hidden_groups=1, inner_group_num=1)
    unshared_cfg = tiny_config(num_hidden_layers=3, num_hidden_groups=3, inner_group_num=1)
    shared = random_params(an.AlbertForMaskedLM(shared_cfg, dtype="float64"))
    unshared = an.AlbertForMaskedLM(unshared_cfg, dtype="float64")
    for name in unshared.params:
        src = name
        for g in range(3):
            src = src.replace(f"albert_layer_groups.{g}.", "albert_layer_groups.0.")
        unshared.params[name] = shared.params[src].copy()
    batch = make_batch(an.AlbertForMaskedLM, shared_cfg)
    np.testing.assert_allclose(shared(**batch).loss, unshared(**batch).loss, rtol=1e-14)
    gs, gu = shared.backward(), unshared.backward()
    key = "albert.encoder.albert_layer_groups.{}.albert_layers.0.ffn.weight"
    np.testing.assert_allclose(gs[key.format(0)], sum(gu[key.format(g)] for g in range(3)), rtol=1e-12, atol=1e-15)


def test_adamw_resumed_from_state_dict_continues_the_same_trajectory():
    cfg = tiny_config()
    batch = make_batch(an.AlbertForMaskedLM, cfg)
    a = random_params(an.AlbertForMaskedLM(cfg, dtype="float64"))
    b = an.AlbertForMaskedLM(cfg, dtype="float64", params={k: v.copy() for k, v in a.params.items()})
    opt_a = an.AdamW(a.parameters(), lr=1e-2)
    for _ in range(4):
        a(**batch)
        opt_a.step(a.backward())
    opt_b = an.AdamW(b.parameters(), lr=1e-2)
    for _ in range(2):
        b(**batch)
        opt_b.step(b.backward())
    resumed = an.AdamW(b.parameters(), lr=1e-2)
    resumed.load_state_dict({k: (dict(v) if isinstance(v, dict) else v) for k, v in opt_b.state_dict().items()})
    for _ in range(2):
        b(**batch)
        resumed.step(b.backward())
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name])
