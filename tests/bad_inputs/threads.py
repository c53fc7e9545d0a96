"""Threads: each thread differentiates only its own forward, and says so when it ran none."""

import threading

import numpy as np

import albert_np as an
from bad_inputs import Case
from factory import tiny_config

IDS = np.array([[5, 6, 7, 8]])


def in_other_thread(f):
    """Run f in a new thread and re-raise its exception here (None if it raised nothing)."""
    errors = []

    def target():
        try:
            f()
        except BaseException as e:  # noqa: BLE001 - handed back to the caller
            errors.append(e)

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if errors:
        raise errors[0]


def backward_on_another_thread(tmp):
    model = an.AlbertForMaskedLM(tiny_config(), seed=0)
    model(input_ids=IDS, labels=IDS)
    in_other_thread(model.backward)


def trace_grads_on_another_thread(tmp):
    model = an.AlbertForMaskedLM(tiny_config(), seed=0)
    model(input_ids=IDS, labels=IDS, output_trace=True)
    model.backward()
    in_other_thread(lambda: model.trace_grads)


def backward_after_another_threads_no_grad_forward(tmp):
    model = an.AlbertForMaskedLM(tiny_config(), seed=0)

    def infer():
        with an.no_grad():
            model(input_ids=IDS)

    in_other_thread(infer)
    model.backward()                                   # this thread ran no forward at all


def no_grad_on_another_thread_does_not_leak(tmp):
    model = an.AlbertForMaskedLM(tiny_config(), seed=0)
    done = threading.Event()

    def hold():
        with an.no_grad():
            done.wait(5)

    t = threading.Thread(target=hold)
    t.start()
    try:
        model(input_ids=IDS)                           # grads on here: the tape is kept, but there is no loss
        model.backward()
    finally:
        done.set()
        t.join()


def bad_thread_count(value):
    def run(tmp):
        import os

        old = os.environ.get("ALBERT_NP_NUM_THREADS")
        os.environ["ALBERT_NP_NUM_THREADS"] = value
        try:
            an.get_backend("numpy")
        finally:
            if old is None:
                del os.environ["ALBERT_NP_NUM_THREADS"]
            else:
                os.environ["ALBERT_NP_NUM_THREADS"] = old
    return run


CASES = [
    Case("backward_on_another_thread", backward_on_another_thread, RuntimeError,
         r"needs a forward pass first on this thread \(each thread has its own tape\)"),
    Case("trace_grads_on_another_thread", trace_grads_on_another_thread, RuntimeError,
         r"no traced backward on this thread yet"),
    Case("backward_after_another_threads_forward", backward_after_another_threads_no_grad_forward, RuntimeError,
         r"needs a forward pass first on this thread"),
    Case("no_grad_of_another_thread_keeps_this_threads_tape", no_grad_on_another_thread_does_not_leak, RuntimeError,
         r"the last forward computed no loss"),
    Case("num_threads_zero", bad_thread_count("0"), ValueError, r"ALBERT_NP_NUM_THREADS must be a positive integer, got '0'"),
    Case("num_threads_not_a_number", bad_thread_count("many"), ValueError,
         r"ALBERT_NP_NUM_THREADS must be a positive integer, got 'many'"),
]
