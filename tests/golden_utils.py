"""Shared helpers for the parity tests: read the golden fixtures, run albert_np, measure relative error.

The fixtures are written by tools/make_golden.py; reading them needs only numpy.  Set
ALBERT_NP_GOLDEN_DIR to read them from another folder, ALBERT_NP_TEST_BACKEND=cupy to run the albert_np side on the GPU backend instead of numpy.
"""

import json
import os
from pathlib import Path

import numpy as np

# ALBERT_NP_GOLDEN_DIR points the parity tests at fixtures regenerated elsewhere (another CPU, other
# kernels: `python tools/make_golden.py --golden-dir DIR`) to show the tolerances hold against them too.
GOLDEN_DIR = Path(os.environ.get("ALBERT_NP_GOLDEN_DIR", Path(__file__).resolve().parent / "golden"))
DTYPES = ("float64", "float32")

# ----------------------------------------------------------------------------- tolerances
# Written once, asked two questions: the parity tests (albert_np against the fixtures, or against
# transformers run live) and tools/make_golden.py --check (a fixture regenerated here against the
# committed one, possibly made on another CPU).  Both ask "is this difference rounding, or a real
# change?", measured as rel_err (max|a - b| / max|b|), so both use these numbers.
#
# What rounding looks like, measured (docs/parity.md, "Regenerating on another CPU"): albert_np
# against torch 1e-15..1e-14 (float64) and 6e-7..3e-6 (float32); torch against itself on other
# kernels (AVX-512 / AVX2 / SSE4.2 MKL paths, other CPUs) up to ~3e-11 (the AdamW trajectory,
# float64) and ~4e-6 (float32 gradients).  A real change (another seed, config, formula or
# transformers version) moves values by 1e-3 or more.  Each tolerance sits well above the first
# and well below the second.
RTOL = {
    # Float64 outputs, losses, hidden states, attentions and gradients: float64 rounding through a
    # dozen layers stays below 1e-13; 1e-10 is the project's float64 parity bar.
    ("float64", "outputs"): 1e-10,
    ("float64", "gradients"): 1e-10,
    # Float32 outputs and gradients: float32 rounding (eps 1.2e-7) through the layers and the
    # cancellation in attention-weight gradients reaches a few 1e-6; 1e-4 is the float32 bar.
    ("float32", "outputs"): 1e-4,
    ("float32", "gradients"): 1e-4,
    # Ten float64 AdamW steps: Adam divides by sqrt(v) + eps, so a gradient that is rounding noise
    # (the key bias, analytically zero) is amplified by lr / eps = 1e5 into its parameter.  That
    # noise differs between kernels (2.9e-11 measured), so the trajectory gets 1e-9, not 1e-10.
    ("float64", "adamw"): 1e-9,
    # Float32 values drawn from torch's seeded generator (weights, inputs_embeds, upstream
    # gradients) and float32 SentencePiece scores: a vectorised log/cos or exp on another CPU may
    # round differently by an ulp or two (1.2e-7); a real change (another seed) is O(1).
    ("float32", "draws"): 1e-6,
}


def rtol(dtype, quantity):
    """The relative tolerance for `quantity` ("outputs", "gradients", "adamw", "draws") in `dtype`."""
    return RTOL[(str(np.dtype(dtype)), quantity)]


def load_manifest():
    """The parsed tests/golden/manifest.json."""
    return json.loads((GOLDEN_DIR / "manifest.json").read_text())


def case_names(kind=None):
    """Names of the golden cases in manifest order, optionally only those of one `kind`."""
    return [case["name"] for case in load_manifest()["cases"] if kind is None or case["kind"] == kind]


def load_npz(path):
    """All arrays of an npz file as a plain dict."""
    with np.load(path, allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}


def load_case(name):
    """One golden case: its manifest entry plus `dir`, `inputs` and `expected` (per dtype).

    `expected` maps "float64"/"float32" to the arrays of expected_<dtype>.npz, for the
    dtypes the case has.
    """
    entry = next(case for case in load_manifest()["cases"] if case["name"] == name)
    case_dir = GOLDEN_DIR / name
    expected = {
        dtype: load_npz(case_dir / f"expected_{dtype}.npz")
        for dtype in DTYPES
        if (case_dir / f"expected_{dtype}.npz").exists()
    }
    return {**entry, "dir": case_dir, "inputs": load_npz(case_dir / "inputs.npz"), "expected": expected}


def cast_inputs(inputs, dtype):
    """The inputs with float arrays cast to `dtype`, as the reference model received them."""
    return {
        key: value.astype(dtype) if np.issubdtype(value.dtype, np.floating) else value
        for key, value in inputs.items()
    }


def rel_err(ours, ref, scale_ref=None):
    """max|ours - ref| / max(max|ref|, 1e-30): the project's relative error (shapes must match).

    `scale_ref` replaces `ref` in the denominator; it is used only for analytically zero
    gradients (see `gradient_scale_ref`).
    """
    ours = np.asarray(ours, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    if ours.shape != ref.shape:
        raise ValueError(f"shape mismatch: ours {ours.shape} vs reference {ref.shape}")
    scale_ref = ref if scale_ref is None else np.asarray(scale_ref, dtype=np.float64)
    diff = np.max(np.abs(ours - ref), initial=0.0)
    scale = max(np.max(np.abs(scale_ref), initial=0.0), 1e-30)
    return float(diff / scale)


def is_analytically_zero_gradient(name, cls_name):
    """Whether the gradient of parameter `name` is exactly zero in exact arithmetic.

    A softmax ignores a constant added to all its logits: a key bias adds q.b to every score
    of a query row, the multiple-choice classifier bias the same value to every choice and
    the QA bias the same value to every start (end) position.  Torch's gradient there is
    rounding noise (~1e-17 in float64), so max|ref| is no scale at all.
    """
    return (
        name.endswith("attention.key.bias")
        or (cls_name == "AlbertForMultipleChoice" and name == "classifier.bias")
        or (cls_name == "AlbertForQuestionAnswering" and name == "qa_outputs.bias")
    )


def gradient_scale_ref(name, cls_name, expected):
    """The array whose max|.| normalises gradient `name`: its own reference, or for an
    analytically zero bias gradient the gradient of the matching weight (same layer, same scale)."""
    if is_analytically_zero_gradient(name, cls_name):
        return expected[f"grad.{name.removesuffix('bias')}weight"]
    return expected[f"grad.{name}"]


def output_keys(expected):
    """Expected forward output keys (everything except gradients and upstream gradients)."""
    return sorted(key for key in expected if not key.startswith(("grad.", "dout.")))


def gradient_keys(expected):
    """Expected gradient keys, without their `grad.` prefix."""
    return sorted(key.removeprefix("grad.") for key in expected if key.startswith("grad."))


def upstream_gradients(expected):
    """Upstream gradients stored for AlbertModel, keyed by output name (empty otherwise)."""
    return {key.removeprefix("dout."): value for key, value in expected.items() if key.startswith("dout.")}


# ----------------------------------------------------------------------------- albert_np side

BACKEND = os.environ.get("ALBERT_NP_TEST_BACKEND", "numpy")


def load_model(an, cls_name, model_dir, dtype):
    """An albert_np model of class `cls_name` from a checkpoint dir, on the test backend."""
    return getattr(an, cls_name).from_pretrained(model_dir, dtype=dtype, backend=BACKEND)


def run_forward(an, case, dtype):
    """Load the case's model in `dtype` and run it on the case inputs; returns (model, outputs)."""
    model = load_model(an, case["class"], case["dir"], dtype)
    model.eval()
    out = model(**cast_inputs(case["inputs"], dtype), output_hidden_states=True, output_attentions=True)
    return model, out


def run_backward(model, expected):
    """Gradients after a forward: from the loss, or from the stored upstream gradients (AlbertModel)."""
    douts = upstream_gradients(expected)
    return model.backward(douts) if douts else model.backward()


def output_field(out, field):
    """`out.field` or `out[field]`, None when albert_np does not produce it."""
    value = getattr(out, field, None)
    if value is None:
        try:
            value = out[field]
        except (KeyError, IndexError, TypeError):
            return None
    return value


def lookup_output(out, key):
    """The output named `key` ("logits", "hidden_states.3", ...), None when missing."""
    field, _, index = key.partition(".")
    value = output_field(out, field)
    if value is None or not index:
        return value
    return value[int(index)] if int(index) < len(value) else None


def compare(ours, ref, to_numpy, scalar=False, scale_ref=None):
    """Relative error of one array, or a message when it is missing or has the wrong shape."""
    if ours is None:
        return "missing"
    ours = np.asarray(ours if isinstance(ours, (float, np.generic, np.ndarray)) else to_numpy(ours))
    if scalar:
        if ours.size != 1:
            return f"expected a scalar, got shape {ours.shape}"
        ours, ref = ours.reshape(()), np.asarray(ref).reshape(())
    if ours.shape != ref.shape:
        return f"shape {ours.shape}, expected {ref.shape}"
    return rel_err(ours, ref, scale_ref)


def tuple_length_problems(out, expected):
    """Messages for tuple outputs (hidden_states, attentions) whose length differs from the reference."""
    problems = {}
    for field in ("hidden_states", "attentions"):
        count = sum(1 for key in expected if key.startswith(f"{field}."))
        value = output_field(out, field)
        if count and value is not None and len(value) != count:
            problems[field] = f"{len(value)} entries, expected {count}"
    return problems


def output_errors(out, expected, to_numpy):
    """Per output key: relative error against the reference, or a message (missing, shape, length)."""
    errors = {key: compare(lookup_output(out, key), expected[key], to_numpy, scalar=key == "loss")
              for key in output_keys(expected)}
    errors.update(tuple_length_problems(out, expected))
    return errors


def gradient_errors(grads, expected, to_numpy, cls_name):
    """Per parameter (and inputs_embeds): relative gradient error, or a message; extra names are flagged.

    Analytically zero gradients are normalised by their weight's gradient (`gradient_scale_ref`).
    """
    errors = {
        name: compare(grads.get(name), expected[f"grad.{name}"], to_numpy,
                      scale_ref=gradient_scale_ref(name, cls_name, expected))
        for name in gradient_keys(expected)
    }
    errors.update({name: "unexpected gradient name" for name in set(grads) - set(gradient_keys(expected))})
    return errors


def failures(errors, tolerance):
    """The entries of `errors` that are messages or exceed `tolerance`."""
    return {key: err for key, err in errors.items() if isinstance(err, str) or not err <= tolerance}


def format_failures(bad, tolerance):
    """A readable multi-line summary of failing keys."""
    lines = [f"  {key}: {err if isinstance(err, str) else f'{err:.3e}'}" for key, err in sorted(bad.items())]
    return f"{len(bad)} key(s) off (tolerance {tolerance:g}):\n" + "\n".join(lines)


ADAMW_HYPERPARAMS = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)


def run_adamw(an, case):
    """Replay an AdamW case with albert_np in float64 train mode; returns (losses, final parameters)."""
    model = load_model(an, case["class"], case["dir"], "float64")
    model.train()
    inputs = cast_inputs(case["inputs"], "float64")
    optimizer = an.AdamW(model.parameters(), **ADAMW_HYPERPARAMS)
    losses = []
    for _ in range(len(case["expected"]["float64"]["losses"])):
        out = model(**inputs)
        losses.append(float(np.asarray(an.to_numpy(out.loss)).reshape(())))
        optimizer.step(model.backward())
    return np.array(losses), model.parameters()


def adamw_errors(losses, params, expected, to_numpy):
    """Relative errors of the loss curve and of every final parameter; extra names are flagged."""
    names = {key.removeprefix("param.") for key in expected if key.startswith("param.")}
    errors = {"losses": compare(losses, expected["losses"], to_numpy)}
    errors.update({f"param.{name}": compare(params.get(name), expected[f"param.{name}"], to_numpy) for name in names})
    errors.update({f"param.{name}": "unexpected parameter name" for name in set(params) - names})
    return errors
