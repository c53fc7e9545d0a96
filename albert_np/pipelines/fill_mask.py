"""fill-mask: the most likely tokens for each [MASK], as transformers' FillMaskPipeline."""

from __future__ import annotations

import numpy as np

from .base import Pipeline, as_batch, check_positive_int, softmax


class FillMaskPipeline(Pipeline):
    """`pipe(text_or_texts, top_k=5, targets=None)`.

    One text with one [MASK]: a list of top_k dicts {score, token, token_str, sequence}, most likely first.
    Several [MASK]s: one such list per mask (sequences then keep the special tokens, as in transformers).
    A list of texts: a list of those results.
    """

    task = "fill-mask"

    def output_name_for(self, out):
        return "logits" if "logits" in out else "prediction_logits"  # AlbertForMaskedLM or AlbertForPreTraining

    def __call__(self, inputs, top_k: int = 5, targets=None):
        check_positive_int("top_k", top_k)
        texts, single = as_batch(inputs, "inputs")
        target_ids = None if targets is None else self.target_ids(targets)
        features = []
        for text in texts:
            if not isinstance(text, str):
                raise ValueError(f"fill-mask takes a string or a list of strings, got {type(text).__name__}: {text!r:.80}")
            (feature,) = self.encode(text)
            if self.tokenizer.mask_token_id not in feature.input_ids:
                raise ValueError(f"No mask_token ({self.tokenizer.mask_token}) found on the input {text!r:.80}: "
                                 f"write {self.tokenizer.mask_token} where a word should be guessed")
            features.append(feature)
        logits = self.run_model(features)
        results = [self.postprocess(f, lg, top_k, target_ids) for f, lg in zip(features, logits)]
        return results[0] if single else results

    def target_ids(self, targets) -> np.ndarray:
        """transformers' get_target_ids: vocabulary pieces as given, else the first piece of the tokenized word."""
        targets = [targets] if isinstance(targets, str) else list(targets)
        vocab = self.tokenizer.get_vocab()
        ids = []
        for target in targets:
            token_id = vocab.get(target)
            if token_id is None:
                pieces = self.tokenizer(target, add_special_tokens=False)["input_ids"]
                if not pieces:
                    continue  # transformers warns and ignores a target that tokenizes to nothing
                token_id = pieces[0]
            ids.append(token_id)
        ids = list(set(ids))
        if not ids:
            raise ValueError(f"targets={targets!r} gives no token of the vocabulary: pass words or pieces of it")
        return np.array(ids)

    def postprocess(self, feature, logits, top_k, target_ids):
        input_ids = np.asarray(feature.input_ids)
        if target_ids is not None and len(target_ids) < top_k:
            top_k = len(target_ids)
        masked_index = np.nonzero(input_ids == self.tokenizer.mask_token_id)[0]
        probs = softmax(logits[masked_index].astype(np.float32))             # [M, V]
        if target_ids is not None:
            probs = probs[..., target_ids]
        single_mask = len(masked_index) == 1
        result = []
        for i, row in enumerate(probs):
            best = np.argsort(-row, kind="stable")[:top_k]                    # torch.topk: largest first
            props = []
            for p in best:
                token = int(target_ids[p]) if target_ids is not None else int(p)
                tokens = input_ids.copy()
                tokens[masked_index[i]] = token
                tokens = tokens[tokens != self.tokenizer.pad_token_id]
                props.append({"score": float(row[p]), "token": token,
                              "token_str": self.tokenizer.decode([token]),
                              "sequence": self.tokenizer.decode(tokens, skip_special_tokens=single_mask)})
            result.append(props)
        return result[0] if single_mask else result
