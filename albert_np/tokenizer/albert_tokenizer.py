"""The transformers-style ``AlbertTokenizer``: loading and saving, the vocabulary, __call__ and decode.

It strings the stages together: added_tokens (1) -> normalize (2, 3) -> unigram (4) -> encoding (5).
"""

from __future__ import annotations

import json
import os
from typing import Any, Union

from .._types import PathLike
from ..io_utils import atomic_write_bytes
from . import arguments
from .added_tokens import AddedTokens
from .arguments import VERY_LARGE_INTEGER
from .encoding import (
    BatchEncoding, Encoding, Framing, Returned, Truncation, batch_encoding, pad_rows, post_process, to_python,
)
from .model_file import UNKNOWN, load_model_file, read_model
from .normalize import SPACE, Normalizer, piece_offsets, pre_tokenize
from .unigram import UNKNOWN_ID, Unigram

SPIECE_MODEL = "spiece.model"
TextInput = Union[str, list[str], list[list[str]]]   # a text, a batch of texts (or, for text_pair, their pairs)
Ids = Any                                            # token ids: an int, a list (of lists) or an array
TOKENIZER_CONFIG = "tokenizer_config.json"
SPECIAL_TOKENS_MAP = "special_tokens_map.json"
SPECIAL_TOKEN_NAMES = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")
SAVED_OPTIONS = (
    "do_lower_case", "keep_accents", "remove_space", "model_max_length", "clean_up_tokenization_spaces",
    "padding_side", "truncation_side",
)  # fmt: skip


class AlbertTokenizer:
    """ALBERT's tokenizer with transformers' API and outputs: a SentencePiece unigram model plus ALBERT's
    text preparation and [CLS]/[SEP] framing.

    Args:
        vocab_file: path to the SentencePiece model (``spiece.model``) in ALBERT's layout: <pad>=0,
            <unk>=1, [CLS]=2, [SEP]=3, [MASK]=4.
        do_lower_case: lower-case the text first (ALBERT checkpoints are uncased).
        keep_accents: keep accents instead of stripping them after NFKD.
        remove_space: accepted for compatibility; as in transformers v5, runs of whitespace are always
            collapsed and leading/trailing whitespace dropped.
        model_max_length: the length ``truncation=True`` and ``padding="max_length"`` use when
            ``max_length`` is not given.
        *_token: the special tokens (strings), transformers' defaults for ALBERT.
    """

    vocab_files_names = {"vocab_file": SPIECE_MODEL}

    def __init__(
        self,
        vocab_file: PathLike,
        do_lower_case: bool = True,
        keep_accents: bool = False,
        remove_space: bool = True,
        bos_token: str | None = "[CLS]",
        eos_token: str | None = "[SEP]",
        unk_token: str | None = "<unk>",
        sep_token: str | None = "[SEP]",
        pad_token: str | None = "<pad>",
        cls_token: str | None = "[CLS]",
        mask_token: str | None = "[MASK]",
        model_max_length: int = VERY_LARGE_INTEGER,
        clean_up_tokenization_spaces: bool = False,
        padding_side: str = "right",
        truncation_side: str = "right",
        added_tokens_decoder: dict | None = None,
    ):
        for name, value in (
            ("do_lower_case", do_lower_case), ("keep_accents", keep_accents), ("remove_space", remove_space),
            ("clean_up_tokenization_spaces", clean_up_tokenization_spaces),
        ):  # fmt: skip
            arguments.check_flag(name, value)
        arguments.check_size("model_max_length", model_max_length, allow_none=False)
        arguments.check_choice("padding_side", padding_side, arguments.SIDES)
        arguments.check_choice("truncation_side", truncation_side, arguments.SIDES)
        self.vocab_file = os.fspath(vocab_file)
        self.do_lower_case, self.keep_accents, self.remove_space = do_lower_case, keep_accents, remove_space
        self.model_max_length = model_max_length
        self.clean_up_tokenization_spaces = clean_up_tokenization_spaces
        self.padding_side, self.truncation_side = padding_side, truncation_side
        self.pad_token_type_id = 0

        self._model_bytes = load_model_file(self.vocab_file)
        pieces, charsmap = read_model(self._model_bytes)
        self._pieces = [piece for piece, _, _ in pieces]
        self._vocab = {piece: i for i, piece in enumerate(self._pieces)}
        unknown_ids = [i for i, (_, _, kind) in enumerate(pieces) if kind == UNKNOWN]
        if unknown_ids != [UNKNOWN_ID]:
            raise ValueError(
                f"{self.vocab_file} is not in ALBERT's layout: its unknown piece must have id 1 "
                f"(found at {unknown_ids}). ALBERT models use <pad>=0, <unk>=1, [CLS]=2, [SEP]=3, [MASK]=4."
            )
        self.unk_token_id = UNKNOWN_ID
        self._normalizer = Normalizer(keep_accents, do_lower_case, charsmap)
        self._unigram = Unigram(pieces)

        self._special_tokens = {}
        values = (bos_token, eos_token, unk_token, sep_token, pad_token, cls_token, mask_token)
        for name, value in zip(SPECIAL_TOKEN_NAMES, values):
            if value is not None and str(value) not in self._vocab:
                raise ValueError(
                    f"{name}={value!r} is not a piece of {self.vocab_file}. ALBERT's spiece.model holds "
                    f"<pad>, <unk>, [CLS], [SEP] and [MASK]; pass the token strings this model uses."
                )
            self._special_tokens[name] = None if value is None else str(value)
        if not isinstance(added_tokens_decoder or {}, dict):
            raise TypeError(
                f"added_tokens_decoder must be a dict {{id: token options}}, got {type(added_tokens_decoder).__name__}."
            )
        self._added_tokens = AddedTokens(pieces, self._vocab, self._special_tokens.values(), added_tokens_decoder or {})

    # --- loading and saving ---

    @classmethod
    def from_pretrained(cls, path: PathLike, **kwargs: Any) -> "AlbertTokenizer":
        """Load from a folder holding spiece.model (+ tokenizer_config.json, special_tokens_map.json), or
        from the path of a spiece.model. Keyword arguments override the saved configuration."""
        path = os.fspath(path)
        if os.path.isfile(path):
            folder, vocab_file = os.path.dirname(path), path
        elif os.path.isdir(path):
            folder, vocab_file = path, os.path.join(path, SPIECE_MODEL)
            if not os.path.isfile(vocab_file):
                raise FileNotFoundError(
                    f"SentencePiece model not found: {path} has no {SPIECE_MODEL}. ALBERT's tokenizer needs the "
                    f"checkpoint's spiece.model: copy it into the folder, or pass the folder that holds it."
                )
        else:
            raise FileNotFoundError(
                f"{path} is neither a folder nor a file. Pass a folder containing spiece.model (like one "
                f"written by save_pretrained) or the path of the spiece.model itself. (albert_np never downloads.)"
            )
        settings = {}
        for name in (SPECIAL_TOKENS_MAP, TOKENIZER_CONFIG):
            file = os.path.join(folder, name)
            if os.path.isfile(file):
                try:
                    with open(file, encoding="utf-8") as f:
                        loaded = json.load(f)
                except (json.JSONDecodeError, UnicodeDecodeError) as err:
                    raise ValueError(f"{file} is not valid JSON ({err}); fix or delete it (it must be UTF-8 text).") from None
                if not isinstance(loaded, dict):
                    raise ValueError(f"{file} must hold a JSON object, not {type(loaded).__name__}; fix or delete it.")
                settings.update(loaded)
        init = {"vocab_file": vocab_file}
        added_tokens_decoder = dict(settings.get("added_tokens_decoder") or {})
        for key in SAVED_OPTIONS:
            if key in settings and settings[key] is not None:
                init[key] = settings[key]
        for name in SPECIAL_TOKEN_NAMES:
            value = settings.get(name)
            if isinstance(value, dict):  # an AddedToken saved with its options (lstrip, ...)
                added_tokens_decoder.setdefault(name, value)
                value = value.get("content")
            if value is not None:
                init[name] = value
        init["added_tokens_decoder"] = added_tokens_decoder
        unknown = sorted(set(kwargs) - set(SAVED_OPTIONS) - set(SPECIAL_TOKEN_NAMES) - {"added_tokens_decoder"})
        if unknown:
            raise TypeError(
                f"AlbertTokenizer.from_pretrained() got unexpected keyword argument(s) {', '.join(unknown)}: "
                f"it accepts {', '.join(SAVED_OPTIONS + SPECIAL_TOKEN_NAMES)}."
            )
        init.update(kwargs)
        return cls(**init)

    def save_pretrained(self, save_directory: PathLike) -> tuple[str, ...]:
        """Write spiece.model, tokenizer_config.json and special_tokens_map.json (each atomically) so that
        this class and transformers' AlbertTokenizer.from_pretrained both load the same tokenizer."""
        save_directory = os.fspath(save_directory)
        if os.path.isfile(save_directory):
            raise NotADirectoryError(f"save_pretrained needs a folder, but {save_directory} is a file.")
        os.makedirs(save_directory, exist_ok=True)
        specials = self.special_tokens_map
        added = sorted(self._added_tokens.by_content.values(), key=lambda t: t.token_id)
        config = {
            "tokenizer_class": "AlbertTokenizer",
            **{option: getattr(self, option) for option in SAVED_OPTIONS},
            "added_tokens_decoder": {str(t.token_id): t.to_config() for t in added},
            **specials,
        }
        files = {
            SPIECE_MODEL: self._model_bytes,
            TOKENIZER_CONFIG: (json.dumps(config, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode(),
            SPECIAL_TOKENS_MAP: (json.dumps(specials, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode(),
        }
        paths = []
        for name, data in files.items():
            paths.append(os.path.join(save_directory, name))
            atomic_write_bytes(paths[-1], data)
        return tuple(paths)

    # --- vocabulary and special tokens ---

    @property
    def vocab_size(self) -> int:
        return len(self._pieces)

    def __len__(self) -> int:
        return len(self._pieces)

    def get_vocab(self) -> dict[str, int]:
        return dict(self._vocab)

    def __getattr__(self, name: str) -> Any:
        # cls_token / cls_token_id and friends, read from the special-token table.
        special = self.__dict__.get("_special_tokens")
        if special is not None:
            if name in special:
                return special[name]
            if name.endswith("_id") and name[:-3] in special:
                token = special[name[:-3]]
                return None if token is None else self._vocab[token]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    @property
    def special_tokens_map(self) -> dict[str, str]:
        return {name: token for name, token in self._special_tokens.items() if token is not None}

    @property
    def all_special_tokens(self) -> list[str]:
        tokens = []
        for token in list(self._special_tokens.values()) + self._added_tokens.extra_special_tokens:
            if token is not None and token not in tokens:
                tokens.append(token)
        return tokens

    @property
    def all_special_ids(self) -> list[int]:
        return [self._vocab[token] for token in self.all_special_tokens]

    def convert_tokens_to_ids(self, tokens: str | list[str]) -> int | list[int]:
        """Token string(s) to id(s); strings outside the vocabulary give the <unk> id."""
        if isinstance(tokens, str):
            return self._vocab.get(tokens, self.unk_token_id)
        return [self._vocab.get(token, self.unk_token_id) for token in tokens]

    def convert_ids_to_tokens(self, ids: Ids, skip_special_tokens: bool = False) -> str | list[str]:
        """Id(s) to piece string(s); ids outside the vocabulary raise ValueError."""
        ids = to_python(ids)
        if isinstance(ids, int):
            return self._pieces[self._check_id(ids)]
        skip = set(self.all_special_ids) if skip_special_tokens else ()
        return [self._pieces[self._check_id(i)] for i in ids if i not in skip]

    def _check_id(self, token_id):
        if not isinstance(token_id, int) or isinstance(token_id, bool):
            raise TypeError(f"token ids must be integers, got {token_id!r} ({type(token_id).__name__})")
        if not 0 <= token_id < len(self._pieces):
            raise ValueError(
                f"token id {token_id} is out of range: this vocabulary has ids 0..{len(self._pieces) - 1}. "
                f"Were these ids produced by a different tokenizer or model?"
            )
        return token_id

    def num_special_tokens_to_add(self, pair: bool = False) -> int:
        return 3 if pair else 2

    def build_inputs_with_special_tokens(self, token_ids_0: list[int], token_ids_1: list[int] | None = None) -> list[int]:
        """[CLS] A [SEP] or [CLS] A [SEP] B [SEP]."""
        cls, sep = [self.cls_token_id], [self.sep_token_id]
        if token_ids_1 is None:
            return cls + list(token_ids_0) + sep
        return cls + list(token_ids_0) + sep + list(token_ids_1) + sep

    def create_token_type_ids_from_sequences(self, token_ids_0: list[int],
                                             token_ids_1: list[int] | None = None) -> list[int]:
        """0 for [CLS] A [SEP], 1 for B [SEP]: the segment ids ALBERT's embeddings expect."""
        first = [0] * (len(token_ids_0) + 2)
        return first if token_ids_1 is None else first + [1] * (len(token_ids_1) + 1)

    def get_special_tokens_mask(self, token_ids_0: list[int], token_ids_1: list[int] | None = None,
                                already_has_special_tokens: bool = False) -> list[int]:
        """1 where build_inputs_with_special_tokens puts a special token, 0 elsewhere. With
        already_has_special_tokens=True, marks the special ids found in token_ids_0 instead."""
        if already_has_special_tokens:
            if token_ids_1 is not None:
                raise ValueError(
                    "You should not supply a second sequence if the provided sequence of ids is already "
                    "formatted with special tokens for the model."
                )
            special = set(self.all_special_ids)
            return [1 if int(i) in special else 0 for i in token_ids_0]
        mask = [1] + [0] * len(token_ids_0) + [1]
        return mask if token_ids_1 is None else mask + [0] * len(token_ids_1) + [1]

    # --- stages 1-4 on one text ---

    def _encode_text(self, text, sequence_id, with_offsets):
        """The tokens of one text (no special framing) as an Encoding row."""
        ids, tokens, offsets, words = [], [], [], []  # words: each token's word index (tokenizers' word_ids)
        n_words = 0
        for part in self._added_tokens.split(text):
            if part.token is not None:
                ids.append(part.token.token_id)
                tokens.append(text[part.start : part.end])  # lstrip/rstrip whitespace included, as in transformers
                offsets.append((part.start, part.end))
                words.append(n_words)  # an added token is a word of its own
                n_words += 1
                continue
            normalized, spans = self._normalizer.normalize(text[part.start : part.end])
            pretokens = pre_tokenize(normalized)
            part_tokens = []
            for pretoken in pretokens:
                word_tokens, word_token_ids = self._unigram.segment(pretoken.text)
                words.extend([n_words] * len(word_tokens))
                n_words += 1
                part_tokens.extend(word_tokens)
                ids.extend(word_token_ids)
            tokens.extend(part_tokens)
            if with_offsets:
                offsets.extend(piece_offsets(part_tokens, pretokens, spans, part.start))
        offsets = offsets if with_offsets else [(0, 0)] * len(ids)
        return Encoding.of_text(ids, tokens, offsets, sequence_id, words)

    # --- the public encoding API ---

    def __call__(
        self,
        text: TextInput | None = None,
        text_pair: TextInput | None = None,
        add_special_tokens: bool = True,
        padding: bool | str = False,
        truncation: bool | str | None = None,
        max_length: int | None = None,
        stride: int = 0,
        is_split_into_words: bool = False,
        pad_to_multiple_of: int | None = None,
        padding_side: str | None = None,
        return_tensors: str | None = None,
        return_token_type_ids: bool | None = None,
        return_attention_mask: bool | None = None,
        return_overflowing_tokens: bool = False,
        return_special_tokens_mask: bool = False,
        return_offsets_mapping: bool = False,
        return_length: bool = False,
        verbose: bool = True,
    ) -> BatchEncoding:
        """Encode a text, a pair, or a batch of either, with transformers' arguments and outputs.

        Returns a BatchEncoding with input_ids, token_type_ids (returned by default: ALBERT's segment
        embeddings need them for pairs; transformers v5 leaves them out unless asked) and
        attention_mask, plus special_tokens_mask, offset_mapping, length, overflow_to_sample_mapping on
        request. A single text gives flat lists; a batch (list of texts) gives lists of lists.
        """
        if is_split_into_words:
            raise NotImplementedError(
                "is_split_into_words=True is not supported by albert_np's tokenizer; join the words with "
                "spaces and pass the string."
            )
        batch, is_batched = arguments.check_texts(text, text_pair)
        for name, value in (("max_length", max_length), ("stride", stride), ("pad_to_multiple_of", pad_to_multiple_of)):
            arguments.check_size(name, value, allow_none=name != "stride")
        for name, value in (
            ("add_special_tokens", add_special_tokens), ("return_token_type_ids", return_token_type_ids),
            ("return_attention_mask", return_attention_mask), ("return_overflowing_tokens", return_overflowing_tokens),
            ("return_special_tokens_mask", return_special_tokens_mask),
            ("return_offsets_mapping", return_offsets_mapping), ("return_length", return_length),
        ):  # fmt: skip
            arguments.check_flag(name, value)
        padding_strategy, truncation_strategy, max_length = arguments.resolve_strategies(
            padding, truncation, max_length, pad_to_multiple_of, self.model_max_length, verbose
        )
        if return_tensors not in arguments.TENSOR_TYPES:
            raise ValueError(
                f"return_tensors={return_tensors!r} is not supported: albert_np returns NumPy arrays "
                f"(return_tensors='np') or Python lists (None)."
            )
        side = padding_side if padding_side is not None else self.padding_side
        arguments.check_choice("padding_side", side, arguments.SIDES)

        truncation_params = None
        if truncation_strategy != "do_not_truncate":
            arguments.check_stride_fits(stride, max_length)
            truncation_params = Truncation(truncation_strategy, max_length, stride, self.truncation_side)

        framing = None
        if add_special_tokens:
            framing = Framing(self.cls_token, self.cls_token_id, self.sep_token, self.sep_token_id)
        rows = []
        for first_text, second_text in batch:
            first = self._encode_text(first_text, 0, return_offsets_mapping)
            second = None if second_text is None else self._encode_text(second_text, 1, return_offsets_mapping)
            rows.append(post_process(first, second, framing, truncation_params))

        if padding_strategy != "do_not_pad":
            length = max(len(r) for r in rows) if padding_strategy == "longest" else max_length
            pad_rows(rows, length, pad_to_multiple_of, self.pad_token_id, self.pad_token, self.pad_token_type_id, side)
        returned = Returned(
            return_tensors, return_token_type_ids is not False, return_attention_mask is not False,
            return_overflowing_tokens, return_special_tokens_mask, return_offsets_mapping, return_length,
        )  # fmt: skip
        return batch_encoding(rows, is_batched, returned)

    def encode(self, text: TextInput, text_pair: TextInput | None = None, add_special_tokens: bool = True,
               padding: bool | str = False, truncation: bool | str | None = None, max_length: int | None = None,
               stride: int = 0, padding_side: str | None = None, return_tensors: str | None = None) -> Any:  # fmt: skip
        """The input_ids of __call__."""
        return self(
            text, text_pair, add_special_tokens=add_special_tokens, padding=padding, truncation=truncation,
            max_length=max_length, stride=stride, padding_side=padding_side, return_tensors=return_tensors,
            return_token_type_ids=False, return_attention_mask=False,
        )["input_ids"]  # fmt: skip

    def tokenize(self, text: str, pair: str | None = None, add_special_tokens: bool = False) -> list[str]:
        """The token strings of a text (or pair): "▁" marks word starts; unknown text keeps its characters."""
        return self(text, pair, add_special_tokens=add_special_tokens).tokens()

    # --- decoding ---

    def decode(self, token_ids: Ids, skip_special_tokens: bool = False,
               clean_up_tokenization_spaces: bool | None = None) -> str | list[str]:
        """Ids back to text: pieces joined, "▁" read as a space (dropped in the first token). A batch (list
        of lists, 2-D array) gives a list of strings."""
        token_ids = to_python(token_ids)
        if isinstance(token_ids, list) and token_ids and isinstance(token_ids[0], list):
            return [self._decode(ids, skip_special_tokens, clean_up_tokenization_spaces) for ids in token_ids]
        return self._decode(token_ids, skip_special_tokens, clean_up_tokenization_spaces)

    def batch_decode(self, sequences: Ids, skip_special_tokens: bool = False,
                     clean_up_tokenization_spaces: bool | None = None) -> list[str]:
        """decode() for each sequence of a batch."""
        sequences = to_python(sequences)
        if not isinstance(sequences, list) or any(not isinstance(s, list) for s in sequences):
            raise TypeError(
                "batch_decode expects a batch: a list of id lists or a 2-D array; use decode() for one sequence."
            )
        return [self._decode(ids, skip_special_tokens, clean_up_tokenization_spaces) for ids in sequences]

    def _decode(self, ids, skip_special_tokens, clean_up_tokenization_spaces):
        if isinstance(ids, int):
            ids = [ids]
        if not isinstance(ids, list):
            raise TypeError(f"decode expects ids as int, list or array, got {type(ids).__name__}")
        special_ids = self._added_tokens.special_ids
        tokens = [self._pieces[self._check_id(i)] for i in ids if not (skip_special_tokens and i in special_ids)]
        text = self.convert_tokens_to_string(tokens)
        if clean_up_tokenization_spaces is None:
            clean_up_tokenization_spaces = self.clean_up_tokenization_spaces
        if clean_up_tokenization_spaces:
            text = self.clean_up_tokenization(text)
        return text

    @staticmethod
    def convert_tokens_to_string(tokens: list[str]) -> str:
        """transformers' Metaspace decoder: "▁" becomes a space, except in the first token where it is dropped."""
        return "".join(token.replace(SPACE, "" if i == 0 else " ") for i, token in enumerate(tokens))

    @staticmethod
    def clean_up_tokenization(text: str) -> str:
        """transformers' optional clean-up of spaces before punctuation and contractions."""
        for before, after in (
            (" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
            (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"),
        ):  # fmt: skip
            text = text.replace(before, after)
        return text

    def __repr__(self) -> str:
        return (
            f"AlbertTokenizer(vocab_file={self.vocab_file!r}, vocab_size={self.vocab_size}, "
            f"do_lower_case={self.do_lower_case}, keep_accents={self.keep_accents})"
        )
