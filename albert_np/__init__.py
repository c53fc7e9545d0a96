"""albert_np: ALBERT written by hand in NumPy (or CuPy), forward and backward, at parity with transformers."""

from .backend import Backend, get_backend, to_numpy
from .checkpoint import CheckpointError
from .config import AlbertConfig
from .grad_mode import is_grad_enabled, no_grad
from .optim import AdamW, TrainingDiverged, clip_grad_norm, global_norm, linear_schedule
from .lamb import LAMB, polynomial_warmup_schedule
from .tokenizer import AlbertTokenizer
from .pretrained import AlbertPreTrainedModel
from .modeling import (
    ALL_MODEL_CLASSES,
    AlbertForMaskedLM,
    AlbertForMultipleChoice,
    AlbertForPreTraining,
    AlbertForQuestionAnswering,
    AlbertForSequenceClassification,
    AlbertForTokenClassification,
    AlbertModel,
)
from .auto import AutoConfig, AutoModel, AutoModelForMaskedLM, AutoModelForMultipleChoice, AutoModelForPreTraining, AutoModelForQuestionAnswering, AutoModelForSequenceClassification, AutoModelForTokenClassification, AutoTokenizer  # noqa: E501
from .pipelines import pipeline
from .vocab import train_vocab

__version__ = "0.1.0"

__all__ = [
    "ALL_MODEL_CLASSES",
    "AdamW",
    "LAMB",
    "polynomial_warmup_schedule",
    "train_vocab",
    "AlbertConfig",
    "AlbertForMaskedLM",
    "AlbertForMultipleChoice",
    "AlbertForPreTraining",
    "AlbertForQuestionAnswering",
    "AlbertForSequenceClassification",
    "AlbertForTokenClassification",
    "AlbertModel",
    "AlbertPreTrainedModel",
    "AlbertTokenizer",
    "AutoConfig",
    "AutoModel",
    "AutoModelForMaskedLM",
    "AutoModelForMultipleChoice",
    "AutoModelForPreTraining",
    "AutoModelForQuestionAnswering",
    "AutoModelForSequenceClassification",
    "AutoModelForTokenClassification",
    "AutoTokenizer",
    "Backend",
    "TrainingDiverged",
    "CheckpointError",
    "get_backend",
    "is_grad_enabled",
    "no_grad",
    "clip_grad_norm",
    "global_norm",
    "linear_schedule",
    "pipeline",
    "to_numpy",
]
