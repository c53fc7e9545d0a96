"""Generate the golden fixtures in tests/golden/ from Hugging Face transformers.

Every case is a tiny ALBERT model with seeded random weights, saved with transformers'
``save_pretrained`` (the real hub layout), a fixed batch of inputs, and the outputs and
gradients that the eager PyTorch model produces in float64 and float32.  The parity tests
compare albert_np against these files without needing torch.

Usage::

    python tools/make_golden.py            # (re)write tests/golden/ (never touches tokenizer/)
    python tools/make_golden.py --check    # regenerate into a temp dir and compare

``--check`` regenerates everything into a temporary folder and compares it with the committed
files: keys, shapes, dtypes, configs, manifests and integer arrays (ids, masks, labels) exactly,
float arrays with the tolerances of ``golden_utils.RTOL`` (the same table the parity tests use, with
the reason for each number), as relative errors max|a-b| / max|b|.  Gradients that are zero in
exact arithmetic (key biases, the multiple-choice and QA output biases) are scaled by their
weight's gradient instead, as in the tests.  It compares in two stages, so that rounding in one
stage cannot be mistaken for drift in the next: the seeded draws (weights, inputs, upstream
gradients) regenerated from the seeds against the committed ones; then transformers' outputs,
gradients and AdamW steps computed *on the committed weights and inputs* against the committed
results.  The only JSON keys it does not treat as differences are ``IGNORED_JSON_KEYS`` (the
library version strings): a mismatch there is printed as a note.  It ends by printing the largest
error it saw per (dtype, quantity) against its tolerance, so a CI log shows how close rounding
came on that CPU.

Determinism: single-threaded torch, a seed per case derived from the case name, and npz
archives written with fixed timestamps, so two runs on the same machine produce byte-identical
files.  On another CPU (or with MKL/oneDNN/ATen forced onto other kernels) the float values move
in their last bits: that is what the tolerances are for (docs/parity.md lists what was measured).
"""

import argparse
import copy
import io
import json
import os
import shutil
import sys
import tempfile
import time
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import safetensors.numpy  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "tests"))

import golden_utils  # noqa: E402  (shares rel_err and the zero-gradient rule with the tests)

GOLDEN_DIR = REPO_ROOT / "tests" / "golden"
FOREIGN_ENTRIES = {"tokenizer", "pipelines", "trace"}  # written by make_tokenizer_golden.py, make_pipeline_golden.py, make_trace_golden.py
IGNORED_JSON_KEYS = {"torch_version", "transformers_version"}

ADAMW_STEPS = 10

COMMON_CONFIG = dict(
    vocab_size=99,
    max_position_embeddings=40,
    type_vocab_size=2,
    hidden_dropout_prob=0.1,
    attention_probs_dropout_prob=0.1,
    classifier_dropout_prob=0.1,
    layer_norm_eps=1e-12,
)
BASE_SIZES = dict(
    embedding_size=16,
    hidden_size=32,
    num_attention_heads=4,
    intermediate_size=37,
    num_hidden_layers=3,
    num_hidden_groups=1,
    inner_group_num=1,
    hidden_act="gelu_new",
)
ACTIVATIONS = ["silu", "swish", "gelu_fast", "tanh", "gelu_new", "gelu", "relu"]
NO_DROPOUT = dict(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, classifier_dropout_prob=0.0)

CONFIGS = {
    "base": dict(COMMON_CONFIG, **BASE_SIZES),
    "groups": dict(
        COMMON_CONFIG,
        embedding_size=16,
        hidden_size=24,
        num_attention_heads=3,
        intermediate_size=20,
        num_hidden_layers=4,
        num_hidden_groups=2,
        inner_group_num=2,
        hidden_act="gelu",
        layer_norm_eps=1e-5,
    ),
    "unshared": dict(
        COMMON_CONFIG,
        embedding_size=32,
        hidden_size=32,
        num_attention_heads=4,
        intermediate_size=20,
        num_hidden_layers=2,
        num_hidden_groups=2,
        inner_group_num=1,
        hidden_act="relu",
    ),
    **{
        f"act-{act}": dict(COMMON_CONFIG, **dict(BASE_SIZES, intermediate_size=20, num_hidden_layers=2, hidden_act=act))
        for act in ACTIVATIONS
    },
    "adamw": dict(COMMON_CONFIG, **BASE_SIZES, **NO_DROPOUT),
}

# (batch, sequence) per config; multiple choice uses [2, 3, sequence].
BATCH_SHAPES = {"base": (3, 8), "groups": (2, 9), "unshared": (2, 7), "adamw": (3, 8)}
DEFAULT_BATCH_SHAPE = (2, 7)
MULTIPLE_CHOICE_BATCH = 2
NUM_CHOICES = 3


@dataclass(frozen=True)
class Case:
    """One fixture: a model class on a config, with the input variant it is fed."""

    name: str
    cls: str
    config: str
    kind: str = "forward"
    num_labels: int = 2
    label_dtype: str = "int64"
    inputs_embeds: bool = False
    position_ids: bool = False

    def manifest_entry(self):
        """The case as listed in manifest.json."""
        return {"name": self.name, "class": self.cls, "config": self.config, "kind": self.kind}


def build_cases():
    """All golden cases, in manifest order."""
    cases = [
        Case("base-AlbertModel", "AlbertModel", "base"),
        Case("base-AlbertForPreTraining", "AlbertForPreTraining", "base"),
        Case("base-AlbertForMaskedLM", "AlbertForMaskedLM", "base"),
        Case("base-AlbertForSequenceClassification-regression", "AlbertForSequenceClassification", "base",
             num_labels=1, label_dtype="float64"),
        Case("base-AlbertForSequenceClassification-single_label", "AlbertForSequenceClassification", "base",
             num_labels=3, label_dtype="int64"),
        Case("base-AlbertForSequenceClassification-multi_label", "AlbertForSequenceClassification", "base",
             num_labels=3, label_dtype="float64"),
        Case("base-AlbertForMultipleChoice", "AlbertForMultipleChoice", "base"),
        Case("base-AlbertForTokenClassification", "AlbertForTokenClassification", "base", num_labels=5),
        Case("base-AlbertForQuestionAnswering", "AlbertForQuestionAnswering", "base"),
        Case("base-AlbertModel-inputs_embeds", "AlbertModel", "base", inputs_embeds=True),
        Case("base-AlbertForMaskedLM-position_ids", "AlbertForMaskedLM", "base", position_ids=True),
        Case("groups-AlbertForPreTraining", "AlbertForPreTraining", "groups"),
        Case("groups-AlbertModel", "AlbertModel", "groups"),
        Case("unshared-AlbertForMaskedLM", "AlbertForMaskedLM", "unshared"),
        Case("unshared-AlbertForSequenceClassification", "AlbertForSequenceClassification", "unshared",
             num_labels=3, label_dtype="int64"),
    ]
    cases += [Case(f"act-{act}-AlbertModel", "AlbertModel", f"act-{act}") for act in ACTIVATIONS]
    cases.append(Case("adamw-AlbertForPreTraining", "AlbertForPreTraining", "adamw", kind="adamw"))
    return cases


def case_seed(name):
    """A stable per-case seed, so adding or reordering cases changes no other fixture."""
    return zlib.crc32(name.encode()) % (2**31)


def setup_torch():
    """Make torch deterministic and transformers quiet."""
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    transformers.logging.set_verbosity_error()


# ----------------------------------------------------------------------------- models


def make_config(config_kwargs, num_labels=2):
    """An AlbertConfig from keyword arguments; problem_type stays None on purpose."""
    return transformers.AlbertConfig(**config_kwargs, num_labels=num_labels)


def perturb_parameters(model, generator):
    """Overwrite every parameter with seeded noise (float32-exact) so no weight is trivial.

    LayerNorm weights become 1 + 0.1*randn, every bias (predictions.bias included)
    0.1*randn, and matrices and embeddings 0.2*randn.
    """
    layernorm_weights = {
        f"{module_name}.weight"
        for module_name, module in model.named_modules()
        if isinstance(module, torch.nn.LayerNorm)
    }
    with torch.no_grad():
        for name, param in model.named_parameters():
            noise = torch.randn(param.shape, generator=generator, dtype=torch.float64)
            if name in layernorm_weights:
                value = 1.0 + 0.1 * noise
            elif name.endswith("bias"):
                value = 0.1 * noise
            else:
                value = 0.2 * noise
            param.copy_(value.to(param.dtype))


def save_random_model(cls_name, config, out_dir, seed):
    """Build a float32 model of `cls_name`, perturb its weights, and save_pretrained it."""
    torch.manual_seed(seed)
    model = getattr(transformers, cls_name)(copy.deepcopy(config))
    perturb_parameters(model, torch.Generator().manual_seed(seed))
    model.save_pretrained(out_dir)


def load_reference(model_dir, cls_name, dtype):
    """Load the saved model in eager attention and cast it to `dtype` (float32 on disk)."""
    model = getattr(transformers, cls_name).from_pretrained(
        model_dir, attn_implementation="eager", dtype=torch.float32
    )
    return model.to(dtype)


# ----------------------------------------------------------------------------- inputs


def round_to_float32(tensor):
    """Float64 values that are exactly representable in float32."""
    return tensor.to(torch.float32).to(torch.float64)


def make_attention_mask(shape, generator):
    """Right-padded 0/1 mask: the first row is full, the last is padded, none is empty."""
    rows, seq = int(np.prod(shape[:-1])), shape[-1]
    lengths = torch.randint(seq // 2, seq + 1, (rows,), generator=generator)
    lengths[0] = seq
    lengths[-1] = seq - 2
    mask = (torch.arange(seq)[None, :] < lengths[:, None]).to(torch.int64)
    return mask.reshape(shape)


def make_token_type_ids(mask, generator):
    """Segment A then segment B inside each row's valid tokens; padding gets 0."""
    flat = mask.reshape(-1, mask.shape[-1])
    lengths = flat.sum(-1)
    splits = (torch.rand(len(lengths), generator=generator) * (lengths - 1)).to(torch.int64) + 1
    positions = torch.arange(flat.shape[-1])[None, :]
    token_types = ((positions >= splits[:, None]) & (flat == 1)).to(torch.int64)
    return token_types.reshape(mask.shape)


def make_position_ids(shape, max_positions, generator):
    """Shifted positions per row: offset + arange(seq), inside the position table."""
    batch, seq = shape
    offsets = torch.randint(0, max_positions - seq + 1, (batch, 1), generator=generator)
    return offsets + torch.arange(seq)[None, :]


def make_token_labels(mask, num_classes, generator, keep_fraction):
    """Per-token labels with -100 on padding and on a random share of real tokens."""
    labels = torch.randint(0, num_classes, mask.shape, generator=generator)
    keep = (torch.rand(mask.shape, generator=generator) < keep_fraction) & (mask == 1)
    keep[..., 0] = True
    return torch.where(keep, labels, torch.full_like(labels, -100))


def make_qa_positions(batch, seq, generator):
    """Start/end positions with one start beyond the sequence and one end at it (both ignored)."""
    starts = torch.randint(0, seq - 2, (batch,), generator=generator)
    ends = starts + torch.randint(0, 3, (batch,), generator=generator)
    starts[1] = seq + 3
    ends[-1] = seq
    return starts, ends


def make_labels(case, config, mask, generator):
    """The label keyword arguments `case.cls` takes, for a batch with attention `mask`."""
    batch = mask.shape[0]
    if case.cls in ("AlbertForMaskedLM", "AlbertForPreTraining"):
        labels = {"labels": make_token_labels(mask, config.vocab_size, generator, keep_fraction=0.4)}
        if case.cls == "AlbertForPreTraining":
            labels["sentence_order_label"] = torch.randint(0, 2, (batch,), generator=generator)
        return labels
    if case.cls == "AlbertForTokenClassification":
        return {"labels": make_token_labels(mask, case.num_labels, generator, keep_fraction=0.8)}
    if case.cls == "AlbertForMultipleChoice":
        return {"labels": torch.randint(0, mask.shape[1], (batch,), generator=generator)}
    if case.cls == "AlbertForQuestionAnswering":
        starts, ends = make_qa_positions(batch, mask.shape[-1], generator)
        return {"start_positions": starts, "end_positions": ends}
    if case.cls == "AlbertForSequenceClassification":
        return {"labels": make_sequence_labels(case, batch, generator)}
    return {}


def make_sequence_labels(case, batch, generator):
    """Regression (float [B]), single-label (int64 [B]) or multi-label (0/1 float [B, C]) labels."""
    if case.num_labels == 1:
        return round_to_float32(torch.randn(batch, generator=generator, dtype=torch.float64))
    if case.label_dtype == "int64":
        return torch.randint(0, case.num_labels, (batch,), generator=generator)
    return torch.randint(0, 2, (batch, case.num_labels), generator=generator).to(torch.float64)


def make_inputs(case, config, batch_shape, generator):
    """The forward keyword arguments of `case` as numpy arrays, under transformers' names."""
    batch, seq = batch_shape
    shape = (batch, seq)
    if case.cls == "AlbertForMultipleChoice":
        shape = (MULTIPLE_CHOICE_BATCH, NUM_CHOICES, seq)
    mask = make_attention_mask(shape, generator)
    inputs = {"attention_mask": mask}
    if case.inputs_embeds:
        embeds = torch.randn(*shape, config.embedding_size, generator=generator, dtype=torch.float64)
        inputs["inputs_embeds"] = round_to_float32(embeds)
    else:
        ids = torch.randint(1, config.vocab_size, shape, generator=generator)
        inputs["input_ids"] = torch.where(mask == 1, ids, torch.full_like(ids, config.pad_token_id))
    if case.position_ids:
        inputs["position_ids"] = make_position_ids(shape, config.max_position_embeddings, generator)
    else:
        inputs["token_type_ids"] = make_token_type_ids(mask, generator)
    inputs.update(make_labels(case, config, mask, generator))
    return {key: value.numpy() for key, value in inputs.items()}


def make_upstream_gradients(inputs, hidden_size, generator):
    """Seeded float32-exact upstream gradients for AlbertModel's two outputs."""
    batch, seq = inputs["attention_mask"].shape
    shapes = {"last_hidden_state": (batch, seq, hidden_size), "pooler_output": (batch, hidden_size)}
    return {
        f"dout.{key}": round_to_float32(torch.randn(shape, generator=generator, dtype=torch.float64)).numpy()
        for key, shape in shapes.items()
    }


# ----------------------------------------------------------------------------- reference runs


def to_torch(inputs, dtype):
    """Numpy inputs as torch tensors, with float arrays cast to the model dtype."""
    tensors = {}
    for key, value in inputs.items():
        tensor = torch.from_numpy(np.array(value))
        tensors[key] = tensor.to(dtype) if tensor.is_floating_point() else tensor
    return tensors


def flatten_outputs(out):
    """Model outputs as a flat dict: tuple fields become `name.{i}`."""
    flat = {}
    for key, value in out.items():
        if isinstance(value, tuple):
            flat.update({f"{key}.{i}": item for i, item in enumerate(value)})
        else:
            flat[key] = value
    return flat


def collect_gradients(model, tensors):
    """`grad.{name}` for every named parameter (zeros where torch left None) and inputs_embeds."""
    grads = {}
    for name, param in model.named_parameters():
        grad = param.grad if param.grad is not None else torch.zeros_like(param)
        grads[f"grad.{name}"] = grad
    if "inputs_embeds" in tensors:
        grads["grad.inputs_embeds"] = tensors["inputs_embeds"].grad
    return grads


def run_reference(model, inputs, dtype, douts=None):
    """Forward (all outputs, hidden states, attentions) and backward of `model` in `dtype`.

    The loss is the model's own; for AlbertModel it is the sum of the outputs weighted by
    the upstream gradients `douts` (`dout.last_hidden_state`, `dout.pooler_output`).
    Returns numpy arrays keyed as in expected_<dtype>.npz.
    """
    model.eval()
    tensors = to_torch(inputs, dtype)
    if "inputs_embeds" in tensors:
        tensors["inputs_embeds"].requires_grad_(True)
    out = model(**tensors, output_hidden_states=True, output_attentions=True)
    douts = to_torch(douts or {}, dtype)
    if douts:
        loss = sum((out[key.removeprefix("dout.")] * dout).sum() for key, dout in douts.items())
    else:
        loss = out.loss
    loss.backward()
    arrays = {**flatten_outputs(out), **collect_gradients(model, tensors), **douts}
    return {key: value.detach().numpy() for key, value in arrays.items()}


def run_adamw(model, inputs):
    """ADAMW_STEPS torch AdamW steps in float64 train mode; returns losses (before each step) and final parameters."""
    model.train()
    tensors = to_torch(inputs, torch.float64)
    optimizer = torch.optim.AdamW(model.parameters(), **golden_utils.ADAMW_HYPERPARAMS)
    losses = []
    for _ in range(ADAMW_STEPS):
        optimizer.zero_grad()
        loss = model(**tensors).loss
        losses.append(loss.item())
        loss.backward()
        optimizer.step()
    arrays = {"losses": np.array(losses, dtype=np.float64)}
    arrays.update({f"param.{name}": p.detach().numpy().copy() for name, p in model.named_parameters()})
    return arrays


# ----------------------------------------------------------------------------- writing


def save_npz(path, arrays):
    """Write an npz archive byte-for-byte reproducibly (sorted keys, fixed timestamps)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for key in sorted(arrays):
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(arrays[key]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, buffer.getvalue())


def write_json(path, data):
    """Write JSON with sorted keys and a trailing newline."""
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def write_case(case, case_dir, source_dir=None):
    """Write config, weights, inputs and expected arrays of one case into `case_dir`.

    With `source_dir` (the committed case, under --check), the weights and inputs drawn here are
    still written, to be compared with the committed ones, but transformers computes the expected
    arrays on the committed weights and inputs: rounding in the draws cannot then show up as
    drift in the outputs.
    """
    seed = case_seed(case.name)
    config = make_config(CONFIGS[case.config], num_labels=case.num_labels)
    save_random_model(case.cls, config, case_dir, seed)
    generator = torch.Generator().manual_seed(seed + 1)
    batch_shape = BATCH_SHAPES.get(case.config, DEFAULT_BATCH_SHAPE)
    inputs = make_inputs(case, config, batch_shape, generator)
    save_npz(case_dir / "inputs.npz", inputs)
    model_dir = case_dir if source_dir is None else source_dir
    if source_dir is not None:
        inputs = golden_utils.load_npz(source_dir / "inputs.npz")
    if case.kind == "adamw":
        model = load_reference(model_dir, case.cls, torch.float64)
        save_npz(case_dir / "expected_float64.npz", run_adamw(model, inputs))
        return
    douts = drawn_douts = None
    if case.cls == "AlbertModel":
        douts = drawn_douts = make_upstream_gradients(inputs, config.hidden_size, generator)
        if source_dir is not None:
            committed = golden_utils.load_npz(source_dir / "expected_float64.npz")
            douts = {key: value for key, value in committed.items() if key.startswith("dout.")}
    for dtype in (torch.float64, torch.float32):
        expected = run_reference(load_reference(model_dir, case.cls, dtype), inputs, dtype, douts)
        expected.update({key: value.astype(expected[key].dtype) for key, value in (drawn_douts or {}).items()})
        save_npz(case_dir / f"expected_{str(dtype).removeprefix('torch.')}.npz", expected)


def generate(out_dir, source_dir=None):
    """Generate every case plus manifest.json into `out_dir`.

    With `source_dir`, cases that exist there are computed on its weights and inputs (see
    `write_case`); new cases are computed on their own.
    """
    setup_torch()
    cases = build_cases()
    for case in cases:
        case_dir = out_dir / case.name
        case_dir.mkdir(parents=True)
        committed = None if source_dir is None else source_dir / case.name
        if committed is not None and not (committed / "model.safetensors").exists():
            committed = None
        write_case(case, case_dir, committed)
    manifest = {
        "torch_version": torch.__version__,
        "transformers_version": transformers.__version__,
        "cases": [case.manifest_entry() for case in cases],
    }
    write_json(out_dir / "manifest.json", manifest)
    return cases


def owned_entries(golden_dir):
    """Entries of the golden dir this tool owns: everything except FOREIGN_ENTRIES."""
    if not golden_dir.exists():
        return []
    return sorted(p for p in golden_dir.iterdir() if p.name not in FOREIGN_ENTRIES)


def install(generated_dir, golden_dir):
    """Replace the owned part of `golden_dir` with the freshly generated files."""
    golden_dir.mkdir(parents=True, exist_ok=True)
    for entry in owned_entries(golden_dir):
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    for entry in sorted(generated_dir.iterdir()):
        shutil.move(str(entry), golden_dir / entry.name)


# ----------------------------------------------------------------------------- checking


def compare_json(label, ours, ref, notes, path=""):
    """Differences between two JSON values; ignored keys only add notes."""
    if isinstance(ours, dict) and isinstance(ref, dict):
        diffs = []
        for key in sorted(set(ours) | set(ref)):
            where = f"{path}.{key}" if path else key
            if key not in ours or key not in ref:
                missing_from = "regenerated" if key not in ours else "committed"
                diffs.append(f"{label}: key {where!r} missing from the {missing_from} file")
            elif key in IGNORED_JSON_KEYS:
                if ours[key] != ref[key]:
                    notes.append(f"{label}: {where} is {ours[key]!r} here, {ref[key]!r} committed (ignored)")
            else:
                diffs += compare_json(label, ours[key], ref[key], notes, where)
        return diffs
    if ours != ref:
        return [f"{label}: {path or 'value'} differs: regenerated {ours!r} vs committed {ref!r}"]
    return []


def quantity(file_name, key, kind):
    """Which tolerance of golden_utils.RTOL a stored float array gets."""
    if file_name in ("model.safetensors", "inputs.npz") or key.startswith("dout."):
        return "draws"  # values drawn from torch's seeded generator
    if kind == "adamw":
        return "adamw"
    return "gradients" if key.startswith("grad.") else "outputs"


def array_rel_err(key, ours, ref, cls_name):
    """Relative error of one stored array; analytically zero gradients use their weight's scale."""
    scale_ref = None
    if key.startswith("grad.") and cls_name is not None:
        scale_ref = golden_utils.gradient_scale_ref(key.removeprefix("grad."), cls_name, ref)
    return golden_utils.rel_err(ours[key], ref[key], scale_ref)


class Worst:
    """The largest relative error seen per (dtype, quantity), with where it was seen."""

    def __init__(self):
        self.seen = {}

    def add(self, dtype, what, err, where):
        if err > self.seen.get((dtype, what), (-1.0, ""))[0]:
            self.seen[(dtype, what)] = (err, where)

    def lines(self):
        return [f"largest {dtype} {what} error {err:.2e} (tolerance {golden_utils.RTOL[(dtype, what)]:g}) at {where}"
                for (dtype, what), (err, where) in sorted(self.seen.items())]


def compare_arrays(label, ours, ref, case, worst):
    """Differences between two dicts of arrays: exact for integers, golden_utils.RTOL for floats.

    `case` is the manifest entry of the case the file belongs to (None for files outside cases).
    """
    diffs = []
    cls_name, kind = (case["class"], case["kind"]) if case else (None, None)
    for key in sorted(set(ours) | set(ref)):
        if key not in ours or key not in ref:
            missing_from = "regenerated" if key not in ours else "committed"
            diffs.append(f"{label}: array {key!r} missing from the {missing_from} file")
            continue
        a, b = ours[key], ref[key]
        if a.dtype != b.dtype or a.shape != b.shape:
            diffs.append(f"{label}: {key} is {a.dtype}{list(a.shape)} vs committed {b.dtype}{list(b.shape)}")
        elif not np.issubdtype(a.dtype, np.floating):
            if not np.array_equal(a, b):
                diffs.append(f"{label}: {key} differs ({int(np.sum(a != b))} of {a.size} values)")
        else:
            what = quantity(Path(label).name, key, kind)
            dtype = "float32" if what == "draws" else str(a.dtype)  # draws are float32 values, some stored as float64
            err = array_rel_err(key, ours, ref, cls_name)
            tolerance = golden_utils.RTOL[(dtype, what)]
            worst.add(dtype, what, err, f"{label}:{key}")
            if not err <= tolerance:
                diffs.append(f"{label}: {key} rel err {err:.3e} > {tolerance:g} ({dtype} {what})")
    return diffs


def compare_file(label, ours, ref, notes, case, worst):
    """Differences between a regenerated file and its committed counterpart (of manifest entry `case`)."""
    if ours.suffix == ".json":
        return compare_json(label, json.loads(ours.read_text()), json.loads(ref.read_text()), notes)
    if ours.suffix == ".safetensors":
        loaded = safetensors.numpy.load_file(ours), safetensors.numpy.load_file(ref)
    elif ours.suffix == ".npz":
        loaded = golden_utils.load_npz(ours), golden_utils.load_npz(ref)
    else:
        return [] if ours.read_bytes() == ref.read_bytes() else [f"{label}: bytes differ"]
    return compare_arrays(label, *loaded, case, worst)


def relative_files(root):
    """Files under the owned part of `root`, as paths relative to it."""
    files = set()
    for entry in owned_entries(root):
        paths = entry.rglob("*") if entry.is_dir() else [entry]
        files.update(p.relative_to(root) for p in paths if p.is_file())
    return files


def check(generated_dir, golden_dir):
    """Compare a fresh generation with the committed fixtures; returns (diffs, notes, worst-error lines)."""
    diffs, notes, worst = [], [], Worst()
    manifest = json.loads((generated_dir / "manifest.json").read_text())
    cases = {case["name"]: case for case in manifest["cases"]}
    ours, ref = relative_files(generated_dir), relative_files(golden_dir)
    diffs += [f"{p}: committed but not generated" for p in sorted(ref - ours)]
    diffs += [f"{p}: generated but not committed" for p in sorted(ours - ref)]
    for rel in sorted(ours & ref):
        diffs += compare_file(str(rel), generated_dir / rel, golden_dir / rel, notes, cases.get(rel.parts[0]), worst)
    return diffs, notes, worst.lines()


def directory_size(root):
    """Total size in bytes of the owned files under `root`."""
    return sum((root / rel).stat().st_size for rel in relative_files(root))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="compare a fresh generation with tests/golden/")
    parser.add_argument("--golden-dir", type=Path, default=GOLDEN_DIR, help="fixture directory (default tests/golden)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="albert_golden_") as tmp:
        generated = Path(tmp) / "golden"
        generated.mkdir()
        cases = generate(generated, source_dir=args.golden_dir if args.check else None)
        if args.check:
            diffs, notes, worst = check(generated, args.golden_dir)
            for line in notes + worst + diffs:
                print(line)
            if diffs:
                print(f"FAILED: {len(diffs)} difference(s) against {args.golden_dir}")
                return 1
            print(f"OK: {len(cases)} golden cases match {args.golden_dir} ({time.perf_counter() - start:.1f}s)")
            return 0
        install(generated, args.golden_dir)
    size = directory_size(args.golden_dir)
    print(f"wrote {len(cases)} cases to {args.golden_dir} ({size / 1e6:.2f} MB, {time.perf_counter() - start:.1f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
