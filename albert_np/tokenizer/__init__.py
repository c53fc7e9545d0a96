"""ALBERT's tokenizer: a SentencePiece unigram model wrapped in ALBERT's text preparation.

Behaviour follows transformers v5's ``AlbertTokenizer`` (the tokenizers-backed one) token for token,
offset for offset. One file per stage of the text's path (docs/tokenizer.md traces an example through each):

0. ``model_file``        read spiece.model: the pieces and the model's normalisation table (a trie).
1. ``added_tokens``      cut [CLS], [SEP], [MASK], <pad>, <unk> written in the raw text out whole.
2. ``normalize``         `` and '' -> ", NFKD + accent stripping, lower-casing (with transformers' Unicode
   (``unicode_data``)    tables, generated into unicode_fold.tsv), then the model's table, grapheme cluster by
                         cluster; every normalized character remembers its span of raw text.
3. ``normalize``         split on whitespace, prefix each word with "▁".
4. ``unigram``           Viterbi over the piece scores, in float64 as transformers; unknowns fuse into one <unk>.
5. ``encoding``          truncation (with stride windows), [CLS] A [SEP] B [SEP], padding, tensors.
   ``arguments``         __call__'s arguments, checked and resolved before any text is touched.
   ``albert_tokenizer``  the transformers-style class tying the stages together.

Every stage is linear in the length of the text. Runtime dependencies: sentencepiece (validates
spiece.model), and numpy only for ``return_tensors="np"``.
"""

from .albert_tokenizer import SPIECE_MODEL, TOKENIZER_CONFIG, AlbertTokenizer
from .encoding import BatchEncoding

__all__ = ["AlbertTokenizer", "BatchEncoding", "SPIECE_MODEL", "TOKENIZER_CONFIG"]
