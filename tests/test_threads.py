"""Threads: one model used by several threads at once, and the shared worker pool growing while in use."""

import threading

import numpy as np

import albert_np as an
from albert_np import _parallel
from factory import make_batch, random_params, tiny_config


def _run_in_threads(*targets):
    errors = []

    def guard(f):
        def run():
            try:
                f()
            except BaseException as e:  # noqa: BLE001 - re-raised in the main thread below
                errors.append(e)
        return run

    threads = [threading.Thread(target=guard(f)) for f in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def test_two_threads_training_one_model_each_get_their_own_gradients():
    cfg = tiny_config()
    model = random_params(an.AlbertForMaskedLM(cfg, dtype="float64", seed=0))
    batches = [make_batch(an.AlbertForMaskedLM, cfg, seed=s) for s in (1, 2)]
    want = []
    for b in batches:                                   # single-threaded reference, one batch at a time
        model(**b)
        want.append(model.backward())
    barrier = threading.Barrier(2)
    got = [[], []]

    def worker(i):
        def run():
            for _ in range(5):
                model(**batches[i])
                barrier.wait()                          # both forwards done before either backward
                got[i].append(model.backward())
                barrier.wait()
        return run

    _run_in_threads(worker(0), worker(1))
    for i in (0, 1):
        for grads in got[i]:
            for name in want[i]:
                np.testing.assert_array_equal(grads[name], want[i][name], err_msg=f"thread {i}: {name}")


def test_a_backward_on_a_thread_that_ran_no_forward_says_each_thread_has_its_own_tape():
    model = an.AlbertForMaskedLM(tiny_config())
    ids = np.array([[5, 6, 7]])
    model(input_ids=ids, labels=ids)
    errors = []

    def other():
        try:
            model.backward()
        except RuntimeError as e:
            errors.append(str(e))

    _run_in_threads(other)
    assert errors and "each thread has its own tape" in errors[0]
    model.backward()                                    # the forward's own thread still has its tape


def test_growing_the_pool_while_another_thread_uses_it_does_not_crash():
    x = np.random.default_rng(0).normal(size=(4096, 64))
    small = an.get_backend("numpy")
    small.num_threads, small.block_bytes = 2, 4096
    stop = threading.Event()

    def user():
        while not stop.is_set():
            np.testing.assert_array_equal(small.rowwise(np.tanh, x), np.tanh(x))

    def grower():
        try:
            for n in range(3, 12):
                big = an.get_backend("numpy")
                big.num_threads, big.block_bytes = n, 4096
                big.rowwise(np.tanh, x)
        finally:
            stop.set()

    _run_in_threads(user, grower)
    assert _parallel._pool_size >= 10
