"""The same code on the GPU: every head's forward and backward on CuPy match NumPy. Skipped without CuPy and a GPU."""

import numpy as np
import pytest

import albert_np as an
from factory import make_batch, random_params, tiny_config

cupy = pytest.importorskip("cupy")
try:
    HAVE_GPU = cupy.cuda.runtime.getDeviceCount() > 0
except Exception:  # no driver, no device
    HAVE_GPU = False
pytestmark = pytest.mark.skipif(not HAVE_GPU, reason="CuPy is installed but no CUDA GPU is visible")

TOL = {"float64": dict(rtol=1e-10, atol=1e-12), "float32": dict(rtol=1e-4, atol=1e-5)}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("cls", an.ALL_MODEL_CLASSES, ids=lambda c: c.__name__)
def test_head_on_cupy_matches_numpy(cls, dtype):
    three_way = cls in (an.AlbertForSequenceClassification, an.AlbertForTokenClassification)
    cfg = tiny_config(num_labels=3 if three_way else 2, hidden_act="gelu")
    ref = random_params(cls(cfg, dtype=dtype, seed=0))
    gpu = cls(cfg, dtype=dtype, backend="cupy", params={k: cupy.asarray(v) for k, v in ref.params.items()})
    batch = make_batch(cls, cfg)
    want, got = ref(**batch, output_hidden_states=True), gpu(**batch, output_hidden_states=True)
    for key in want:
        if key == "hidden_states":
            for g, w in zip(got[key], want[key]):
                np.testing.assert_allclose(an.to_numpy(g), w, **TOL[dtype])
        else:
            assert isinstance(got[key], cupy.ndarray)
            np.testing.assert_allclose(an.to_numpy(got[key]), want[key], **TOL[dtype])
    upstream = None
    if cls is an.AlbertModel:
        rng = np.random.default_rng(2)
        upstream = {k: rng.normal(size=want[k].shape) for k in ("last_hidden_state", "pooler_output")}
    g_ref, g_gpu = ref.backward(upstream), gpu.backward(upstream)
    for name in g_ref:
        scale = max(float(np.abs(g_ref[name]).max()), 1e-12)
        err = float(np.abs(an.to_numpy(g_gpu[name]) - g_ref[name]).max()) / scale
        if name.endswith("key.bias") or (name.endswith("classifier.bias") and cls is an.AlbertForMultipleChoice) \
                or name == "qa_outputs.bias":
            continue  # exactly zero in exact arithmetic: both sides are rounding noise (see docs/parity.md)
        assert err <= TOL[dtype]["rtol"] * 10, (name, err)


def test_training_step_on_cupy():
    cfg = tiny_config(hidden_dropout_prob=0.1)
    model = an.AlbertForPreTraining(cfg, backend="cupy", seed=0).train()
    opt = an.AdamW(model.parameters(), lr=1e-3)
    batch = make_batch(an.AlbertForPreTraining, cfg)
    first = float(model(**batch).loss)
    for _ in range(5):
        model(**batch)
        opt.step(model.backward())
    assert float(model(**batch).loss) < first


@pytest.mark.parametrize("cls", [an.AlbertForMaskedLM, an.AlbertForQuestionAnswering], ids=lambda c: c.__name__)
def test_model_to_cupy_and_back_keeps_the_outputs(cls):
    cfg = tiny_config()
    model = random_params(cls(cfg, dtype="float64", seed=0))
    batch = make_batch(cls, cfg)
    want = model(**batch)
    model.to("cupy")
    assert all(isinstance(v, cupy.ndarray) for v in model.params.values())
    got = model(**batch)
    for key in want:
        np.testing.assert_allclose(an.to_numpy(got[key]), want[key], **TOL["float64"])
    model.backward()
    model.resize_token_embeddings(cfg.vocab_size + 5)      # the resize math runs on the device too
    assert isinstance(model.get_input_embeddings(), cupy.ndarray)
    model.to("numpy", "float32")
    assert all(isinstance(v, np.ndarray) and v.dtype == np.float32 for v in model.params.values())
