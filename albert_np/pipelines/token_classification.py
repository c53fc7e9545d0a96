"""token-classification (NER): a label per token, or per entity with transformers' aggregation strategies.

Follows transformers' TokenClassificationPipeline with its fallback word heuristic (ALBERT's SentencePiece
pieces carry no continuing-subword prefix, so a piece continues a word when the character before it and its
first character are not spaces). "first"/"average"/"max" first merge a word's pieces into one prediction,
then "simple" and those three group adjacent words of the same entity (B-/I- tags) into entity groups.
"""

from __future__ import annotations

import warnings

import numpy as np

from .base import Pipeline, as_batch, softmax

AGGREGATION_STRATEGIES = ("none", "simple", "first", "average", "max")


class TokenClassificationPipeline(Pipeline):
    """`pipe(text_or_texts, aggregation_strategy="none", ignore_labels=("O",))`.

    "none": one dict {entity, score, index, word, start, end} per token not labelled O.
    Other strategies: one dict {entity_group, score, word, start, end} per entity.
    A list of texts gives one list per text.
    """

    task = "token-classification"

    def __call__(self, inputs, aggregation_strategy: str = "none", ignore_labels=None):
        strategy = str(aggregation_strategy).lower()
        if strategy not in AGGREGATION_STRATEGIES:
            raise ValueError(f"aggregation_strategy must be one of {AGGREGATION_STRATEGIES}, got {aggregation_strategy!r}")
        ignore = ["O"] if ignore_labels is None else list(ignore_labels)
        texts, single = as_batch(inputs, "inputs")
        for text in texts:
            if not isinstance(text, str):
                raise ValueError(f"token-classification takes a string or a list of strings, got {type(text).__name__}")
        truncation = bool(self.tokenizer.model_max_length and self.tokenizer.model_max_length > 0)
        features = [self.encode(text, truncation=truncation, return_special_tokens_mask=True,
                                return_offsets_mapping=True)[0] for text in texts]
        logits = self.run_model(features)
        if strategy in ("first", "average", "max"):
            warnings.warn("Tokenizer does not support real words, using fallback heuristic", UserWarning, stacklevel=2)
        results = []
        for text, feature, lg in zip(texts, features, logits):
            scores = softmax(lg.astype(np.float32))                          # [S, num_labels]
            entities = self.aggregate(self.gather_pre_entities(text, feature, scores), strategy)
            results.append([e for e in entities
                             if e.get("entity") not in ignore and e.get("entity_group") not in ignore])
        return results[0] if single else results

    def gather_pre_entities(self, sentence, feature, scores) -> list[dict]:
        """One record per non-special token: its piece, label scores, character span and whether it continues a word."""
        pre = []
        for idx, token_scores in enumerate(scores):
            if feature.extra["special_tokens_mask"][idx]:
                continue
            token_id = int(feature.input_ids[idx])
            word = self.tokenizer.convert_ids_to_tokens(token_id)
            start, end = (int(x) for x in feature.extra["offset_mapping"][idx])
            is_subword = start > 0 and " " not in sentence[start - 1:start + 1]
            if token_id == self.tokenizer.unk_token_id:
                word, is_subword = sentence[start:end], False
            pre.append({"word": word, "scores": token_scores, "start": start, "end": end, "index": idx,
                        "is_subword": is_subword})
        return pre

    def aggregate(self, pre_entities, strategy) -> list[dict]:
        id2label = self.model.config.id2label
        if strategy in ("none", "simple"):
            entities = []
            for pre in pre_entities:
                best = int(pre["scores"].argmax())
                entities.append({"entity": id2label[best], "score": pre["scores"][best], "index": pre["index"],
                                 "word": pre["word"], "start": pre["start"], "end": pre["end"]})
        else:
            entities = self.aggregate_words(pre_entities, strategy)
        if strategy == "none":
            return [{**e, "score": float(e["score"])} for e in entities]
        return self.group_entities(entities)

    def aggregate_word(self, entities, strategy) -> dict:
        """One prediction for a word's pieces: the first piece's, the most confident piece's, or the mean scores."""
        id2label = self.model.config.id2label
        if strategy == "first":
            scores = entities[0]["scores"]
        elif strategy == "max":
            scores = max(entities, key=lambda e: e["scores"].max())["scores"]
        else:  # average
            scores = np.nanmean(np.stack([e["scores"] for e in entities]), axis=0)
        best = int(scores.argmax())
        return {"entity": id2label[best], "score": scores[best],
                "word": self.tokenizer.convert_tokens_to_string([e["word"] for e in entities]),
                "start": entities[0]["start"], "end": entities[-1]["end"]}

    def aggregate_words(self, entities, strategy) -> list[dict]:
        words, group = [], None
        for entity in entities:
            if group is None:
                group = [entity]
            elif entity["is_subword"]:
                group.append(entity)
            else:
                words.append(self.aggregate_word(group, strategy))
                group = [entity]
        if group is not None:
            words.append(self.aggregate_word(group, strategy))
        return words

    def group_sub_entities(self, entities) -> dict:
        return {"entity_group": entities[0]["entity"].split("-", 1)[-1],
                "score": float(np.mean(np.nanmean([e["score"] for e in entities]))),
                "word": self.tokenizer.convert_tokens_to_string([e["word"] for e in entities]),
                "start": entities[0]["start"], "end": entities[-1]["end"]}

    @staticmethod
    def get_tag(name) -> tuple[str, str]:
        if name.startswith("B-"):
            return "B", name[2:]
        if name.startswith("I-"):
            return "I", name[2:]
        return "I", name  # a tag without B-/I- continues a run of the same tag

    def group_entities(self, entities) -> list[dict]:
        groups, run = [], []
        for entity in entities:
            if not run:
                run.append(entity)
                continue
            bi, tag = self.get_tag(entity["entity"])
            _, last_tag = self.get_tag(run[-1]["entity"])
            if tag == last_tag and bi != "B":
                run.append(entity)
            else:
                groups.append(self.group_sub_entities(run))
                run = [entity]
        if run:
            groups.append(self.group_sub_entities(run))
        return groups
