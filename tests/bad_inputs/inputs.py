"""Bad model inputs: ids, shapes, masks, labels, keywords of every head's forward and backward, and from_pretrained."""

import numpy as np

import albert_np as an
from bad_inputs import Case
from factory import tiny_config

IDS = np.array([[5, 6, 7, 8], [9, 10, 11, 12]])      # [B=2, S=4]
MC_IDS = IDS[:, None, :].repeat(3, axis=1)            # [B=2, C=3, S=4]


def model(cls=an.AlbertForMaskedLM, **overrides):
    cfg = tiny_config(**overrides)
    return cls(cfg, seed=0)


def call(cls=an.AlbertForMaskedLM, config=None, **kwargs):
    """run(tmp) for a forward of a fresh `cls` with `kwargs`."""
    return lambda tmp: model(cls, **(config or {}))(**kwargs)


def backward(cls=an.AlbertForMaskedLM, forward=None, grads=None, config=None):
    """run(tmp) for backward(grads) after a forward with `forward` kwargs (None: no forward at all)."""
    def run(tmp):
        m = model(cls, **(config or {}))
        if forward is not None:
            m(**forward)
        return m.backward(grads)
    return run


def saved(tmp):
    an.AlbertForSequenceClassification(tiny_config(), seed=0).save_pretrained(tmp / "ckpt")


def load(**kwargs):
    return lambda tmp: an.AlbertForSequenceClassification.from_pretrained(tmp / "ckpt", **kwargs)


def mask(values):
    m = np.ones(IDS.shape, dtype=np.asarray(values).dtype)
    m[1, -2:] = values
    return m


SEQ, TOK, QA, MC, PT, BASE = (an.AlbertForSequenceClassification, an.AlbertForTokenClassification,
                              an.AlbertForQuestionAnswering, an.AlbertForMultipleChoice, an.AlbertForPreTraining,
                              an.AlbertModel)

CASES = [
    # ---- ids and embeddings ----
    Case("no_ids_no_embeds", call(), ValueError, r"exactly one of input_ids or inputs_embeds"),
    Case("ids_and_embeds", call(input_ids=IDS, inputs_embeds=np.zeros((2, 4, 8))), ValueError,
         r"exactly one of input_ids or inputs_embeds"),
    Case("ids_float", call(input_ids=IDS.astype(float)), TypeError, r"input_ids must hold integers.*float64"),
    Case("ids_strings", call(input_ids=np.array([["a", "b"]])), TypeError, r"input_ids must hold numbers"),
    Case("ids_1d", call(input_ids=IDS[0]), ValueError, r"input_ids has shape \(4,\).*add a batch axis"),
    Case("ids_3d", call(input_ids=IDS[None]), ValueError, r"input_ids must be \[batch, seq\], got shape \(1, 2, 4\)"),
    Case("ids_ragged", call(input_ids=[[5, 6, 7], [8]]), ValueError, r"input_ids is ragged.*padding=True"),
    Case("ids_empty", call(input_ids=np.zeros((2, 0), dtype=int)), ValueError, r"the input is empty.*at least one token"),
    Case("ids_negative", call(input_ids=-IDS), ValueError, r"input_ids holds -12, outside \[0, 29\]"),
    Case("ids_past_vocab", call(input_ids=IDS + 100), ValueError, r"input_ids holds 112, outside \[0, 29\].*tokenizer"),
    Case("seq_past_max_positions", call(input_ids=np.ones((1, 17), dtype=int)), ValueError,
         r"17 tokens but max_position_embeddings is 16; truncate"),
    Case("embeds_wrong_width", call(inputs_embeds=np.zeros((2, 4, 12))), ValueError,
         r"inputs_embeds must be \[batch, seq, embedding_size=8\], got shape \(2, 4, 12\)"),
    Case("token_type_out_of_range", call(input_ids=IDS, token_type_ids=np.full(IDS.shape, 2)), ValueError,
         r"token_type_ids holds 2, outside \[0, 1\].*type_vocab_size=2"),
    Case("token_type_wrong_shape", call(input_ids=IDS, token_type_ids=np.zeros((2, 3), dtype=int)), ValueError,
         r"token_type_ids has shape \(2, 3\) but input_ids/inputs_embeds have \(2, 4\)"),
    Case("position_ids_past_max", call(input_ids=IDS, position_ids=np.array([0, 1, 2, 16])), ValueError,
         r"position_ids holds 16, outside \[0, 15\]"),
    Case("position_ids_float", call(input_ids=IDS, position_ids=np.arange(4.0)), TypeError,
         r"position_ids must hold integers"),
    # ---- attention_mask ----
    Case("attention_mask_minus_one", call(input_ids=IDS, attention_mask=mask(-1)), ValueError,
         r"attention_mask holds -1; it must hold only 1 .* and 0 \(padding\)"),
    Case("attention_mask_two", call(input_ids=IDS, attention_mask=mask(2)), ValueError, r"attention_mask holds 2;"),
    Case("attention_mask_half", call(input_ids=IDS, attention_mask=mask(0.5)), ValueError,
         r"attention_mask holds 0.5;.*\(mask > 0\)"),
    Case("attention_mask_nan", call(input_ids=IDS, attention_mask=mask(np.nan)), ValueError, r"attention_mask holds nan"),
    Case("attention_mask_wrong_shape", call(input_ids=IDS, attention_mask=np.ones((2, 5))), ValueError,
         r"attention_mask has shape \(2, 5\) but input_ids/inputs_embeds have \(2, 4\)"),
    Case("attention_mask_strings", call(input_ids=IDS, attention_mask=np.array([["1"] * 4] * 2)), TypeError,
         r"attention_mask must hold numbers"),
    # ---- labels of every head ----
    Case("mlm_labels_wrong_shape", call(input_ids=IDS, labels=IDS[:, :3]), ValueError, r"labels has shape \(2, 3\); expected \(8,\)"),
    Case("mlm_labels_past_vocab", call(input_ids=IDS, labels=IDS + 30), ValueError,
         r"labels holds 35, outside \[0, 29\]; use -100"),
    Case("mlm_labels_float", call(input_ids=IDS, labels=IDS.astype(float)), TypeError, r"labels must hold integers"),
    Case("pretraining_labels_alone", call(PT, input_ids=IDS, labels=IDS), ValueError,
         r"got labels alone; its loss needs both labels .* and sentence_order_label"),
    Case("pretraining_sop_label_two", call(PT, input_ids=IDS, labels=IDS, sentence_order_label=np.array([0, 2])),
         ValueError, r"sentence_order_label holds 2, outside \[0, 1\]"),
    Case("seq_cls_label_past_num_labels", call(SEQ, input_ids=IDS, labels=np.array([0, 2])), ValueError,
         r"labels holds 2, outside \[0, 1\]"),
    Case("seq_cls_labels_wrong_count", call(SEQ, input_ids=IDS, labels=np.array([0, 1, 1])), ValueError,
         r"labels has shape \(3,\); expected \(2,\)"),
    Case("seq_cls_regression_labels_wrong_count", call(SEQ, config=dict(num_labels=1), input_ids=IDS,
                                                        labels=np.array([0.5, 1.0, 2.0])),
         ValueError, r"labels has shape \(3,\); expected \(2, 1\)"),
    Case("multi_label_labels_wrong_shape", call(SEQ, input_ids=IDS, labels=np.zeros((2, 3))), ValueError,
         r"labels has shape \(2, 3\); expected \(2, 2\)"),
    Case("multiple_choice_2d_ids", call(MC, input_ids=IDS), ValueError,
         r"input_ids has shape \(2, 4\); the model wants \[batch, num_choices, seq\]"),
    Case("multiple_choice_label_past_choices", call(MC, input_ids=MC_IDS, labels=np.array([0, 3])), ValueError,
         r"labels holds 3, outside \[0, 2\]"),
    Case("token_cls_labels_wrong_shape", call(TOK, input_ids=IDS, labels=np.zeros((2, 5), dtype=int)), ValueError,
         r"labels has shape \(2, 5\); expected \(8,\)"),
    Case("qa_start_alone", call(QA, input_ids=IDS, start_positions=np.array([0, 1])), ValueError,
         r"got start_positions alone; its loss needs both start_positions and end_positions"),
    Case("qa_positions_float", call(QA, input_ids=IDS, start_positions=np.array([0.0, 1.0]),
                                    end_positions=np.array([1, 2])), TypeError, r"start_positions must hold integers"),
    Case("qa_three_labels", lambda tmp: model(QA, num_labels=3), ValueError, r"needs num_labels=2"),
    Case("unknown_forward_keyword", call(input_ids=IDS, label=IDS), TypeError, r"unexpected keyword argument 'label'"),
    # ---- backward ----
    Case("backward_before_forward", backward(), RuntimeError, r"needs a forward pass first"),
    Case("backward_without_loss", backward(forward=dict(input_ids=IDS)), RuntimeError,
         r"computed no loss; pass labels to AlbertForMaskedLM or give backward\(\) the gradients"),
    Case("backward_unknown_grad_key", backward(forward=dict(input_ids=IDS), grads={"logit": np.zeros((2, 4, 30))}),
         ValueError, r"has no differentiable output 'logit'; it has \['logits'\]"),
    Case("backward_grad_wrong_shape", backward(forward=dict(input_ids=IDS), grads={"logits": np.zeros((2, 4))}),
         ValueError, r"the gradient for 'logits' has shape \(2, 4\), but logits has shape \(2, 4, 30\)"),
    Case("backward_base_pooler_grad_wrong_shape", backward(BASE, forward=dict(input_ids=IDS),
                                                           grads={"pooler_output": np.zeros((4, 12))}),
         ValueError, r"the gradient for 'pooler_output' has shape \(4, 12\), but pooler_output has shape \(2, 12\)"),
    Case("backward_qa_without_positions", backward(QA, forward=dict(input_ids=IDS)), RuntimeError,
         r"computed no loss; pass labels to AlbertForQuestionAnswering"),
    Case("trace_grads_without_traced_backward", lambda tmp: model().trace_grads, RuntimeError,
         r"run the model with output_trace=True, then backward\(\)"),
    # ---- from_pretrained keywords ----
    Case("from_pretrained_typo", load(dtyp="float64"), TypeError,
         r"from_pretrained\(\) got an unexpected keyword argument 'dtyp'; it accepts dtype, backend, seed and config fields",
         setup=saved),
    Case("from_pretrained_torch_dtype", load(torch_dtype="float32"), TypeError,
         r"got torch_dtype='float32'; albert_np \(like transformers 5\) calls it dtype", setup=saved),
    Case("from_pretrained_device_map", load(device_map="auto"), TypeError, r"unexpected keyword argument 'device_map'",
         setup=saved),
    Case("from_pretrained_float16", load(dtype="float16"), ValueError,
         r"dtype must be one of \('float32', 'float64'\), got 'float16'", setup=saved),
    Case("from_pretrained_extra_positional", lambda tmp: an.AlbertModel.from_pretrained(tmp / "ckpt", "float64"),
         TypeError, r"takes the folder as its only positional argument", setup=saved),
]
