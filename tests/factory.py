"""Tiny configs, models and batches that the core tests share (no fixtures on disk, no torch)."""

from __future__ import annotations

import numpy as np

import albert_np as an


def tiny_config(**overrides):
    kw = dict(vocab_size=30, embedding_size=8, hidden_size=12, num_attention_heads=3, intermediate_size=10,
              num_hidden_layers=3, num_hidden_groups=1, inner_group_num=2, max_position_embeddings=16,
              hidden_act="gelu_new")
    kw.update(overrides)
    return an.AlbertConfig(**kw)


def make_batch(cls, cfg, batch=2, seq=6, seed=0):
    """A padded batch with token types and labels fitting `cls` (numpy, host side)."""
    rng = np.random.default_rng(seed)
    shape = (batch, 3, seq) if cls is an.AlbertForMultipleChoice else (batch, seq)
    ids = rng.integers(5, cfg.vocab_size, size=shape)
    mask = np.ones(shape, dtype=np.int64)
    mask.reshape(-1, seq)[0, -2:] = 0
    ids = np.where(mask == 1, ids, 0)
    kw = dict(input_ids=ids, attention_mask=mask, token_type_ids=rng.integers(0, 2, size=shape))
    if cls in (an.AlbertForMaskedLM, an.AlbertForPreTraining):
        kw["labels"] = np.where(rng.random(shape) < 0.5, ids, -100)
    if cls is an.AlbertForPreTraining:
        kw["sentence_order_label"] = rng.integers(0, 2, size=batch)
    if cls is an.AlbertForSequenceClassification:
        kw["labels"] = rng.integers(0, cfg.num_labels, size=batch)
    if cls is an.AlbertForMultipleChoice:
        kw["labels"] = rng.integers(0, 3, size=batch)
    if cls is an.AlbertForTokenClassification:
        kw["labels"] = np.where(rng.random(shape) < 0.3, -100, rng.integers(0, cfg.num_labels, size=shape))
    if cls is an.AlbertForQuestionAnswering:
        kw["start_positions"] = rng.integers(0, seq, size=batch)
        kw["end_positions"] = rng.integers(0, seq, size=batch)
    return kw


def random_params(model, seed=0, scale=0.3):
    """Replace every weight with seeded noise (LayerNorm weights near 1) so no gradient is trivially zero."""
    rng = np.random.default_rng(seed)
    for name, w in model.params.items():
        noise = rng.normal(0.0, scale, size=w.shape)
        if name.endswith(("LayerNorm.weight", "layer_norm.weight")):
            noise = 1.0 + noise / 3
        model.params[name] = model.backend.asarray(noise, dtype=model._xp_dtype)
    return model
