"""Property-based fuzz (hypothesis, fixed seed, bounded) of shapes and masks against the model.

Two properties that hold for any batch: padding is invisible (changing the ids at padded positions changes
no output at a real position) and sequences are independent (each row of a batch equals that row run alone).
Bad values are rejected (tests/bad_inputs/inputs.py); here every drawn input is valid.
"""

import numpy as np
from hypothesis import given, settings, strategies as st

import albert_np as an
from factory import random_params, tiny_config

MODEL = random_params(an.AlbertModel(tiny_config(), dtype="float64", seed=0))


@st.composite
def batches(draw):
    b, s = draw(st.integers(1, 4)), draw(st.integers(1, 16))
    lengths = draw(st.lists(st.integers(1, s), min_size=b, max_size=b))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    mask = (np.arange(s)[None, :] < np.array(lengths)[:, None]).astype(np.int64)
    ids = rng.integers(1, 30, size=(b, s))
    types = rng.integers(0, 2, size=(b, s))
    return ids, mask, types, rng


@settings(max_examples=25, deadline=None, derandomize=True)
@given(batches())
def test_padding_is_invisible_and_sequences_are_independent(batch):
    ids, mask, types, rng = batch
    out = MODEL(input_ids=ids, attention_mask=mask, token_type_ids=types)
    real = mask.astype(bool)
    other = np.where(real, ids, rng.integers(1, 30, size=ids.shape))          # new ids at padded positions
    out2 = MODEL(input_ids=other, attention_mask=mask, token_type_ids=types)
    np.testing.assert_allclose(out2.last_hidden_state[real], out.last_hidden_state[real], rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(out2.pooler_output, out.pooler_output, rtol=1e-12, atol=1e-13)
    for i in range(ids.shape[0]):
        alone = MODEL(input_ids=ids[i:i + 1], attention_mask=mask[i:i + 1], token_type_ids=types[i:i + 1])
        np.testing.assert_allclose(alone.last_hidden_state[0], out.last_hidden_state[i], rtol=1e-12, atol=1e-13)
    assert np.isfinite(out.last_hidden_state).all()
