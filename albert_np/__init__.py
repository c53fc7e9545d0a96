"""albert_np: ALBERT written by hand in NumPy (or CuPy), forward and backward, at parity with transformers."""

from .backend import Backend, get_backend, to_numpy
from .checkpoint import CheckpointError
from .config import AlbertConfig
from .modeling import (
    ALL_MODEL_CLASSES,
    AlbertForMaskedLM,
    AlbertForMultipleChoice,
    AlbertForPreTraining,
    AlbertForQuestionAnswering,
    AlbertForSequenceClassification,
    AlbertForTokenClassification,
    AlbertModel,
    AlbertPreTrainedModel,
)

__version__ = "0.1.0"

__all__ = [
    "ALL_MODEL_CLASSES",
    "AlbertConfig",
    "AlbertForMaskedLM",
    "AlbertForMultipleChoice",
    "AlbertForPreTraining",
    "AlbertForQuestionAnswering",
    "AlbertForSequenceClassification",
    "AlbertForTokenClassification",
    "AlbertModel",
    "AlbertPreTrainedModel",
    "Backend",
    "CheckpointError",
    "get_backend",
    "to_numpy",
]
