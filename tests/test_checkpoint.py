"""Reading and writing checkpoints: formats, sharding, heads loaded from other heads, and every failure's message."""

import json
import os
import struct

import numpy as np
import pytest

import albert_np as an
from albert_np.checkpoint import read_safetensors, write_safetensors
from factory import make_batch, random_params, tiny_config


@pytest.fixture
def saved(tmp_path):
    """A random AlbertForPreTraining saved in float32, and its directory."""
    model = random_params(an.AlbertForPreTraining(tiny_config(), dtype="float32", seed=0))
    model.save_pretrained(tmp_path / "ckpt")
    return model, tmp_path / "ckpt"


def test_save_pretrained_writes_config_and_safetensors_without_tied_decoder(saved):
    model, path = saved
    assert sorted(os.listdir(path)) == ["config.json", "model.safetensors"]
    tensors, metadata = read_safetensors(path / "model.safetensors")
    assert metadata == {"format": "pt"}
    assert "predictions.decoder.weight" not in tensors and "predictions.decoder.bias" not in tensors
    assert set(tensors) == set(model.params)
    config = json.loads((path / "config.json").read_text())
    assert config["architectures"] == ["AlbertForPreTraining"] and config["model_type"] == "albert"


def test_round_trip_gives_identical_outputs(saved):
    model, path = saved
    again = an.AlbertForPreTraining.from_pretrained(path)
    batch = make_batch(an.AlbertForPreTraining, model.config)
    np.testing.assert_array_equal(again(**batch).prediction_logits, model(**batch).prediction_logits)


def test_written_file_is_read_by_the_reference_safetensors_library(saved):
    st = pytest.importorskip("safetensors.numpy")
    model, path = saved
    theirs = st.load_file(str(path / "model.safetensors"))
    for key, value in model.params.items():
        np.testing.assert_array_equal(theirs[key], value)


@pytest.mark.parametrize("dtype", ["float16", "float64"])
def test_float16_and_float64_tensors_are_cast_to_the_requested_dtype(saved, dtype):
    model, path = saved
    write_safetensors(path / "model.safetensors", {k: v.astype(dtype) for k, v in model.params.items()})
    loaded = an.AlbertForPreTraining.from_pretrained(path, dtype="float64")
    for key, value in model.params.items():
        np.testing.assert_array_equal(loaded.params[key], value.astype(dtype).astype(np.float64))
        assert loaded.params[key].dtype == np.float64


def _bf16_bits(x):
    """float32 -> bfloat16 bit patterns, rounding to nearest even (what torch does)."""
    bits = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)


def _write_bf16(path, tensors):
    header, offset, blobs = {}, 0, []
    for key, value in tensors.items():
        raw = _bf16_bits(value).astype("<u2").tobytes()
        header[key] = {"dtype": "BF16", "shape": list(value.shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    head = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)) + head + b"".join(blobs))


def test_bf16_is_widened_exactly_without_torch(tmp_path):
    values = np.array([1.0, -2.5, 3.140625, 0.0, -0.0, 65280.0, 1e-3], dtype=np.float32)
    _write_bf16(tmp_path / "x.safetensors", {"x": values})
    got = read_safetensors(tmp_path / "x.safetensors")[0]["x"]
    expected = (_bf16_bits(values).astype(np.uint32) << 16).view(np.float32)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(got[:6], values[:6])  # these are exactly representable in bfloat16


def test_bf16_checkpoint_loads_like_torch_converts_it(saved):
    torch = pytest.importorskip("torch")
    model, path = saved
    _write_bf16(path / "model.safetensors", model.params)
    loaded = an.AlbertForPreTraining.from_pretrained(path, dtype="float32")
    for key, value in model.params.items():
        via_torch = torch.from_numpy(np.ascontiguousarray(value)).to(torch.bfloat16).to(torch.float32).numpy()
        np.testing.assert_array_equal(loaded.params[key], via_torch)


def test_sharded_checkpoint_with_index_loads(saved):
    model, path = saved
    keys = list(model.params)
    shards = {"model-00001-of-00002.safetensors": keys[: len(keys) // 2],
              "model-00002-of-00002.safetensors": keys[len(keys) // 2:]}
    os.remove(path / "model.safetensors")
    weight_map = {}
    for shard, names in shards.items():
        write_safetensors(path / shard, {k: model.params[k] for k in names})
        weight_map.update({k: shard for k in names})
    (path / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    loaded = an.AlbertForPreTraining.from_pretrained(path)
    for key in keys:
        np.testing.assert_array_equal(loaded.params[key], model.params[key])


def test_base_model_loads_from_pretraining_checkpoint_and_lists_unused_head_weights(saved):
    model, path = saved
    with pytest.warns(UserWarning, match=r"were not used when initializing AlbertModel: \['predictions.bias'"):
        base = an.AlbertModel.from_pretrained(path)
    np.testing.assert_array_equal(base.params["encoder.embedding_hidden_mapping_in.weight"],
                                  model.params["albert.encoder.embedding_hidden_mapping_in.weight"])
    batch = make_batch(an.AlbertModel, model.config)  # ids, mask and token types: no labels
    model_out = model(**batch, output_hidden_states=True)
    np.testing.assert_array_equal(base(**batch).last_hidden_state, model_out.hidden_states[-1])


def test_head_loads_from_base_checkpoint_and_initialises_missing_head(tmp_path):
    base = random_params(an.AlbertModel(tiny_config(), seed=0))
    base.save_pretrained(tmp_path)
    with pytest.warns(UserWarning, match=r"newly initialized: \['classifier.weight', 'classifier.bias'\]"):
        clf = an.AlbertForSequenceClassification.from_pretrained(tmp_path, num_labels=4, seed=1)
    np.testing.assert_array_equal(clf.params["albert.pooler.weight"], base.params["pooler.weight"])
    w = clf.params["classifier.weight"]
    assert w.shape == (4, 12) and 0.005 < w.std() < 0.05  # N(0, initializer_range=0.02)
    np.testing.assert_array_equal(clf.params["classifier.bias"], np.zeros(4))


def test_classifier_from_masked_lm_checkpoint_initialises_pooler_too(tmp_path):
    random_params(an.AlbertForMaskedLM(tiny_config())).save_pretrained(tmp_path)
    with pytest.warns(UserWarning) as record:
        an.AlbertForSequenceClassification.from_pretrained(tmp_path)
    messages = [str(w.message) for w in record]
    assert any("newly initialized" in m and "'albert.pooler.weight'" in m for m in messages)
    assert any("were not used" in m and "'predictions.bias'" in m for m in messages)


def test_legacy_gamma_beta_layernorm_names_are_renamed(saved):
    model, path = saved
    renamed = {k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta"): v
               for k, v in model.params.items()}
    write_safetensors(path / "model.safetensors", renamed)
    loaded = an.AlbertForPreTraining.from_pretrained(path)
    np.testing.assert_array_equal(loaded.params["albert.embeddings.LayerNorm.weight"],
                                  model.params["albert.embeddings.LayerNorm.weight"])


def test_truncated_file_names_the_tensor_and_says_redownload(saved):
    _, path = saved
    file = path / "model.safetensors"
    data = file.read_bytes()
    file.write_bytes(data[: len(data) - 100])
    with pytest.raises(an.CheckpointError, match=r"is truncated: tensor '.*' needs bytes .* re-download or re-save"):
        an.AlbertForPreTraining.from_pretrained(path)


def test_file_shorter_than_header_length_is_truncated(saved):
    _, path = saved
    (path / "model.safetensors").write_bytes(b"\x01\x02")
    with pytest.raises(an.CheckpointError, match="truncated .*8-byte header length"):
        an.AlbertForPreTraining.from_pretrained(path)


def test_corrupted_header_is_reported(saved):
    _, path = saved
    file = path / "model.safetensors"
    data = bytearray(file.read_bytes())
    data[8:20] = b"not json at!"
    file.write_bytes(bytes(data))
    with pytest.raises(an.CheckpointError, match="corrupted JSON header"):
        an.AlbertForPreTraining.from_pretrained(path)


def test_huge_header_length_is_reported_as_corruption(saved):
    _, path = saved
    file = path / "model.safetensors"
    data = file.read_bytes()
    file.write_bytes(struct.pack("<Q", 10**12) + data[8:])
    with pytest.raises(an.CheckpointError, match="corrupted header"):
        an.AlbertForPreTraining.from_pretrained(path)


def test_pytorch_bin_only_says_how_to_convert(saved):
    _, path = saved
    os.rename(path / "model.safetensors", path / "pytorch_model.bin")
    with pytest.raises(an.CheckpointError, match="holds pytorch_model.bin but no model.safetensors.*save_pretrained"):
        an.AlbertForPreTraining.from_pretrained(path)


def test_missing_encoder_weight_is_an_error_not_a_random_init(saved):
    model, path = saved
    tensors = dict(model.params)
    del tensors["albert.encoder.albert_layer_groups.0.albert_layers.1.ffn.weight"]
    write_safetensors(path / "model.safetensors", tensors)
    with pytest.raises(an.CheckpointError, match=r"lacks 1 weight\(s\) the ALBERT encoder needs.*albert_layers.1.ffn.weight"):
        an.AlbertForPreTraining.from_pretrained(path)


def test_shape_mismatch_names_the_key_and_the_config_field(saved):
    _, path = saved
    config = json.loads((path / "config.json").read_text())
    config["vocab_size"] = 31
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(an.CheckpointError, match=r"word_embeddings.weight .* has shape \(30, 8\) but the config implies \(31, 8\); vocab_size"):
        an.AlbertForPreTraining.from_pretrained(path)


def test_head_size_mismatch_suggests_num_labels(tmp_path):
    random_params(an.AlbertForSequenceClassification(tiny_config(num_labels=3))).save_pretrained(tmp_path)
    with pytest.raises(an.CheckpointError, match="classifier.weight .* num_labels differs"):
        an.AlbertForSequenceClassification.from_pretrained(tmp_path, num_labels=5)


def test_missing_directory_and_missing_weights_are_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no config.json at .*\(no hub downloads\)"):
        an.AlbertForMaskedLM.from_pretrained(tmp_path / "nope")
    tiny_config().save_pretrained(tmp_path)
    with pytest.raises(an.CheckpointError, match="no model.safetensors"):
        an.AlbertForMaskedLM.from_pretrained(tmp_path)


def test_failed_save_leaves_the_previous_checkpoint_intact(saved, monkeypatch):
    import albert_np.checkpoint as ck

    model, path = saved
    before = (path / "model.safetensors").read_bytes()

    def disk_full(*args):
        raise OSError("disk full")

    monkeypatch.setattr(ck.struct, "pack", disk_full)  # fails once the temp file is open, mid-write
    with pytest.raises(OSError, match="disk full"):
        model.save_pretrained(path)
    monkeypatch.undo()
    assert (path / "model.safetensors").read_bytes() == before
    assert sorted(os.listdir(path)) == ["config.json", "model.safetensors"]  # no temp file left behind


def test_atomic_writer_replaces_only_on_success(tmp_path):
    from albert_np.io_utils import atomic_writer

    target = tmp_path / "f.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_writer(target) as f:
            f.write(b"half")
            raise RuntimeError("crash")
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["f.bin"]
    with atomic_writer(target) as f:
        f.write(b"new")
    assert target.read_bytes() == b"new"


def test_albert_attribute_is_the_encoder_sharing_the_same_arrays(saved):
    model, _ = saved
    base = model.albert
    assert isinstance(base, an.AlbertModel)
    key = "encoder.embedding_hidden_mapping_in.weight"
    assert base.params[key] is model.params["albert." + key]
    batch = make_batch(an.AlbertModel, model.config)
    np.testing.assert_array_equal(base(**batch).pooler_output,
                                  model.albert(**batch).pooler_output)


def test_saved_files_get_normal_permissions_not_temp_file_ones(saved):
    _, path = saved
    umask = os.umask(0)
    os.umask(umask)
    for name in ("config.json", "model.safetensors"):
        assert os.stat(path / name).st_mode & 0o777 == 0o666 & ~umask


def test_crafted_headers_we_reject_are_rejected_by_the_safetensors_library_too(tmp_path):
    """Our reader is at least as strict as the fuzzed reference; it is stricter only where named here."""
    safe_open = pytest.importorskip("safetensors").safe_open
    from bad_inputs.checkpoints import HEADER_CASES
    stricter = {"extra_field", "entry_is_a_list"}   # the reference ignores unknown keys and reads a list as a record
    accepted_by_reference = []
    for case in HEADER_CASES:
        folder = tmp_path / case.id
        folder.mkdir()
        if case.setup is not None:
            case.setup(folder)
        try:
            with safe_open(str(folder / "x.safetensors"), "np") as f:
                for key in f.keys():
                    f.get_tensor(key)
        except Exception:
            continue
        accepted_by_reference.append(case.id)
    assert sorted(accepted_by_reference) == sorted(stricter)


def test_a_hugging_face_cache_snapshot_with_links_to_its_blobs_loads(saved, tmp_path):
    model, path = saved
    blobs, snapshot = tmp_path / "hub" / "blobs", tmp_path / "hub" / "snapshots" / "abc123"
    blobs.mkdir(parents=True)
    snapshot.mkdir(parents=True)
    for name in ("config.json", "model.safetensors"):
        os.replace(path / name, blobs / (name + ".blob"))
        os.symlink(os.path.join("..", "..", "blobs", name + ".blob"), snapshot / name)
    loaded = an.AlbertForPreTraining.from_pretrained(snapshot)
    np.testing.assert_array_equal(loaded.params["predictions.bias"], model.params["predictions.bias"])


# ---- a bounded fuzz of the reader against the safetensors library ----------------------------------------

from hypothesis import HealthCheck, event, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_ITEMSIZE = {"F32": 4, "F64": 8, "F16": 2, "I64": 8, "U8": 1, "BOOL": 1}


@st.composite
def safetensors_files(draw):
    """A valid file's header and data, then (most of the time) one mutation of a dtype, shape, offset or length."""
    tensors = draw(st.lists(st.tuples(st.sampled_from(sorted(_ITEMSIZE)), st.lists(st.integers(0, 3), max_size=2)),
                            min_size=1, max_size=3))
    header, offset = {}, 0
    for i, (dtype, shape) in enumerate(tensors):
        n = _ITEMSIZE[dtype] * int(np.prod(shape, dtype=np.int64))
        header[f"t{i}"] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + n]}
        offset += n
    data = bytes(draw(st.lists(st.sampled_from([0, 1]), min_size=offset, max_size=offset)))   # valid BOOL bytes
    key = draw(st.sampled_from(sorted(header)))
    mutation = draw(st.sampled_from(["none", "dtype", "shape", "begin", "end", "swap", "extra", "short"]))
    if mutation == "dtype":
        header[key]["dtype"] = draw(st.sampled_from(["F32", "I64", "U8", "F8_E4M3", "f32", 7]))
    elif mutation == "shape":
        header[key]["shape"] = draw(st.lists(st.integers(-2, 4), max_size=3) | st.just("2") | st.just([1.5]))
    elif mutation in ("begin", "end"):
        header[key]["data_offsets"][mutation == "end"] += draw(st.integers(-6, 6))
    elif mutation == "swap":
        header[key]["data_offsets"].reverse()
    elif mutation == "extra":
        data += b"\0" * draw(st.integers(1, 8))
    elif mutation == "short":
        data = data[: draw(st.integers(0, max(0, len(data) - 1)))]
    return header, data


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(file=safetensors_files())
def test_any_header_gives_tensors_the_reference_agrees_with_or_a_checkpoint_error(tmp_path, file):
    """Whatever the header says, the reader returns what the safetensors library returns, or a CheckpointError."""
    safe_open = pytest.importorskip("safetensors").safe_open
    header, data = file
    path = tmp_path / "fuzz.safetensors"
    blob = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(blob)) + blob + data)
    try:
        ours = read_safetensors(path)[0]
    except an.CheckpointError:
        event("both refuse the file")
        with pytest.raises(Exception):   # the reference refuses it too (it reads unknown dtypes we do not)
            if any(e["dtype"] == "F8_E4M3" for e in header.values()):
                raise ValueError("a dtype albert_np does not read")
            with safe_open(str(path), "np") as f:
                [f.get_tensor(k) for k in f.keys()]
        return
    event("both read the file")
    with safe_open(str(path), "np") as f:
        assert sorted(f.keys()) == sorted(ours)
        for key in f.keys():
            np.testing.assert_array_equal(f.get_tensor(key), ours[key])
