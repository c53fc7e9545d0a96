"""The seven ALBERT model classes of transformers: the encoder (pretrained.py, layers.py) plus one head each (heads.py).

Read it beside transformers' modeling_albert.py. The data flow for one batch (N = batch * seq rows):

    ids -> word + token-type + position embeddings [N, E] -> LayerNorm -> E->H projection [N, H]
        -> num_hidden_layers times: one layer group (inner_group_num AlbertLayers, shared weights)
        -> last_hidden_state [N, H] -> pooler (tanh of a linear map of the first token) [B, H] -> heads

Each forward validates its inputs (inputs.py), runs the encoder, runs its head, picks its loss, and leaves the
head's caches and loss terms on this thread's tape; `_head_backward` is the head's part of backward().
"""

from __future__ import annotations

from typing import Any

from . import heads, losses, ops
from ._types import ArrayLike
from .checkpoint import linear_shapes, mlm_head_shapes
from .config import AlbertConfig
from .inputs import prepare_labels, to_host
from .outputs import (
    AlbertForPreTrainingOutput, BaseModelOutputWithPooling, MaskedLMOutput, MultipleChoiceModelOutput,
    QuestionAnsweringModelOutput, SequenceClassifierOutput, TokenClassifierOutput,
)
from .pretrained import AlbertPreTrainedModel, LossTerm


def _require_tied(cfg):
    if not cfg.tie_word_embeddings:
        raise ValueError(
            "albert_np ties the MLM decoder to the word embeddings (tie_word_embeddings=True, as every published "
            "ALBERT checkpoint does); this config sets tie_word_embeddings=False"
        )


def _flat_logit_gradient(xp, dlogits, vocab_size):
    # the MLM logits' gradient as [N, V]: the loss's ops.RowGradient already has that shape; an array given to
    # backward(grad_outputs) as [B, S, V] is reshaped
    return dlogits if isinstance(dlogits, ops.RowGradient) else xp.reshape(dlogits, (-1, vocab_size))


class AlbertModel(AlbertPreTrainedModel):
    """The bare encoder: `last_hidden_state` [B, S, H] and `pooler_output` [B, H]."""

    is_base_model = True
    output_names = ("last_hidden_state", "pooler_output")

    def __init__(self, config: AlbertConfig, dtype: str = "float32", backend: Any = "numpy", seed: int | None = None,
                 params: dict | None = None, add_pooling_layer: bool = True):
        self.add_pooling_layer = add_pooling_layer
        super().__init__(config, dtype=dtype, backend=backend, seed=seed, params=params)

    def forward(self, input_ids: ArrayLike | None = None, attention_mask: ArrayLike | None = None,
                token_type_ids: ArrayLike | None = None, position_ids: ArrayLike | None = None,
                inputs_embeds: ArrayLike | None = None, output_hidden_states: bool | None = None,
                output_attentions: bool | None = None, output_trace: bool = False,
                return_dict: bool | None = None) -> BaseModelOutputWithPooling | tuple:
        batch = self._prepare(input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds)
        trace = {} if output_trace else None
        seq, pooled, hs, att = self._run_albert(batch, output_hidden_states, output_attentions, trace)
        last = self.xp.reshape(seq, (batch.batch_size, batch.seq_len, self.config.hidden_size))
        return self._finish(return_dict,
                            BaseModelOutputWithPooling, batch, inputs_embeds, trace, last_hidden_state=last,
                            pooler_output=pooled, hidden_states=hs, attentions=att)

    def _output_shapes(self, tape):
        # computed from the batch, so model.albert can differentiate its parent's forward too
        B, S, H = tape.batch.batch_size, tape.batch.seq_len, self.config.hidden_size
        return {"last_hidden_state": (B, S, H), **({"pooler_output": (B, H)} if tape.pooler is not None else {})}

    def _head_backward(self, douts, tape, grads, trace_grad):
        d = douts.get("last_hidden_state")
        dseq = None if d is None else self.xp.reshape(d, (-1, self.config.hidden_size))
        return dseq, douts.get("pooler_output")


class AlbertForPreTraining(AlbertPreTrainedModel):
    """MLM head (`prediction_logits`) and sentence-order head (`sop_logits`); loss = MLM CE + SOP CE."""

    output_names = ("prediction_logits", "sop_logits")

    def head_shapes(self) -> dict:
        return {**mlm_head_shapes(self.config),
                **linear_shapes("sop_classifier.classifier", self.config.num_labels, self.config.hidden_size)}

    def _check_head_config(self):
        _require_tied(self.config)

    def forward(self, input_ids: ArrayLike | None = None, attention_mask: ArrayLike | None = None,
                token_type_ids: ArrayLike | None = None, position_ids: ArrayLike | None = None,
                inputs_embeds: ArrayLike | None = None, labels: ArrayLike | None = None,
                sentence_order_label: ArrayLike | None = None, output_hidden_states: bool | None = None,
                output_attentions: bool | None = None, output_trace: bool = False,
                return_dict: bool | None = None) -> AlbertForPreTrainingOutput | tuple:
        bk, xp, cfg = self.backend, self.xp, self.config
        if (labels is None) != (sentence_order_label is None):
            given = "labels" if labels is not None else "sentence_order_label"
            raise ValueError(f"AlbertForPreTraining got {given} alone; its loss needs both labels (masked tokens) "
                             "and sentence_order_label (0 or 1 per sequence), or neither for logits only")
        batch = self._prepare(input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds)
        B, S = batch.batch_size, batch.seq_len
        trace = {} if output_trace else None
        seq, pooled, hs, att = self._run_albert(batch, output_hidden_states, output_attentions, trace)
        word = self.prefix + "embeddings.word_embeddings.weight"
        logits, mlm_cache = heads.mlm_head_forward(bk, self.params, cfg, self.activation, seq, word, (B, S), trace)
        sop, sop_cache = heads.classifier_forward(bk, self.params, "sop_classifier.classifier", pooled,
                                                  cfg.classifier_dropout_prob, self.training, (B, cfg.num_labels),
                                                  trace, "sop_classifier")
        loss = terms = None
        if labels is not None:
            if cfg.num_labels != 2:
                raise ValueError(f"sentence-order prediction has 2 classes but config.num_labels is {cfg.num_labels}")
            y = prepare_labels(bk, labels, "labels", (B * S,), "class", cfg.vocab_size)
            s = prepare_labels(bk, sentence_order_label, "sentence_order_label", (B,), "class", 2)
            mlm_loss, mlm_loss_cache = losses.cross_entropy_forward(bk, logits, y)
            sop_loss, sop_loss_cache = losses.cross_entropy_forward(bk, sop, s)
            loss = mlm_loss + sop_loss
            terms = [LossTerm("prediction_logits", losses.cross_entropy_row_gradient, 1.0, mlm_loss_cache),
                     LossTerm("sop_logits", losses.cross_entropy_backward, 1.0, sop_loss_cache)]
        prediction_logits = xp.reshape(logits, (B, S, cfg.vocab_size))
        return self._finish(return_dict,
                            AlbertForPreTrainingOutput, batch, inputs_embeds, trace, (mlm_cache, sop_cache), loss,
                            terms, prediction_logits=prediction_logits, sop_logits=sop, hidden_states=hs,
                            attentions=att)

    def _head_backward(self, douts, tape, grads, trace_grad):
        mlm_cache, sop_cache = tape.head
        dseq = dpooled = None
        if "prediction_logits" in douts:
            dlogits = _flat_logit_gradient(self.xp, douts["prediction_logits"], self.config.vocab_size)
            dseq = heads.mlm_head_backward(self.backend, dlogits, mlm_cache, self.activation,
                                           self.prefix + "embeddings.word_embeddings.weight", grads, trace_grad)
        if "sop_logits" in douts:
            dpooled = heads.classifier_backward(self.backend, douts["sop_logits"], sop_cache,
                                                "sop_classifier.classifier", grads, trace_grad, "sop_classifier")
        return dseq, dpooled


class AlbertForMaskedLM(AlbertPreTrainedModel):
    """Masked-language-model logits [B, S, V]; loss = CE over positions whose label is not -100."""

    add_pooling_layer = False
    output_names = ("logits",)

    def head_shapes(self) -> dict:
        return mlm_head_shapes(self.config)

    def _check_head_config(self):
        _require_tied(self.config)

    def forward(self, input_ids: ArrayLike | None = None, attention_mask: ArrayLike | None = None,
                token_type_ids: ArrayLike | None = None, position_ids: ArrayLike | None = None,
                inputs_embeds: ArrayLike | None = None, labels: ArrayLike | None = None,
                output_hidden_states: bool | None = None, output_attentions: bool | None = None,
                output_trace: bool = False, return_dict: bool | None = None) -> MaskedLMOutput | tuple:
        cfg = self.config
        batch = self._prepare(input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds)
        B, S = batch.batch_size, batch.seq_len
        trace = {} if output_trace else None
        seq, _, hs, att = self._run_albert(batch, output_hidden_states, output_attentions, trace)
        word = self.prefix + "embeddings.word_embeddings.weight"
        logits, head_cache = heads.mlm_head_forward(self.backend, self.params, cfg, self.activation, seq, word,
                                                    (B, S), trace)
        loss, terms = self._token_loss(logits, labels, batch, cfg.vocab_size, "logits",
                                       losses.cross_entropy_row_gradient)
        logits = self.xp.reshape(logits, (B, S, cfg.vocab_size))
        return self._finish(return_dict,
                            MaskedLMOutput, batch, inputs_embeds, trace, head_cache, loss, terms, logits=logits,
                            hidden_states=hs, attentions=att)

    def _head_backward(self, douts, tape, grads, trace_grad):
        dlogits = _flat_logit_gradient(self.xp, douts["logits"], self.config.vocab_size)
        dseq = heads.mlm_head_backward(self.backend, dlogits, tape.head, self.activation,
                                       self.prefix + "embeddings.word_embeddings.weight", grads, trace_grad)
        return dseq, None


class AlbertForSequenceClassification(AlbertPreTrainedModel):
    """Logits [B, num_labels] from the pooled [CLS] vector; MSE, CE or BCE-with-logits chosen like transformers."""

    output_names = ("logits",)

    def head_shapes(self) -> dict:
        return linear_shapes("classifier", self.config.num_labels, self.config.hidden_size)

    def forward(self, input_ids: ArrayLike | None = None, attention_mask: ArrayLike | None = None,
                token_type_ids: ArrayLike | None = None, position_ids: ArrayLike | None = None,
                inputs_embeds: ArrayLike | None = None, labels: ArrayLike | None = None,
                output_hidden_states: bool | None = None, output_attentions: bool | None = None,
                output_trace: bool = False, return_dict: bool | None = None) -> SequenceClassifierOutput | tuple:
        cfg = self.config
        batch = self._prepare(input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds)
        trace = {} if output_trace else None
        _, pooled, hs, att = self._run_albert(batch, output_hidden_states, output_attentions, trace)
        logits, head_cache = heads.classifier_forward(self.backend, self.params, "classifier", pooled,
                                                      cfg.classifier_dropout_prob, self.training,
                                                      (batch.batch_size, cfg.num_labels), trace)
        loss = terms = None
        if labels is not None:
            loss, terms = self._loss(logits, labels, batch.batch_size)
        return self._finish(return_dict, SequenceClassifierOutput, batch, inputs_embeds, trace, head_cache, loss, terms,
                            logits=logits, hidden_states=hs, attentions=att)

    def problem_type_for(self, labels: ArrayLike) -> str:
        """config.problem_type if set, else transformers' rule for these labels: 1 label -> regression; int labels
        -> single-label; else multi-label. Decided per call and not written into the config, so a later call
        with other labels gets its own answer."""
        if self.config.problem_type is not None:
            return self.config.problem_type
        host = to_host(self.backend, labels, "labels")
        if self.config.num_labels == 1:
            return "regression"
        if host.dtype.kind == "i" and host.dtype.itemsize in (4, 8):
            return "single_label_classification"  # torch.long or torch.int labels
        return "multi_label_classification"

    def _loss(self, logits, labels, B):
        bk, n = self.backend, self.config.num_labels
        kind = self.problem_type_for(labels)
        if kind == "regression":
            y = prepare_labels(bk, labels, "labels", (B, n), "float", dtype=self.dtype)
            forward, backward = losses.mse_forward, losses.mse_backward
        elif kind == "single_label_classification":
            y = prepare_labels(bk, labels, "labels", (B,), "class", n)
            forward, backward = losses.cross_entropy_forward, losses.cross_entropy_backward
        else:
            y = prepare_labels(bk, labels, "labels", (B, n), "float", dtype=self.dtype)
            forward, backward = losses.bce_with_logits_forward, losses.bce_with_logits_backward
        loss, cache = forward(bk, logits, y)
        return loss, [LossTerm("logits", backward, 1.0, cache)]

    def _head_backward(self, douts, tape, grads, trace_grad):
        return None, heads.classifier_backward(self.backend, douts["logits"], tape.head, "classifier", grads, trace_grad)


class AlbertForMultipleChoice(AlbertPreTrainedModel):
    """Inputs [B, C, S]; one score per choice from the pooled vector, logits [B, C]; loss = CE over choices."""

    output_names = ("logits",)

    def head_shapes(self) -> dict:
        return linear_shapes("classifier", 1, self.config.hidden_size)

    def forward(self, input_ids: ArrayLike | None = None, attention_mask: ArrayLike | None = None,
                token_type_ids: ArrayLike | None = None, position_ids: ArrayLike | None = None,
                inputs_embeds: ArrayLike | None = None, labels: ArrayLike | None = None,
                output_hidden_states: bool | None = None, output_attentions: bool | None = None,
                output_trace: bool = False, return_dict: bool | None = None) -> MultipleChoiceModelOutput | tuple:
        bk, cfg = self.backend, self.config
        batch = self._prepare(input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds, ndim=3)
        B, C = batch.lead_shape
        trace = {} if output_trace else None
        _, pooled, hs, att = self._run_albert(batch, output_hidden_states, output_attentions, trace)  # [B*C, H]
        scores, head_cache = heads.classifier_forward(bk, self.params, "classifier", pooled, cfg.classifier_dropout_prob,
                                                      self.training, (B * C, 1), trace)
        logits = self.xp.reshape(scores, (B, C))
        loss = terms = None
        if labels is not None:
            y = prepare_labels(bk, labels, "labels", (B,), "class", C)
            loss, cache = losses.cross_entropy_forward(bk, logits, y)
            terms = [LossTerm("logits", losses.cross_entropy_backward, 1.0, cache)]
        return self._finish(return_dict,
                            MultipleChoiceModelOutput, batch, inputs_embeds, trace, head_cache, loss, terms,
                            logits=logits, hidden_states=hs, attentions=att)

    def _head_backward(self, douts, tape, grads, trace_grad):
        dscores = self.xp.reshape(douts["logits"], (-1, 1))
        return None, heads.classifier_backward(self.backend, dscores, tape.head, "classifier", grads, trace_grad)


class AlbertForTokenClassification(AlbertPreTrainedModel):
    """Logits [B, S, num_labels] for every token; loss = CE over tokens whose label is not -100."""

    add_pooling_layer = False
    output_names = ("logits",)

    def head_shapes(self) -> dict:
        return linear_shapes("classifier", self.config.num_labels, self.config.hidden_size)

    def forward(self, input_ids: ArrayLike | None = None, attention_mask: ArrayLike | None = None,
                token_type_ids: ArrayLike | None = None, position_ids: ArrayLike | None = None,
                inputs_embeds: ArrayLike | None = None, labels: ArrayLike | None = None,
                output_hidden_states: bool | None = None, output_attentions: bool | None = None,
                output_trace: bool = False, return_dict: bool | None = None) -> TokenClassifierOutput | tuple:
        cfg = self.config
        batch = self._prepare(input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds)
        B, S, n = batch.batch_size, batch.seq_len, cfg.num_labels
        trace = {} if output_trace else None
        seq, _, hs, att = self._run_albert(batch, output_hidden_states, output_attentions, trace)
        p_drop = cfg.classifier_dropout_prob if cfg.classifier_dropout_prob is not None else cfg.hidden_dropout_prob
        logits, head_cache = heads.classifier_forward(self.backend, self.params, "classifier", seq, p_drop,
                                                      self.training, (B, S, n), trace)
        loss, terms = self._token_loss(logits, labels, batch, n, "logits")
        logits = self.xp.reshape(logits, (B, S, n))
        return self._finish(return_dict, TokenClassifierOutput, batch, inputs_embeds, trace, head_cache, loss, terms,
                            logits=logits, hidden_states=hs, attentions=att)

    def _head_backward(self, douts, tape, grads, trace_grad):
        dlogits = self.xp.reshape(douts["logits"], (-1, self.config.num_labels))
        return heads.classifier_backward(self.backend, dlogits, tape.head, "classifier", grads, trace_grad), None


class AlbertForQuestionAnswering(AlbertPreTrainedModel):
    """Span scores `start_logits`/`end_logits` [B, S]; loss = mean of the two CEs, positions past the sequence ignored."""

    add_pooling_layer = False
    output_names = ("start_logits", "end_logits")

    def head_shapes(self) -> dict:
        return linear_shapes("qa_outputs", self.config.num_labels, self.config.hidden_size)

    def _check_head_config(self):
        if self.config.num_labels != 2:
            raise ValueError(f"AlbertForQuestionAnswering needs num_labels=2 (start and end scores), got {self.config.num_labels}")

    def forward(self, input_ids: ArrayLike | None = None, attention_mask: ArrayLike | None = None,
                token_type_ids: ArrayLike | None = None, position_ids: ArrayLike | None = None,
                inputs_embeds: ArrayLike | None = None, start_positions: ArrayLike | None = None,
                end_positions: ArrayLike | None = None, output_hidden_states: bool | None = None,
                output_attentions: bool | None = None, output_trace: bool = False,
                return_dict: bool | None = None) -> QuestionAnsweringModelOutput | tuple:
        bk, xp = self.backend, self.xp
        if (start_positions is None) != (end_positions is None):
            given = "start_positions" if start_positions is not None else "end_positions"
            raise ValueError(f"AlbertForQuestionAnswering got {given} alone; its loss needs both start_positions "
                             "and end_positions, or neither for logits only")
        batch = self._prepare(input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds)
        B, S = batch.batch_size, batch.seq_len
        trace = {} if output_trace else None
        seq, _, hs, att = self._run_albert(batch, output_hidden_states, output_attentions, trace)
        logits, head_cache = heads.classifier_forward(bk, self.params, "qa_outputs", seq, 0.0, self.training,
                                                      (B, S, 2), trace)                   # no dropout in this head
        start, end = xp.reshape(logits[:, 0], (B, S)), xp.reshape(logits[:, 1], (B, S))
        loss = terms = None
        if start_positions is not None:
            # Positions outside the input are clamped to S and then ignored, as in transformers.
            s = xp.clip(prepare_labels(bk, start_positions, "start_positions", (B,), "position"), 0, S)
            e = xp.clip(prepare_labels(bk, end_positions, "end_positions", (B,), "position"), 0, S)
            start_loss, start_cache = losses.cross_entropy_forward(bk, start, s, ignore_index=S)
            end_loss, end_cache = losses.cross_entropy_forward(bk, end, e, ignore_index=S)
            loss = (start_loss + end_loss) / 2
            terms = [LossTerm("start_logits", losses.cross_entropy_backward, 0.5, start_cache),
                     LossTerm("end_logits", losses.cross_entropy_backward, 0.5, end_cache)]
        return self._finish(return_dict,
                            QuestionAnsweringModelOutput, batch, inputs_embeds, trace, head_cache, loss, terms,
                            start_logits=start, end_logits=end, hidden_states=hs, attentions=att)

    def _head_backward(self, douts, tape, grads, trace_grad):
        xp, B, S = self.xp, tape.batch.batch_size, tape.batch.seq_len
        zeros = lambda: self.backend.zeros((B, S), self._xp_dtype)  # noqa: E731
        ds = douts["start_logits"] if "start_logits" in douts else zeros()
        de = douts["end_logits"] if "end_logits" in douts else zeros()
        dlogits = xp.stack((xp.reshape(ds, (-1,)), xp.reshape(de, (-1,))), axis=1)   # [N, 2]
        return heads.classifier_backward(self.backend, dlogits, tape.head, "qa_outputs", grads, trace_grad), None


ALL_MODEL_CLASSES = (
    AlbertModel,
    AlbertForPreTraining,
    AlbertForMaskedLM,
    AlbertForSequenceClassification,
    AlbertForMultipleChoice,
    AlbertForTokenClassification,
    AlbertForQuestionAnswering,
)
