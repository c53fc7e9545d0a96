"""feature-extraction: the encoder's last hidden states, as transformers' FeatureExtractionPipeline."""

from __future__ import annotations

from .base import Pipeline, as_batch


class FeatureExtractionPipeline(Pipeline):
    """`pipe(text_or_texts, return_tensors=False, truncation=None)`.

    Per text: the first output of the model (`last_hidden_state` for AlbertModel) as a nested list [1, S, H]
    (with return_tensors=True: a NumPy array of that shape). A list of texts gives a list of those.
    """

    task = "feature-extraction"

    def output_name_for(self, out):
        return next(iter(k for k, v in out.items() if v is not None and k != "loss"))  # transformers' output[0]

    def __call__(self, inputs, return_tensors: bool = False, truncation=None):
        texts, single = as_batch(inputs, "inputs")
        for text in texts:
            if not isinstance(text, str):
                raise ValueError(f"feature-extraction takes a string or a list of strings, got {type(text).__name__}")
        kwargs = {} if truncation is None else {"truncation": truncation}
        features = [self.encode(text, **kwargs)[0] for text in texts]
        outputs = [h[None] for h in self.run_model(features)]  # [1, S, H] each, as transformers keeps the batch axis
        results = outputs if return_tensors else [h.tolist() for h in outputs]
        return results[0] if single else results
