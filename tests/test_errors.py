"""Bad input fails early with a message naming the problem and the fix, never a broadcast error or a wrong answer."""

import numpy as np
import pytest

import albert_np as an
from factory import tiny_config


@pytest.fixture(scope="module")
def mlm():
    return an.AlbertForMaskedLM(tiny_config(), seed=0)


IDS = np.array([[2, 7, 8, 3]])


def test_id_past_vocabulary_is_rejected(mlm):
    with pytest.raises(ValueError, match=r"input_ids holds 30, outside \[0, 29\]; the model's vocabulary has 30 tokens"):
        mlm(input_ids=[[2, 30, 3]])


def test_negative_id_is_rejected_not_wrapped_around(mlm):
    with pytest.raises(ValueError, match=r"input_ids holds -1, outside \[0, 29\]"):
        mlm(input_ids=[[2, -1, 3]])


def test_sequence_longer_than_max_position_embeddings_says_truncate(mlm):
    with pytest.raises(ValueError, match=r"17 tokens but max_position_embeddings is 16; truncate it .*max_length=16"):
        mlm(input_ids=np.full((1, 17), 5))


def test_one_dimensional_ids_ask_for_a_batch_axis(mlm):
    with pytest.raises(ValueError, match=r"input_ids has shape \(4,\); the model wants \[batch, seq\]: add a batch axis"):
        mlm(input_ids=IDS[0])


def test_float_ids_are_rejected(mlm):
    with pytest.raises(TypeError, match="input_ids must hold integers .* got dtype float64"):
        mlm(input_ids=IDS.astype(float))


def test_ragged_batch_asks_for_padding(mlm):
    with pytest.raises(ValueError, match="ragged.*padding=True"):
        mlm(input_ids=[[2, 5, 3], [2, 3]])


def test_mask_of_the_wrong_shape_is_named(mlm):
    with pytest.raises(ValueError, match=r"attention_mask has shape \(1, 3\) but input_ids/inputs_embeds have \(1, 4\)"):
        mlm(input_ids=IDS, attention_mask=[[1, 1, 1]])


def test_token_type_outside_type_vocab_is_rejected(mlm):
    with pytest.raises(ValueError, match=r"token_type_ids holds 2, outside \[0, 1\]; the model has type_vocab_size=2"):
        mlm(input_ids=IDS, token_type_ids=[[0, 0, 1, 2]])


def test_position_ids_past_the_table_are_rejected(mlm):
    with pytest.raises(ValueError, match=r"position_ids holds 16, outside \[0, 15\]"):
        mlm(input_ids=IDS, position_ids=[[0, 1, 2, 16]])


def test_inputs_embeds_with_hidden_size_instead_of_embedding_size_is_explained(mlm):
    with pytest.raises(ValueError, match=r"inputs_embeds must be \[batch, seq, embedding_size=8\].*before the E -> H projection"):
        mlm(inputs_embeds=np.zeros((1, 4, 12)))


def test_ids_and_embeds_together_are_rejected(mlm):
    with pytest.raises(ValueError, match="exactly one of input_ids or inputs_embeds"):
        mlm(input_ids=IDS, inputs_embeds=np.zeros((1, 4, 8)))
    with pytest.raises(ValueError, match="exactly one of input_ids or inputs_embeds"):
        mlm()


def test_label_outside_vocabulary_suggests_minus_100(mlm):
    with pytest.raises(ValueError, match=r"labels holds 99, outside \[0, 29\]; use -100 for positions that should not count"):
        mlm(input_ids=IDS, labels=[[-100, 99, -100, -100]])


def test_labels_of_the_wrong_shape_are_named(mlm):
    with pytest.raises(ValueError, match=r"labels has shape \(3,\); expected \(4,\)"):
        mlm(input_ids=IDS, labels=[1, 2, 3])


def test_multiple_choice_needs_three_dimensional_ids():
    model = an.AlbertForMultipleChoice(tiny_config())
    with pytest.raises(ValueError, match=r"the model wants \[batch, num_choices, seq\]: add a batch axis"):
        model(input_ids=IDS)


def test_backward_before_forward_and_without_loss_explain_what_to_do(mlm):
    fresh = an.AlbertForMaskedLM(tiny_config())
    with pytest.raises(RuntimeError, match="backward\\(\\) needs a forward pass first"):
        fresh.backward()
    fresh(input_ids=IDS)
    with pytest.raises(RuntimeError, match=r"no loss; pass labels to AlbertForMaskedLM or give backward\(\) the gradients"):
        fresh.backward()
    with pytest.raises(ValueError, match=r"no differentiable output 'pooler_output'"):
        fresh.backward({"pooler_output": np.zeros((1, 12))})
    with pytest.raises(ValueError, match=r"the gradient for 'logits' has shape \(1, 4\), but logits has shape \(1, 4, 30\)"):
        fresh.backward({"logits": np.zeros((1, 4))})


def test_backward_after_a_no_grad_forward_is_explained():
    model = an.AlbertForMaskedLM(tiny_config())
    with an.no_grad():
        model(input_ids=IDS, labels=IDS)
    with pytest.raises(RuntimeError, match=r"last forward ran under albert_np.no_grad\(\), which keeps no caches"):
        model.backward()


def test_requires_grad_says_whether_a_forward_keeps_a_tape_and_there_is_no_torch_style_setter():
    # torch's requires_grad_(False) freezes weights; albert_np has no frozen weights, so it offers no such name.
    model = an.AlbertForMaskedLM(tiny_config())
    assert model.requires_grad
    with an.no_grad():
        assert not model.requires_grad
    assert model.requires_grad
    assert not hasattr(model, "requires_grad_")


def test_unknown_activation_lists_the_supported_ones():
    with pytest.raises(ValueError, match=r"hidden_act 'gelu_42' is not supported by albert_np; use one of \['gelu'"):
        an.AlbertModel(tiny_config(hidden_act="gelu_42"))


def test_config_rejects_hidden_size_not_divisible_by_heads():
    with pytest.raises(ValueError, match=r"hidden_size \(10\) must be a multiple of num_attention_heads \(3\)"):
        tiny_config(hidden_size=10)


def test_config_rejects_more_groups_than_layers():
    with pytest.raises(ValueError, match=r"num_hidden_groups \(4\) cannot exceed num_hidden_layers \(3\)"):
        tiny_config(num_hidden_groups=4)


def test_question_answering_needs_two_labels():
    with pytest.raises(ValueError, match="needs num_labels=2"):
        an.AlbertForQuestionAnswering(tiny_config(num_labels=3))


def test_unknown_backend_and_bad_dtype_are_named():
    with pytest.raises(ValueError, match="unknown backend 'torch'"):
        an.AlbertModel(tiny_config(), backend="torch")
    with pytest.raises(ValueError, match=r"dtype must be one of \('float32', 'float64'\), got 'float16'"):
        an.AlbertModel(tiny_config(), dtype="float16")


def test_missing_cupy_gives_the_install_hint():
    try:
        import cupy  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match=r"pip install 'albert_np\[cupy\]'"):
            an.AlbertModel(tiny_config(), backend="cupy")
    else:
        pytest.skip("CuPy is installed here")
