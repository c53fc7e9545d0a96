"""Live parity against an installed transformers: fresh seeded configs and weights, checked on the spot.

Unlike the golden tests this needs torch and transformers (skipped without them).  It reuses the
model, input and reference-run builders of tools/make_golden.py, so live and golden cases are made
the same way, and it checks the checkpoint round trip albert_np -> transformers for all classes.
"""

import importlib
import importlib.util
from pathlib import Path

import numpy as np
import pytest

import golden_utils as gu

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

MAKE_GOLDEN_PATH = Path(__file__).resolve().parent.parent / "tools" / "make_golden.py"
FORWARD_TOLERANCE = {dtype: gu.rtol(dtype, "outputs") for dtype in gu.DTYPES}
GRADIENT_TOLERANCE = gu.rtol("float64", "gradients")
CLASSES = [
    "AlbertModel",
    "AlbertForPreTraining",
    "AlbertForMaskedLM",
    "AlbertForSequenceClassification",
    "AlbertForMultipleChoice",
    "AlbertForTokenClassification",
    "AlbertForQuestionAnswering",
]
NUM_LABELS = {"AlbertForSequenceClassification": 3, "AlbertForTokenClassification": 4}

# Structure fixed per config; sizes are drawn from a seeded RNG in `live_config_kwargs`.
LIVE_STRUCTURES = {
    "live-inner": dict(num_hidden_layers=3, num_hidden_groups=1, inner_group_num=2, hidden_act="gelu_new"),
    "live-groups": dict(num_hidden_layers=4, num_hidden_groups=2, inner_group_num=1, hidden_act="silu"),
    "live-mixed": dict(num_hidden_layers=6, num_hidden_groups=3, inner_group_num=2, hidden_act="gelu_fast"),
}
ROUND_TRIP_CONFIG = "live-mixed"


def load_make_golden():
    """tools/make_golden.py as a module (tools/ is not a package)."""
    spec = importlib.util.spec_from_file_location("make_golden", MAKE_GOLDEN_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


mg = load_make_golden()


def live_config_kwargs(config_name):
    """AlbertConfig kwargs with seeded random sizes (E != H, odd head sizes) for one live structure."""
    rng = np.random.default_rng(mg.case_seed(config_name))
    heads = int(rng.integers(2, 5))
    hidden = heads * int(rng.integers(3, 9))
    embedding = int(rng.choice([size for size in range(8, 25) if size != hidden]))
    return dict(
        mg.COMMON_CONFIG,
        vocab_size=int(rng.integers(40, 120)),
        max_position_embeddings=int(rng.integers(12, 40)),
        embedding_size=embedding,
        hidden_size=hidden,
        num_attention_heads=heads,
        intermediate_size=int(rng.integers(10, 50)),
        layer_norm_eps=float(rng.choice([1e-12, 1e-6])),
        **LIVE_STRUCTURES[config_name],
    )


def live_case(config_name, cls_name):
    """A make_golden Case for a live config and class (single-label classification)."""
    return mg.Case(f"{config_name}-{cls_name}", cls_name, config_name, num_labels=NUM_LABELS.get(cls_name, 2))


def build_live(config_name, cls_name, out_dir):
    """Save seeded random transformers weights to `out_dir`; return (config, inputs, douts)."""
    mg.setup_torch()
    case = live_case(config_name, cls_name)
    seed = mg.case_seed(case.name)
    config = mg.make_config(live_config_kwargs(config_name), num_labels=case.num_labels)
    mg.save_random_model(cls_name, config, out_dir, seed)
    generator = torch.Generator().manual_seed(seed + 1)
    seq = min(9, config.max_position_embeddings)
    inputs = mg.make_inputs(case, config, (2, seq), generator)
    douts = None
    if cls_name == "AlbertModel":
        douts = mg.make_upstream_gradients(inputs, config.hidden_size, generator)
    return config, inputs, douts


@pytest.fixture(scope="module")
def an():
    """The albert_np package (an import error fails the tests rather than skipping them)."""
    return importlib.import_module("albert_np")


@pytest.fixture(scope="module")
def live_cases(tmp_path_factory):
    """Lazily built live cases, shared by the tests of this module: (config, class) -> case dict."""
    cache = {}

    def get(config_name, cls_name):
        key = (config_name, cls_name)
        if key not in cache:
            model_dir = tmp_path_factory.mktemp(f"{config_name}-{cls_name}")
            config, inputs, douts = build_live(config_name, cls_name, model_dir)
            cache[key] = {"class": cls_name, "dir": model_dir, "config": config, "inputs": inputs, "douts": douts}
        return cache[key]

    return get


def reference(case, dtype):
    """The transformers outputs and gradients for a live case, keyed like the golden expected files."""
    torch_dtype = getattr(torch, dtype)
    model = mg.load_reference(case["dir"], case["class"], torch_dtype)
    return mg.run_reference(model, case["inputs"], torch_dtype, case["douts"])


def albert_np_forward(an, case, model_dir, dtype):
    """Load albert_np from `model_dir` and run the live case's inputs; returns (model, outputs)."""
    model = gu.load_model(an, case["class"], model_dir, dtype)
    model.eval()
    out = model(**gu.cast_inputs(case["inputs"], dtype), output_hidden_states=True, output_attentions=True)
    return model, out


def live_params(dtypes):
    """(config, class, dtype) parameters over every live config and class."""
    return [
        pytest.param(config_name, cls_name, dtype, id=f"{config_name}-{cls_name}-{dtype}")
        for config_name in LIVE_STRUCTURES
        for cls_name in CLASSES
        for dtype in dtypes
    ]


@pytest.mark.parametrize("config_name, cls_name, dtype", live_params(gu.DTYPES))
def test_live_forward_matches_transformers(an, live_cases, config_name, cls_name, dtype):
    """Outputs on fresh random weights agree with transformers run live (1e-10 float64, 1e-4 float32)."""
    case = live_cases(config_name, cls_name)
    expected = reference(case, dtype)
    _, out = albert_np_forward(an, case, case["dir"], dtype)
    bad = gu.failures(gu.output_errors(out, expected, an.to_numpy), FORWARD_TOLERANCE[dtype])
    assert not bad, gu.format_failures(bad, FORWARD_TOLERANCE[dtype])


@pytest.mark.parametrize("config_name, cls_name, dtype", live_params(["float64"]))
def test_live_gradients_match_transformers(an, live_cases, config_name, cls_name, dtype):
    """Float64 gradients on fresh random weights agree with torch autograd within 1e-10."""
    case = live_cases(config_name, cls_name)
    expected = reference(case, dtype)
    model, _ = albert_np_forward(an, case, case["dir"], dtype)
    grads = gu.run_backward(model, expected)
    bad = gu.failures(gu.gradient_errors(grads, expected, an.to_numpy, case["class"]), GRADIENT_TOLERANCE)
    assert not bad, gu.format_failures(bad, GRADIENT_TOLERANCE)


def weight_mismatches(original, reloaded):
    """Names whose weights differ (or are absent) between two torch models, compared in float64."""
    ours = {name: p.detach().to(torch.float64) for name, p in reloaded.named_parameters()}
    return sorted(
        name
        for name, p in original.named_parameters()
        if name not in ours or not torch.equal(ours[name], p.detach().to(torch.float64))
    )


@pytest.mark.parametrize("cls_name", CLASSES)
def test_save_pretrained_loads_in_transformers(an, live_cases, tmp_path, cls_name):
    """albert_np's save_pretrained is read by transformers with no missing/unexpected keys and same outputs."""
    case = live_cases(ROUND_TRIP_CONFIG, cls_name)
    model, out = albert_np_forward(an, case, case["dir"], "float64")
    model.save_pretrained(tmp_path)
    reloaded, info = getattr(transformers, cls_name).from_pretrained(
        tmp_path, attn_implementation="eager", dtype=torch.float64, output_loading_info=True
    )
    assert {key: list(value) for key, value in info.items() if value} == {}
    original = mg.load_reference(case["dir"], cls_name, torch.float64)
    assert weight_mismatches(original, reloaded) == []
    expected = mg.run_reference(reloaded, case["inputs"], torch.float64, case["douts"])
    bad = gu.failures(gu.output_errors(out, expected, an.to_numpy), FORWARD_TOLERANCE["float64"])
    assert not bad, gu.format_failures(bad, FORWARD_TOLERANCE["float64"])
