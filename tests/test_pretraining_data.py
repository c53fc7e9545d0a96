"""The statistics albert_np.pretraining_data promises, over many draws, within binomial bounds (4 sigma).

Texts come from Python's own help topics (pydoc_data), with a small vocabulary trained on them once per module.
"""

import math

import numpy as np
import pytest

from albert_np import pretraining_data as pdata
from albert_np.vocab import train_vocab

IGNORE = pdata.IGNORE_INDEX


def within(observed_rate, p, n, sigmas=4.0):
    return abs(observed_rate - p) <= sigmas * math.sqrt(p * (1 - p) / n)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """(path, tokenizer): pydoc help topics, one sentence per line, a blank line between topics."""
    from pydoc_data.topics import topics

    folder = tmp_path_factory.mktemp("corpus")
    docs = []
    for name in sorted(topics)[:60]:
        sentences = [" ".join(s.split()) for s in topics[name].replace("\n\n", ". ").split(". ")]
        docs.append("\n".join(s for s in sentences if len(s.split()) >= 3))
    path = folder / "corpus.txt"
    path.write_text("\n\n".join(docs) + "\n", encoding="utf-8")
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line]
    return path, train_vocab(lines, folder / "vocab", vocab_size=1000, hard_vocab_limit=False)


def examples(corpus, n=None, seed=0, **cfg):
    path, tok = corpus
    cfg = pdata.PretrainingDataConfig(**{"max_seq_length": 64, "max_predictions_per_seq": 10, "dupe_factor": 2,
                                         "shuffle_buffer": 100, **cfg})
    out = []
    for e in pdata.example_stream(path, tok, cfg, seed=seed, repeat=False):
        out.append(e)
        if n and len(out) == n:
            break
    return out, tok, cfg


def single_piece_masking(rows=3000, T=128, seed=0, **cfg):
    """mask_ngrams on random single-piece words (every position a word start): the cleanest statistics."""
    cfg = pdata.PretrainingDataConfig(**{"max_predictions_per_seq": 1000, **cfg})
    rng = np.random.default_rng(seed)
    results = []
    for _ in range(rows):
        ids = rng.integers(5, 1000, T)
        maskable = np.ones(T, bool)
        maskable[[0, T // 2, T - 1]] = False
        results.append((ids, maskable, pdata.mask_ngrams(ids, maskable, np.ones(T, bool), cfg, rng, 4, 1000)))
    return results


def test_masks_round_of_masked_lm_prob_times_length_in_every_row():
    for ids, _, m in single_piece_masking(rows=500):
        assert (m.labels != IGNORE).sum() == round(128 * 0.15)    # 19
    for ids, _, m in single_piece_masking(rows=200, max_predictions_per_seq=7):
        assert (m.labels != IGNORE).sum() == 7


def test_masking_rate_on_real_text_is_masked_lm_prob(corpus):
    rows, _, cfg = examples(corpus, max_predictions_per_seq=1000)
    lengths = np.array([e.attention_mask.sum() for e in rows])
    masked = np.array([(e.labels != IGNORE).sum() for e in rows])
    target = np.maximum(1, np.round(lengths * cfg.masked_lm_prob))
    assert len(rows) > 500
    assert masked.max() <= target.max() and np.all(masked <= target)
    # whole-word n-grams can miss the last token or two of the budget, never more than a few percent overall
    assert 0.95 * target.sum() <= masked.sum() <= target.sum()


def test_80_10_10_split_of_the_predicted_tokens():
    n = mask = keep = 0
    for ids, _, m in single_piece_masking(rows=2000):
        sel = m.labels != IGNORE
        n += sel.sum()
        mask += (m.input_ids[sel] == 4).sum()
        keep += (m.input_ids[sel] == ids[sel]).sum()
    rand = n - mask - keep
    assert within(mask / n, 0.8, n)
    assert within(keep / n, 0.1 + 0.1 / 995, n)     # a random piece equals the original 1 time in 995
    assert within(rand / n, 0.1 - 0.1 / 995, n)


def test_drawn_ngram_lengths_follow_one_over_n():
    drawn = np.concatenate([m.drawn_lengths for _, _, m in single_piece_masking(rows=2000)])
    p = np.array([1, 1 / 2, 1 / 3]) / (1 + 1 / 2 + 1 / 3)
    for n in (1, 2, 3):
        assert within(np.mean(drawn == n), p[n - 1], len(drawn)), n


def test_accepted_spans_are_drawn_lengths_shortened_only_to_fit():
    """A drawn n shrinks only to fit the budget, so accepted spans are never longer than 3 and 3-grams occur."""
    spans = np.concatenate([m.span_lengths for _, _, m in single_piece_masking(rows=500)])
    assert set(np.unique(spans)) == {1, 2, 3}
    assert np.mean(spans == 1) > 6 / 11     # shrinking and skipping overlaps favour short spans (google's too)


def test_spans_are_consecutive_whole_words_in_real_text(corpus):
    rows, tok, _ = examples(corpus, n=400)
    starts = pdata.word_start_table(tok)
    broken = 0
    for e in rows:
        labels = e.labels
        for pos in np.flatnonzero(labels != IGNORE):
            original = labels[pos]
            # a masked piece inside a word means the piece before it (same word) is masked too
            if not starts[original] and e.input_ids[pos - 1] not in (tok.cls_token_id, tok.sep_token_id):
                broken += labels[pos - 1] == IGNORE
    assert broken == 0
    # ... and the word after a masked word-end is never half masked
    for e in rows:
        masked = e.labels != IGNORE
        for pos in np.flatnonzero(masked[:-1] & ~masked[1:]):
            nxt = e.input_ids[pos + 1]
            assert e.attention_mask[pos + 1] == 0 or starts[nxt] or nxt == tok.sep_token_id


def test_special_tokens_and_padding_are_never_masked(corpus):
    rows, tok, _ = examples(corpus, n=500)
    for e in rows:
        specials = np.isin(e.input_ids, [tok.cls_token_id, tok.sep_token_id, tok.pad_token_id])
        assert np.all(e.labels[specials] == IGNORE)
        assert e.input_ids[0] == tok.cls_token_id
        length = e.attention_mask.sum()
        assert e.input_ids[length - 1] == tok.sep_token_id
        assert np.all(e.input_ids[length:] == tok.pad_token_id) and np.all(e.labels[length:] == IGNORE)
        assert np.all(e.labels[e.labels != IGNORE] >= 5)


def test_segment_lengths_fit_and_short_ones_appear_at_short_seq_prob(corpus):
    rows, _, cfg = examples(corpus, short_seq_prob=0.0)
    lengths = np.array([e.attention_mask.sum() for e in rows])
    assert lengths.max() == cfg.max_seq_length
    a_lengths = [int(np.flatnonzero(e.token_type_ids)[0]) - 2 for e in rows]
    assert min(a_lengths) >= 1 and all((e.token_type_ids == 1).sum() >= 2 for e in rows)   # B and its [SEP]
    long_share = np.mean(lengths >= cfg.max_seq_length - 8)
    rows_short, _, _ = examples(corpus, short_seq_prob=1.0)
    short_lengths = np.array([e.attention_mask.sum() for e in rows_short])
    assert np.mean(short_lengths >= cfg.max_seq_length - 8) < long_share
    assert short_lengths.max() <= cfg.max_seq_length


def test_sop_pairs_swap_at_rate_one_half_and_label_one_means_swapped():
    cfg = pdata.PretrainingDataConfig(max_seq_length=64, short_seq_prob=0.1)
    rng = np.random.default_rng(3)
    labels = []
    for d in range(400):
        # sentence k of document d holds ids 1000*k + 0..9: increasing along the document
        document = [[1000 * k + j for j in range(10)] for k in range(12)]
        for a, b, swapped in pdata.sop_pairs(document, cfg, rng):
            assert len(a) + len(b) <= cfg.max_seq_length - 3 and a and b
            assert (min(a) > max(b)) == swapped     # A after B in the document exactly when swapped
            labels.append(swapped)
    assert within(np.mean(labels), 0.5, len(labels))


def test_truncation_trims_the_longer_side_from_both_ends():
    rng = np.random.default_rng(0)
    fronts = backs = 0
    for _ in range(200):
        a, b = list(range(30)), list(range(100, 105))
        pdata.truncate_seq_pair(a, b, 20, rng)
        assert len(a) == 15 and b == list(range(100, 105))
        fronts += a[0] > 0
        backs += a[-1] < 29
    assert fronts > 150 and backs > 150


def test_same_seed_same_examples_other_seed_others(corpus):
    first, _, _ = examples(corpus, n=50, seed=7)
    again, _, _ = examples(corpus, n=50, seed=7)
    other, _, _ = examples(corpus, n=50, seed=8)
    for x, y in zip(first, again):
        for field in ("input_ids", "labels", "token_type_ids", "attention_mask"):
            np.testing.assert_array_equal(getattr(x, field), getattr(y, field))
        assert x.sentence_order_label == y.sentence_order_label
    assert any(not np.array_equal(x.input_ids, y.input_ids) for x, y in zip(first, other))


def test_the_stream_reads_documents_lazily(corpus, tmp_path):
    """Examples come out before the file's end is read: a broken tail only fails when reached."""
    path, tok = corpus
    bad = tmp_path / "big.txt"
    bad.write_bytes(path.read_bytes() + b"\n\n\xff\xfe not text\n")
    cfg = pdata.PretrainingDataConfig(max_seq_length=64, dupe_factor=1, shuffle_buffer=10)
    stream = pdata.example_stream(bad, tok, cfg)
    assert len([next(stream) for _ in range(20)]) == 20
    with pytest.raises(UnicodeDecodeError):
        for _ in stream:
            pass


def test_collate_gives_model_kwargs_of_albert_for_pretraining(corpus):
    rows, tok, cfg = examples(corpus, n=8)
    batch = pdata.collate(rows)
    assert {k: v.shape for k, v in batch.items()} == {
        "input_ids": (8, 64), "attention_mask": (8, 64), "token_type_ids": (8, 64), "labels": (8, 64),
        "sentence_order_label": (8,)}
    assert batch["sentence_order_label"].tolist() == [e.sentence_order_label for e in rows]


def test_held_out_documents_are_left_out_by_use_document(corpus):
    path, _ = corpus
    all_docs = list(pdata.read_documents(path))
    odd = list(pdata.read_documents(path, use_document=lambda i: i % 2 == 1))
    assert odd == all_docs[1::2] and len(all_docs) == 60


def test_word_starts_are_google_s_start_pieces():
    starts = {p: pdata.is_word_start(p) for p in ["\u2581the", "ing", "s", "14", "(", "\u00a3", "\u00e9t\u00e9", "<unk>"]}
    assert starts == {"\u2581the": True, "ing": False, "s": False, "14": True, "(": True, "\u00a3": True,
                      "\u00e9t\u00e9": True, "<unk>": True}


def test_a_word_never_continues_across_sep():
    """[CLS] a b [SEP] c d [SEP] with only `a` starting a word: the words are (a b) and (c d), never (a b c d)."""
    ids = np.array([2, 10, 11, 3, 12, 13, 3])
    maskable = np.array([False, True, True, False, True, True, False])
    starts = np.array([True, True, False, True, False, False, True])
    cfg = pdata.PretrainingDataConfig(masked_lm_prob=2 / 7, ngram=1)
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(50):
        m = pdata.mask_ngrams(ids, maskable, starts, cfg, rng, 4, 100)
        seen.add(tuple(np.flatnonzero(m.labels != IGNORE)))
    assert seen == {(1, 2), (4, 5)}
