"""tools/bench_profile.py: its albert_np instrumentation times every op by name and leaves the library as it was."""

import sys
from pathlib import Path

import numpy as np

import albert_np as an
from albert_np import _parallel
from factory import make_batch, tiny_config

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import bench_profile  # noqa: E402


def test_profile_of_a_forward_names_each_op_and_puts_the_library_back():
    cfg = tiny_config()
    model = an.AlbertForMaskedLM(cfg, dtype="float64")
    batch = make_batch(an.AlbertForMaskedLM, cfg)
    expected = model(**batch).logits
    originals = (_parallel.matmul, _parallel.rowwise, _parallel.batchwise)
    result = {}

    def run():
        result["logits"] = model(**batch).logits

    ops = bench_profile.profile_ours(model, run)
    assert (_parallel.matmul, _parallel.rowwise, _parallel.batchwise) == originals
    np.testing.assert_array_equal(result["logits"], expected)
    # the fused QKV product of the 2 x 6 tokens, the decoder's logits, GELU, LayerNorm and attention, by name
    assert "matmul linear_forward [12, 12] x [12, 36]" in ops
    assert "matmul linear_forward [12, 8] x [8, 30]" in ops
    assert {"rowwise gelu_new_rows", "rowwise layernorm_rows", "batchwise attention_rows"} <= set(ops)
    assert all(seconds > 0 for key, seconds in ops.items() if not key.startswith("other"))
    categories = {bench_profile.ours_category(key) for key in ops}
    assert categories == {"products", "attention", "LayerNorm", "activations and other elementwise", "other"}


def test_torch_ops_fall_into_the_same_categories_as_ours():
    cat = bench_profile.torch_op_category
    assert cat("aten::addmm [[768], [1024, 768]]") == "products"
    assert cat("aten::_scaled_dot_product_flash_attention_for_cpu [[8, 12, 128, 64]]") == "attention"
    assert cat("aten::native_layer_norm [[8, 128, 768]]") == "LayerNorm"
    assert cat("aten::tanh [[8, 128, 3072]]") == "activations and other elementwise"
    assert cat("aten::add_ [[768, 768], [768, 768]]") == "activations and other elementwise"
    assert cat("aten::embedding [[30000, 128], [8, 128]]") == "embedding lookup"
    assert cat("aten::copy_ [[1024, 30000]]") == "other"
