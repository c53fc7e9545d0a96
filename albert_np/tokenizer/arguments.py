"""__call__'s arguments, checked and resolved before any text is touched (as transformers does it).

Every argument transformers rejects is rejected here too, with a ValueError or TypeError that names the
argument, the value given and what to pass instead; where transformers accepts an argument, it resolves
to the same strategy here (transformers' _get_padding_truncation_strategies).
"""

import warnings

from .unicode_data import check_text

VERY_LARGE_INTEGER = int(1e30)  # transformers' model_max_length when nothing sets one
LARGE_INTEGER = int(1e20)  # above this, transformers treats model_max_length as "no limit"
PADDING_STRATEGIES = ("longest", "max_length", "do_not_pad")
TRUNCATION_STRATEGIES = ("only_first", "only_second", "longest_first", "do_not_truncate")
SIDES = ("right", "left")
TENSOR_TYPES = (None, "np")


def _is_text_input(value):
    return isinstance(value, str) or (
        isinstance(value, (list, tuple)) and (len(value) == 0 or isinstance(value[0], str))
    )


def check_texts(text, text_pair):
    """([(text, text_pair or None)], is_batched) from __call__'s text arguments, or a clear error."""
    if text is None:
        raise ValueError("You need to specify `text`: a string, or a list of strings for a batch.")
    for name, value in (("text", text), ("text_pair", text_pair)):
        if value is not None and not _is_text_input(value):
            raise ValueError(
                f"{name} input must be of type `str` (single example) or `list[str]` (batch), "
                f"got {type(value).__name__}: {value!r:.80}"
            )
    is_batched = isinstance(text, (list, tuple))
    if is_batched:
        if isinstance(text_pair, str):
            raise TypeError(
                "when tokenizing batches of text, `text_pair` must be a list or tuple with the same length "
                "as `text`."
            )
        if text_pair is not None and len(text) != len(text_pair):
            raise ValueError(
                f"batch length of `text`: {len(text)} does not match batch length of `text_pair`: {len(text_pair)}."
            )
        if not text:
            raise ValueError("`text` is an empty batch: pass at least one string.")
        if text_pair is not None:
            for i, item in enumerate(text_pair):
                if not isinstance(item, str):
                    raise ValueError(
                        f"every text in a batch must be a str, got {type(item).__name__} at text_pair[{i}]: {item!r:.80}"
                    )
        batch = list(zip(text, text_pair)) if text_pair is not None else [(t, None) for t in text]
    else:
        if isinstance(text_pair, (list, tuple)):
            raise TypeError("`text` is a single string, so `text_pair` must be a single string too, not a list.")
        batch = [(text, text_pair or None)]
    for i, pair in enumerate(batch):
        for name, item in zip(("text", "text_pair"), pair):
            if item is None:
                continue
            where = f"{name}[{i}]" if is_batched else name
            if not isinstance(item, str):
                raise ValueError(
                    f"every text in a batch must be a str, got {type(item).__name__} at {where}: {item!r:.80}"
                )
            check_text(item, where)
    return batch, is_batched


def check_size(name, value, allow_none=True):
    """A length argument must be a whole number >= 0 (bool and float are mistakes, not sizes)."""
    if value is None and allow_none:
        return
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(
            f"{name} must be an int (a number of tokens), got {type(value).__name__}: {value!r}. "
            f"Pass a whole number such as {name}=128" + (", or None." if allow_none else ".")
        )
    if value < 0:
        raise ValueError(f"{name}={value} is negative: it counts tokens, so pass 0 or more.")


def check_stride_fits(stride, max_length):
    """Checked when transformers configures truncation, with the single-text count of special tokens."""
    if max_length >= 2 and max_length - 2 < stride:
        raise ValueError(
            f"stride={stride} is too large for max_length={max_length}: a window holds at most "
            f"{max_length - 2} tokens besides the 2 special tokens, and stride must be smaller. Use a "
            f"smaller stride or a larger max_length."
        )


def check_choice(name, value, allowed):
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not supported: use one of {', '.join(repr(a) for a in allowed)}.")


def check_flag(name, value):
    if value is not None and not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__}: {value!r}.")


def resolve_strategies(padding, truncation, max_length, pad_to_multiple_of, model_max_length, verbose=True):
    """transformers' _get_padding_truncation_strategies: (padding, truncation, max_length)."""
    if max_length is not None and padding is False and truncation is None:
        truncation = "longest_first"  # max_length alone turns truncation on
    if padding is True and verbose and max_length is not None and truncation in (None, False, "do_not_truncate"):
        warnings.warn(
            "`max_length` is ignored when `padding`=`True` and there is no truncation strategy. "
            "To pad to max length, use `padding='max_length'`."
        )
    if padding is True:
        padding = "longest"
    elif padding is False or padding is None:
        padding = "do_not_pad"
    elif not isinstance(padding, str) or padding not in PADDING_STRATEGIES:
        raise ValueError(
            f"padding={padding!r}: {padding} is not a valid PaddingStrategy, please select one of "
            f"{list(PADDING_STRATEGIES)} (or True / False)."
        )
    if truncation is True:
        truncation = "longest_first"
    elif truncation is False or truncation is None:
        truncation = "do_not_truncate"
    elif not isinstance(truncation, str) or truncation not in TRUNCATION_STRATEGIES:
        raise ValueError(
            f"truncation={truncation!r}: {truncation} is not a valid TruncationStrategy, please select one of "
            f"{list(TRUNCATION_STRATEGIES)} (or True / False)."
        )
    if max_length is None:
        no_limit = model_max_length > LARGE_INTEGER
        if padding == "max_length":
            padding = "do_not_pad" if no_limit else padding
            max_length = None if no_limit else model_max_length
        if truncation != "do_not_truncate":
            truncation = "do_not_truncate" if no_limit else truncation
            max_length = None if no_limit else model_max_length
    if (
        truncation != "do_not_truncate"
        and padding != "do_not_pad"
        and pad_to_multiple_of
        and max_length is not None
        and max_length % pad_to_multiple_of != 0
    ):
        raise ValueError(
            "Truncation and padding are both activated but "
            f"truncation length ({max_length}) is not a multiple of pad_to_multiple_of ({pad_to_multiple_of})."
        )
    return padding, truncation, max_length
