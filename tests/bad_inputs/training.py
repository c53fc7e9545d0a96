"""Training: AdamW's settings, train()'s arguments, and runs that diverge (the weights are never updated with NaN/inf)."""

from __future__ import annotations

import numpy as np

import albert_np as an
from albert_np import train
from bad_inputs import Case


def tiny_model(seed=0):
    cfg = an.AlbertConfig(vocab_size=40, embedding_size=8, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                          intermediate_size=24, max_position_embeddings=16, classifier_dropout_prob=0.0)
    return an.AlbertForSequenceClassification(cfg, seed=seed)


def one_batch(labels=True):
    rng = np.random.default_rng(0)
    batch = {"input_ids": rng.integers(5, 40, size=(4, 6)), "attention_mask": np.ones((4, 6), dtype=np.int64)}
    if labels:
        batch["labels"] = np.array([0, 1, 0, 1])
    return batch


def endless(labels=True):
    while True:
        yield one_batch(labels)


def adamw(**settings):
    return lambda d: an.AdamW(tiny_model().parameters(), **settings)


def run_train(**kwargs):
    settings = dict(steps=2, progress=False)
    settings.update(kwargs)
    batches = settings.pop("batches", None)
    return lambda d: train.train(tiny_model(), endless() if batches is None else batches, **settings)


def set_lr(value):
    def run(d):
        optimizer = an.AdamW(tiny_model().parameters())
        optimizer.lr = value
    return run


def step_with_gradient(value):
    def run(d):
        model = tiny_model()
        optimizer = an.AdamW(model.parameters())
        grads = {name: np.zeros_like(w) for name, w in model.parameters().items()}
        grads["classifier.bias"][0] = value
        optimizer.step(grads)
    return run


NAN, INF = float("nan"), float("inf")

ADAMW = [
    Case("adamw_lr_nan", run=adamw(lr=NAN), raises=ValueError, match=r"Invalid AdamW lr: nan; it must be a finite number >= 0"),
    Case("adamw_lr_inf", run=adamw(lr=INF), raises=ValueError, match=r"Invalid AdamW lr: inf"),
    Case("adamw_lr_negative", run=adamw(lr=-1e-3), raises=ValueError, match=r"Invalid AdamW lr: -0.001.*>= 0"),
    Case("adamw_lr_string", run=adamw(lr="1e-3"), raises=ValueError, match=r"Invalid AdamW lr: '1e-3'"),
    Case("adamw_lr_none", run=adamw(lr=None), raises=ValueError, match=r"Invalid AdamW lr: None"),
    Case("adamw_lr_bool", run=adamw(lr=True), raises=ValueError, match=r"Invalid AdamW lr: True"),
    Case("adamw_beta1_one", run=adamw(betas=(1.0, 0.999)), raises=ValueError, match=r"Invalid AdamW betas\[0\]: 1.0.*in \[0, 1\)"),
    Case("adamw_beta2_one", run=adamw(betas=(0.9, 1.0)), raises=ValueError, match=r"Invalid AdamW betas\[1\]: 1.0"),
    Case("adamw_beta_negative", run=adamw(betas=(-0.1, 0.999)), raises=ValueError, match=r"Invalid AdamW betas\[0\]: -0.1"),
    Case("adamw_beta_nan", run=adamw(betas=(0.9, NAN)), raises=ValueError, match=r"Invalid AdamW betas\[1\]: nan"),
    Case("adamw_betas_one_number", run=adamw(betas=0.9), raises=ValueError, match=r"betas must be a pair .* got 0.9"),
    Case("adamw_betas_three", run=adamw(betas=(0.9, 0.99, 0.999)), raises=ValueError, match=r"betas must be a pair"),
    Case("adamw_eps_negative", run=adamw(eps=-1e-8), raises=ValueError, match=r"Invalid AdamW eps: -1e-08"),
    Case("adamw_eps_nan", run=adamw(eps=NAN), raises=ValueError, match=r"Invalid AdamW eps: nan"),
    Case("adamw_weight_decay_negative", run=adamw(weight_decay=-0.01), raises=ValueError, match=r"Invalid AdamW weight_decay: -0.01"),
    Case("adamw_weight_decay_inf", run=adamw(weight_decay=INF), raises=ValueError, match=r"Invalid AdamW weight_decay: inf"),
    Case("adamw_weight_decay_string", run=adamw(weight_decay="0.01"), raises=ValueError, match=r"Invalid AdamW weight_decay: '0.01'"),
    Case("adamw_lr_set_to_nan_later", run=set_lr(NAN), raises=ValueError, match=r"Invalid AdamW lr: nan"),
    Case("adamw_step_nan_gradient", run=step_with_gradient(NAN), raises=an.TrainingDiverged,
         match=r"AdamW step 1 would make the weight of 'classifier.bias' NaN or inf.*NOT updated"),
    Case("adamw_step_inf_gradient", run=step_with_gradient(INF), raises=an.TrainingDiverged,
         match=r"'classifier.bias' NaN or inf.*Lower the learning rate"),
    Case("adamw_step_unknown_weight", run=lambda d: an.AdamW(tiny_model().parameters()).step({"nope": np.zeros(2)}),
         raises=KeyError, match=r"gradients for unknown weights \['nope'\]"),
]

TRAIN = [
    Case("train_steps_zero", run=run_train(steps=0), raises=ValueError, match=r"train\(\) steps must be an integer >= 1, got 0"),
    Case("train_steps_float", run=run_train(steps=2.5), raises=ValueError, match=r"steps must be an integer >= 1, got 2.5"),
    Case("train_accum_zero", run=run_train(accum=0), raises=ValueError, match=r"accum must be an integer >= 1, got 0"),
    Case("train_warmup_negative", run=run_train(warmup=-1), raises=ValueError, match=r"warmup must be an integer >= 0, got -1"),
    Case("train_eval_every_negative", run=run_train(eval_every=-5), raises=ValueError, match=r"eval_every must be an integer >= 0"),
    Case("train_save_every_string", run=run_train(save_every="10"), raises=ValueError, match=r"save_every must be an integer >= 0, got '10'"),
    Case("train_clip_negative", run=run_train(clip=-1.0), raises=ValueError, match=r"clip must be None, 0 \(off\) or a finite norm > 0 .* got -1.0"),
    Case("train_clip_nan", run=run_train(clip=NAN), raises=ValueError, match=r"clip must be None.* got nan"),
    Case("train_lr_nan", run=run_train(lr=NAN), raises=ValueError, match=r"Invalid AdamW lr: nan"),
    Case("train_lr_negative", run=run_train(lr=-1.0), raises=ValueError, match=r"Invalid AdamW lr: -1.0"),
    Case("train_betas_bad", run=run_train(betas=(0.9, 1.5)), raises=ValueError, match=r"Invalid AdamW betas\[1\]: 1.5"),
    Case("train_weight_decay_negative", run=run_train(weight_decay=-0.1), raises=ValueError, match=r"Invalid AdamW weight_decay: -0.1"),
    Case("train_eval_fn_not_callable", run=run_train(eval_fn="accuracy"), raises=TypeError, match=r"eval_fn must be a function"),
    Case("train_batches_one_dict", run=run_train(batches=one_batch()), raises=TypeError, match=r"batches must be an iterable of dicts .* got dict"),
    Case("train_batches_a_number", run=run_train(batches=3), raises=TypeError, match=r"batches must be an iterable .* got int"),
    Case("train_batches_run_out", run=run_train(batches=[one_batch()], steps=3), raises=ValueError,
         match=r"the batch iterator ran out at step 2; pass an endless stream"),
    Case("train_batches_without_labels", run=run_train(batches=endless(labels=False)), raises=ValueError,
         match=r"returned no loss: the batches must include labels"),
    Case("train_lr_overflows_the_weights", run=run_train(lr=1e308, weight_decay=0.0, clip=None), raises=an.TrainingDiverged,
         match=r"training diverged at step 1: AdamW step 1 would make .* NaN or inf \(lr=5e\+307\); the weights were NOT updated"),
    Case("train_checkpoint_dir_is_a_file", run=run_train(checkpoint_dir="x"), raises=NotADirectoryError,
         match=r"not a folder", setup=lambda d: (d / "x").write_text("keep")),
]

# train() gets a relative checkpoint_dir above; make it relative to the case folder.
_relative = TRAIN[-1]
TRAIN[-1] = Case(_relative.id, run=lambda d: run_train(checkpoint_dir=d / "x")(d), raises=_relative.raises,
                 match=r"cannot save into .*x: it is a file, not a folder|checkpoint_dir .*x.* is a file",
                 setup=_relative.setup)

CASES = ADAMW + TRAIN
