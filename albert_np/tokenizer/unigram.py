"""Stage 4 of the tokenizer: the unigram model, segmenting one pre-token "▁word" into pieces.

A Viterbi pass over the characters, in float64 like transformers (exact for these scores). The pieces are
indexed in a dict holding every piece (-> id, score) and every proper prefix of a piece (-> None), so the
scan from a start position stops as soon as no piece starts with what it has read.

Linear time: for each start position the scan reads at most `max_piece_length` characters, and the walk
back visits each position once; a run of unknown characters is kept as one (start, end) span and sliced
once (joining its characters one by one was quadratic: 1e6 emoji took minutes).
"""

UNKNOWN_ID = 1  # ALBERT's layout: <pad>=0, <unk>=1, [CLS]=2, [SEP]=3, [MASK]=4
UNKNOWN_PENALTY = 10.0  # an unknown character scores the lowest piece score minus this
WORD_CACHE_SIZE = 100_000  # words
CACHED_WORD_LENGTH = 100  # characters; longer words are rare, segmented every time, never cached


class Unigram:
    """The pieces of a SentencePiece unigram model and transformers' Viterbi segmentation over them."""

    def __init__(self, pieces):
        """`pieces`: [(piece, score, type)] in id order. All take part, control ones included ("<pad>"
        written in text can match, as in transformers)."""
        table = {}
        for piece_id, (piece, score, _) in enumerate(pieces):
            for end in range(1, len(piece)):
                table.setdefault(piece[:end], None)
            table[piece] = (piece_id, score)
        self._table = table
        self._vocab = {piece: i for i, (piece, _, _) in enumerate(pieces)}
        self._max_piece_length = max(len(piece) for piece, _, _ in pieces)
        self._unknown_score = min(score for _, score, _ in pieces) - UNKNOWN_PENALTY
        self._word_cache = {}

    def segment(self, word):
        """(tokens, ids): the most likely pieces for one pre-token "▁word", transformers' Unigram step for step.

        At each end position the best-scoring piece wins, and on an exact tie the one starting earliest.
        A character no piece covers scores as unknown; neighbouring unknowns fuse into one <unk> token
        whose string is their text. (SentencePiece's own Viterbi sums in float32 and so breaks some of
        these ties differently, e.g. "fffl" -> f|ff vs ff|f; hence this port.)
        """
        cached = self._word_cache.get(word)
        if cached is not None:
            return cached
        table, n = self._table, len(word)
        # best_*[end]: the best segmentation of word[:end] ends with piece best_id[end] = word[best_start[end]:end]
        best_score, best_start, best_id = [0.0] + [None] * n, [0] * (n + 1), [0] * (n + 1)
        for start in range(n):
            score_here, covered = best_score[start], False
            for end in range(start + 1, min(n, start + self._max_piece_length) + 1):
                entry = table.get(word[start:end], table)
                if entry is table:  # no piece starts with word[start:end]
                    break
                if entry is None:  # only a prefix of longer pieces
                    continue
                piece_id, score = entry
                candidate = score_here + score
                if best_score[end] is None or candidate > best_score[end]:
                    best_score[end], best_start[end], best_id[end] = candidate, start, piece_id
                covered = covered or end == start + 1
            if not covered:  # no single-character piece here: this character is unknown
                candidate = score_here + self._unknown_score
                if best_score[start + 1] is None or candidate > best_score[start + 1]:
                    best_score[start + 1], best_start[start + 1], best_id[start + 1] = candidate, start, UNKNOWN_ID
        # Walk back from the end, fusing neighbouring unknowns into one (start, end) span.
        chosen, end = [], n  # [(start, end, piece id)], last piece first
        while end > 0:
            start = best_start[end]
            if best_id[end] == UNKNOWN_ID and chosen and chosen[-1][2] == UNKNOWN_ID:
                chosen[-1] = (start, chosen[-1][1], UNKNOWN_ID)
            else:
                chosen.append((start, end, best_id[end]))
            end = start
        tokens = [word[start:end] for start, end, _ in reversed(chosen)]
        # transformers looks the final strings up again: a fused unknown run is <unk> unless it is a piece
        ids = [self._vocab.get(token, UNKNOWN_ID) for token in tokens]
        result = (tokens, ids)
        if n <= CACHED_WORD_LENGTH:
            if len(self._word_cache) >= WORD_CACHE_SIZE:
                self._word_cache.clear()
            self._word_cache[word] = result
        return result
