"""Model outputs with transformers' names: read them as attributes (`out.logits`) or keys (`out["logits"]`)."""

from __future__ import annotations

from typing import Any

from ._types import Array


class ModelOutput(dict):
    """A dict of the fields that are set; an unset field reads as None through its attribute, as in transformers."""

    fields: tuple = ()

    def __init__(self, **values):
        unknown = set(values) - set(self.fields)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field(s) {sorted(unknown)}")
        super().__init__((k, values[k]) for k in self.fields if values.get(k) is not None)

    def __getattr__(self, name: str) -> Any:
        if name in type(self).fields:
            return self.get(name)
        raise AttributeError(f"{type(self).__name__} has no field {name!r}; it has {list(type(self).fields)}")

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, (int, slice)):
            return self.to_tuple()[key]
        return super().__getitem__(key)

    def to_tuple(self) -> tuple:
        """The set fields in declaration order, like transformers' `return_dict=False`."""
        return tuple(self[k] for k in self.fields if k in self)


# Every output also has `trace` (set with output_trace=True): {name: intermediate tensor} in the order the forward
# computed them, under transformers' module paths; docs/trace.md lists every name and shape.


class BaseModelOutputWithPooling(ModelOutput):
    fields = ("last_hidden_state", "pooler_output", "hidden_states", "attentions", "trace")
    last_hidden_state: Array
    pooler_output: Array | None
    hidden_states: tuple[Array, ...] | None
    attentions: tuple[Array, ...] | None
    trace: dict[str, Array] | None


class AlbertForPreTrainingOutput(ModelOutput):
    fields = ("loss", "prediction_logits", "sop_logits", "hidden_states", "attentions", "trace")
    loss: Array | None
    prediction_logits: Array
    sop_logits: Array
    hidden_states: tuple[Array, ...] | None
    attentions: tuple[Array, ...] | None
    trace: dict[str, Array] | None


class MaskedLMOutput(ModelOutput):
    fields = ("loss", "logits", "hidden_states", "attentions", "trace")
    loss: Array | None
    logits: Array
    hidden_states: tuple[Array, ...] | None
    attentions: tuple[Array, ...] | None
    trace: dict[str, Array] | None


class SequenceClassifierOutput(ModelOutput):
    fields = ("loss", "logits", "hidden_states", "attentions", "trace")
    loss: Array | None
    logits: Array
    hidden_states: tuple[Array, ...] | None
    attentions: tuple[Array, ...] | None
    trace: dict[str, Array] | None


class TokenClassifierOutput(ModelOutput):
    fields = ("loss", "logits", "hidden_states", "attentions", "trace")
    loss: Array | None
    logits: Array
    hidden_states: tuple[Array, ...] | None
    attentions: tuple[Array, ...] | None
    trace: dict[str, Array] | None


class MultipleChoiceModelOutput(ModelOutput):
    fields = ("loss", "logits", "hidden_states", "attentions", "trace")
    loss: Array | None
    logits: Array
    hidden_states: tuple[Array, ...] | None
    attentions: tuple[Array, ...] | None
    trace: dict[str, Array] | None


class QuestionAnsweringModelOutput(ModelOutput):
    fields = ("loss", "start_logits", "end_logits", "hidden_states", "attentions", "trace")
    loss: Array | None
    start_logits: Array
    end_logits: Array
    hidden_states: tuple[Array, ...] | None
    attentions: tuple[Array, ...] | None
    trace: dict[str, Array] | None
