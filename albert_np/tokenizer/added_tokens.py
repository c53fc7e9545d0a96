"""Stage 1 of the tokenizer: tokens cut out of the raw text whole ([CLS], [SEP], [MASK], <pad>, <unk>,
and the model's user-defined pieces), before any normalisation."""

import re
from dataclasses import dataclass

from .model_file import CONTROL, USER_DEFINED
from .normalize import WHITESPACE_CHAR


@dataclass(frozen=True)
class AddedToken:
    """A token matched whole in the raw text, with transformers' lstrip/rstrip options."""

    content: str
    token_id: int
    special: bool = True  # dropped by decode(skip_special_tokens=True)
    lstrip: bool = False  # also takes the whitespace before it
    rstrip: bool = False  # also takes the whitespace after it

    def to_config(self):
        return {
            "content": self.content, "lstrip": self.lstrip, "normalized": False, "rstrip": self.rstrip,
            "single_word": False, "special": self.special,
        }  # fmt: skip


@dataclass(frozen=True)
class TextPart:
    """A stretch text[start:end] of the raw text: either plain text or one added token."""

    start: int
    end: int
    token: AddedToken | None  # None: plain text, to normalise and segment


class AddedTokens:
    """The tokens cut out whole, as transformers registers them: the model's control and user-defined
    pieces plus the special tokens (lstrip/rstrip taken from a saved configuration)."""

    def __init__(self, pieces, vocab, special_tokens, added_tokens_decoder):
        options = {}
        for entry in added_tokens_decoder.values():
            entry = entry if isinstance(entry, dict) else {"content": str(entry)}
            if "content" not in entry:
                raise ValueError(
                    f"added_tokens_decoder entry {entry!r} has no 'content'; fix or remove it in tokenizer_config.json."
                )
            for flag in ("single_word", "normalized"):
                if entry.get(flag):
                    raise NotImplementedError(
                        f"added token {entry.get('content')!r} sets {flag}=True, which albert_np's tokenizer "
                        f"does not implement; set it to false in tokenizer_config.json."
                    )
            options[entry["content"]] = entry
        added = {}
        for i, (piece, _, kind) in enumerate(pieces):
            if kind in (CONTROL, USER_DEFINED):
                added[piece] = AddedToken(piece, i, special=kind == CONTROL)
        # transformers lists these pieces as extra special tokens, though user-defined ones survive
        # decode(skip_special_tokens=True).
        self.extra_special_tokens = list(added)
        for token in special_tokens:
            if token is not None:
                added[token] = AddedToken(token, vocab[token], special=True)
        for content, entry in options.items():
            if content in vocab:  # ids always come from the model; other entries cannot apply
                added[content] = AddedToken(
                    content, vocab[content], special=entry.get("special", True),
                    lstrip=bool(entry.get("lstrip")), rstrip=bool(entry.get("rstrip")),
                )  # fmt: skip
        self.by_content = added
        longest_first = sorted(added, key=lambda t: (-len(t), t))
        self._pattern = re.compile("|".join(re.escape(t) for t in longest_first)) if added else None
        self.special_ids = {t.token_id for t in added.values() if t.special}

    def split(self, text):
        """[TextPart]: the raw text cut around the added tokens written in it.

        Matching is leftmost-longest on the raw (unnormalized) text, so "[MASK]" is kept whole but
        "[mask]" is ordinary text. lstrip/rstrip tokens also take the whitespace beside them.
        """
        if self._pattern is None:
            return [TextPart(0, len(text), None)]
        parts, prev_end = [], 0
        for match in self._pattern.finditer(text):
            token = self.by_content[match.group()]
            start, end = match.span()
            if token.lstrip:
                while start > prev_end and WHITESPACE_CHAR.match(text[start - 1]):
                    start -= 1
            if token.rstrip:
                while end < len(text) and WHITESPACE_CHAR.match(text[end]):
                    end += 1
            if start > prev_end:
                parts.append(TextPart(prev_end, start, None))
            parts.append(TextPart(start, end, token))
            prev_end = end
        if prev_end < len(text) or not parts:
            parts.append(TextPart(prev_end, len(text), None))
        return parts
