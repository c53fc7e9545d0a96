"""Backend.rowwise: blocked, multi-threaded elementwise work must give exactly what the plain call gives."""

import numpy as np
import pytest

import albert_np as an
from albert_np import _parallel as backend_module
from albert_np import ops
from factory import make_batch, tiny_config


def blocked_backend(threads=2, block_bytes=256):
    bk = an.get_backend("numpy", seed=0)
    bk.num_threads, bk.block_bytes = threads, block_bytes
    return bk


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rowwise_softmax_is_bit_identical_to_the_whole_array_call(threads, dtype):
    x = np.random.default_rng(0).normal(size=(3, 4, 37, 29)).astype(dtype)
    bk = blocked_backend(threads)
    plain, _ = ops.softmax_forward(an.get_backend("numpy"), x)
    np.testing.assert_array_equal(ops.softmax_forward(bk, x)[0], plain)
    np.testing.assert_allclose(plain.sum(axis=-1), 1.0, rtol=1e-6)


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rowwise_layernorm_and_its_backward_are_bit_identical_to_the_whole_array_call(threads, dtype):
    rng = np.random.default_rng(1)
    x, res, dy = (rng.normal(size=(203, 37)).astype(dtype) for _ in range(3))
    w, b = rng.normal(size=37).astype(dtype), rng.normal(size=37).astype(dtype)
    plain_bk, bk = an.get_backend("numpy"), blocked_backend(threads)
    plain, plain_cache = ops.layernorm_forward(plain_bk, x, w, b, 1e-12, residual=res)
    y, cache = ops.layernorm_forward(bk, x, w, b, 1e-12, residual=res)
    np.testing.assert_array_equal(y, plain)
    for got, want in zip(ops.layernorm_backward(bk, dy, cache), ops.layernorm_backward(plain_bk, dy, plain_cache)):
        np.testing.assert_array_equal(got, want)
    # and it is LayerNorm: each row of (y - b) / w has mean 0 and variance 1 (eps is negligible here)
    xhat = (y - b) / w
    np.testing.assert_allclose(xhat.mean(axis=-1), 0.0, atol=1e-5 if dtype == np.float32 else 1e-12)
    np.testing.assert_allclose(xhat.var(axis=-1), 1.0, rtol=1e-4 if dtype == np.float32 else 1e-12)


def test_mean_of_product_is_the_mean_of_the_elementwise_product():
    a, b = np.random.default_rng(2).normal(size=(2, 3, 5, 11)), np.random.default_rng(3).normal(size=(2, 3, 5, 11))
    np.testing.assert_allclose(ops.mean_of_product(np, a, b), np.mean(a * b, axis=-1, keepdims=True), rtol=1e-13)


def test_rowwise_returns_every_output_with_the_input_leading_shape():
    x = np.arange(2 * 50 * 8, dtype=np.float64).reshape(2, 50, 8)
    y, mean = blocked_backend().rowwise(lambda x: (x * 2.0, np.mean(x, axis=-1, keepdims=True)), x)
    assert y.shape == (2, 50, 8) and mean.shape == (2, 50, 1)
    np.testing.assert_array_equal(y, x * 2.0)
    np.testing.assert_array_equal(mean, x.mean(axis=-1, keepdims=True))


def test_rowwise_in_place_update_reaches_every_block():
    y = np.zeros((301, 16))
    b = np.arange(16.0)

    def add(y):
        y += b

    assert blocked_backend(threads=2, block_bytes=128).rowwise(add, y) is None
    np.testing.assert_array_equal(y, np.broadcast_to(b, y.shape))


def test_rowwise_passes_every_array_blocked_alike():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(97, 5)), rng.normal(size=(97, 1))
    np.testing.assert_array_equal(blocked_backend(block_bytes=40).rowwise(lambda a, b: a * b, a, b), a * b)


def test_rowwise_small_and_non_contiguous_arrays_take_the_plain_call():
    calls = []

    def f(x):
        calls.append(x.shape)
        return x + 1.0

    bk = blocked_backend(block_bytes=1 << 20)
    bk.rowwise(f, np.ones((4, 4)))
    x = np.ones((6, 8, 10)).transpose(1, 0, 2)  # flattening it to rows would copy
    bk.block_bytes = 16
    np.testing.assert_array_equal(bk.rowwise(f, x), x + 1.0)
    assert calls == [(4, 4), (8, 6, 10)]


def test_rowwise_rejects_an_f_that_changes_the_number_of_rows():
    with pytest.raises(ValueError, match="one row per input row"):
        blocked_backend(block_bytes=64).rowwise(lambda x: x[:1], np.ones((10, 4)))  # blocks of 2 rows


def test_rowwise_reraises_an_error_from_a_worker_thread():
    def f(x):
        if x[0, 0] > 5:
            raise FloatingPointError("bad block")
        return x

    x = np.repeat(np.arange(12.0)[:, None], 4, axis=1)
    with pytest.raises(FloatingPointError, match="bad block"):
        blocked_backend(threads=2, block_bytes=32).rowwise(f, x)


@pytest.mark.parametrize("act", sorted(ops.ACTIVATIONS))
def test_model_forward_and_backward_are_bit_identical_in_small_blocks_on_threads(act):
    # The tiny model's rows are 96 bytes (H=12, float64), so 64-byte blocks put every row in its own block.
    cfg = tiny_config(hidden_act=act)
    batch = make_batch(an.AlbertForPreTraining, cfg, batch=3, seq=9, seed=0)
    results = []
    for bk in (an.get_backend("numpy", seed=0), blocked_backend(threads=3, block_bytes=64)):
        model = an.AlbertForPreTraining(cfg, dtype="float64", backend=bk)
        out = model(**batch)
        results.append((out.prediction_logits, out.loss, model.backward()))
    (logits0, loss0, grads0), (logits1, loss1, grads1) = results
    np.testing.assert_array_equal(logits1, logits0)
    assert loss1 == loss0
    for name in grads0:
        np.testing.assert_array_equal(grads1[name], grads0[name], err_msg=name)


def test_num_threads_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("ALBERT_NP_NUM_THREADS", "3")
    assert an.get_backend("numpy").num_threads == 3
    monkeypatch.setenv("ALBERT_NP_NUM_THREADS", "zero")
    with pytest.raises(ValueError, match="ALBERT_NP_NUM_THREADS must be a positive integer, got 'zero'"):
        backend_module.default_num_threads()


# ---- Backend.matmul and Backend.batchwise: products shared among threads, BLAS on one thread --------------


@pytest.fixture
def split_everything(monkeypatch):
    """Let even tiny products be cut into blocks, so the threaded path runs on test-sized arrays."""
    if backend_module._blas() is None:
        pytest.skip("NumPy's BLAS is not OpenBLAS: Backend.matmul is plain np.matmul here")
    monkeypatch.setattr(backend_module, "_MATMUL_MIN_FLOPS", 0)
    monkeypatch.setattr(backend_module, "_MATMUL_MIN_ROWS", 4)
    monkeypatch.setattr(backend_module, "_MATMUL_MIN_COLUMN_FLOPS", 0)
    monkeypatch.setattr(backend_module, "_MATMUL_COLUMN_ALIGN", 4)
    return blocked_backend(threads=2)


def test_matmul_cut_into_row_blocks_equals_the_whole_product(split_everything):
    rng = np.random.default_rng(2)
    a, w, b = rng.normal(size=(37, 16)), rng.normal(size=(9, 16)), rng.normal(size=9)
    assert backend_module._matmul_split_axis(a, w.T, 2) == (0, 10)  # 37 rows in 4 blocks of at most 10
    np.testing.assert_allclose(split_everything.matmul(a, w.T), a @ w.T, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(split_everything.matmul(a, w.T, bias=b), a @ w.T + b, rtol=1e-13, atol=1e-13)
    # a transposed view, as in the weight gradient dW = dy^T x
    np.testing.assert_allclose(split_everything.matmul(a.T, a), a.T @ a, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("a_shape", [(5, 16), (1, 5, 16)])
def test_matmul_of_few_rows_is_cut_into_column_blocks_that_equal_the_whole_product(split_everything, a_shape):
    rng = np.random.default_rng(6)
    a, w, b = rng.normal(size=a_shape), rng.normal(size=(150, 16)), rng.normal(size=150)
    # 5 rows are fewer than two blocks of 4, so the 150 columns go out in blocks of 40 (a multiple of 4)
    assert backend_module._matmul_split_axis(a, w.T, 2) == (-1, 40)
    np.testing.assert_allclose(split_everything.matmul(a, w.T), a @ w.T, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(split_everything.matmul(a, w.T, bias=b), a @ w.T + b, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("rows, k, n, expected", [
    (16, 768, 3072, (-1, 768)),     # b1s16's intermediate layer: 75 MFLOP, cut into 4 blocks of columns
    (16, 128, 30000, (-1, 7552)),   # b1s16's tied decoder
    (16, 768, 768, (None, 0)),      # 19 MFLOP: the hand-off to a thread costs more than it saves
    (1024, 768, 3072, (0, 256)),    # b8s128: the rows are cut
])
def test_default_split_cuts_a_short_sequence_by_columns_and_a_batch_by_rows(rows, k, n, expected):
    a, w = np.empty((rows, k), np.float32), np.empty((n, k), np.float32)
    assert backend_module._matmul_split_axis(a, w.T, 2) == expected


@pytest.mark.parametrize("shape, axis", [((4, 3, 8, 5), 0), ((1, 6, 8, 5), 1)])
def test_matmul_of_stacked_matrices_is_cut_along_batch_or_heads(split_everything, shape, axis):
    rng = np.random.default_rng(3)
    q, k = rng.normal(size=shape), rng.normal(size=shape)
    kt = np.swapaxes(k, -1, -2)
    assert backend_module._matmul_split_axis(q, kt, 2)[0] == axis
    np.testing.assert_allclose(split_everything.matmul(q, kt), q @ kt, rtol=1e-13, atol=1e-13)


def test_matmul_with_broadcast_batch_shapes_takes_the_plain_product(split_everything):
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(1, 3, 4, 5)), rng.normal(size=(2, 3, 5, 6))
    assert backend_module._matmul_split_axis(a, b, 2) == (None, 0)
    np.testing.assert_array_equal(split_everything.matmul(a, b), np.matmul(a, b))


def test_blas_runs_on_one_thread_inside_and_gets_its_thread_count_back(split_everything):
    get_threads, _ = backend_module._blas()
    before = get_threads()
    seen = []

    def f(x):
        seen.append(get_threads())
        return x @ np.swapaxes(x, -1, -2)

    x = np.ones((6, 3, 3))
    np.testing.assert_array_equal(split_everything.batchwise(f, x), x @ np.swapaxes(x, -1, -2))
    split_everything.matmul(np.ones((40, 8)), np.ones((8, 8)))
    assert set(seen) == {1}
    assert get_threads() == before


def test_batchwise_equals_the_whole_call_and_passes_none_through():
    rng = np.random.default_rng(5)
    q, k = rng.normal(size=(5, 2, 7, 3)), rng.normal(size=(5, 2, 7, 3))

    def f(q, k, mask):
        assert mask is None
        s = q @ np.swapaxes(k, -1, -2)
        return s, s.sum(axis=-1)

    got = blocked_backend(threads=3).batchwise(f, q, k, None)
    want = f(q, k, None)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_batchwise_rejects_an_f_that_changes_the_number_of_items():
    with pytest.raises(ValueError, match="one item per input item"):
        blocked_backend(threads=2).batchwise(lambda x: x[1:], np.ones((8, 3)))  # blocks of 1 item


def test_rowwise_out_writes_the_result_over_the_given_array():
    x = np.random.default_rng(6).normal(size=(50, 8))
    want = np.tanh(x)
    y = blocked_backend(block_bytes=64).rowwise(np.tanh, x, out=x)
    assert y is not None and np.shares_memory(y, x)
    np.testing.assert_array_equal(y, want)


def test_inference_forward_without_caches_gives_the_same_outputs():
    # Under no_grad() the FFN activation overwrites its input; the outputs must not change.
    cfg = tiny_config(num_hidden_layers=2)
    batch = make_batch(an.AlbertForMaskedLM, cfg, batch=3, seq=9, seed=1)
    model = an.AlbertForMaskedLM(cfg, dtype="float64", backend=blocked_backend())
    with_caches = model(**batch, output_hidden_states=True)
    with an.no_grad():
        without = model(**batch, output_hidden_states=True)
    np.testing.assert_array_equal(without.logits, with_caches.logits)
    for a, b in zip(without.hidden_states, with_caches.hidden_states):
        np.testing.assert_array_equal(a, b)
