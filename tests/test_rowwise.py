"""Backend.rowwise: blocked, multi-threaded elementwise work must give exactly what the plain call gives."""

import numpy as np
import pytest

import albert_np as an
from albert_np import backend as backend_module
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
    plain = ops.softmax_forward(bk.xp, an.get_backend("numpy"), x)
    np.testing.assert_array_equal(ops.softmax_forward(bk.xp, bk, x), plain)
    np.testing.assert_allclose(plain.sum(axis=-1), 1.0, rtol=1e-6)


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
