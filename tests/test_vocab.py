"""A vocabulary trained from text in ALBERT's layout, loaded alike by albert_np and transformers (held-out text)."""

import sentencepiece as spm
import pytest

import albert_np as an
from albert_np.vocab import CONTROL_SYMBOLS, USER_DEFINED_SYMBOLS, preprocess_text, spm_model_bytes, train_vocab


def split_topics():
    """Python's help topics as sentences: the first 50 topics train, the last 10 are held out."""
    from pydoc_data.topics import topics

    names = sorted(topics)
    def sentences(name):
        return [s for s in (" ".join(x.split()) for x in topics[name].replace("\n\n", ". ").split(". ")) if s]
    return ([s for n in names[:50] for s in sentences(n)], [s for n in names[-10:] for s in sentences(n)])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    train, heldout = split_topics()
    folder = tmp_path_factory.mktemp("vocab")
    tokenizer = train_vocab(train, folder, vocab_size=800)
    return folder, tokenizer, heldout


def test_layout_is_albert_s(trained):
    folder, tokenizer, _ = trained
    sp = spm.SentencePieceProcessor(model_file=str(folder / "spiece.model"))
    assert [sp.id_to_piece(i) for i in range(5)] == ["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"]
    assert [sp.is_control(i) for i in range(5)] == [True, False, True, True, True]
    assert sp.is_unknown(1) and sp.bos_id() == -1 and sp.eos_id() == -1
    assert sp.get_piece_size() == len(tokenizer) == 800
    for symbol in USER_DEFINED_SYMBOLS:        # the README's --user_defined_symbols: pieces of their own
        assert sp.piece_to_id(symbol) != 1
    assert (tokenizer.pad_token_id, tokenizer.unk_token_id, tokenizer.cls_token_id, tokenizer.sep_token_id,
            tokenizer.mask_token_id) == (0, 1, 2, 3, 4)
    assert tuple(tokenizer.convert_ids_to_tokens([2, 3, 4])) == CONTROL_SYMBOLS


def test_no_upper_case_or_accented_pieces_were_learned(trained):
    folder, _, _ = trained
    sp = spm.SentencePieceProcessor(model_file=str(folder / "spiece.model"))
    pieces = [sp.id_to_piece(i) for i in range(5, sp.get_piece_size())]
    assert not [p for p in pieces if p != p.lower()]
    assert not [p for p in pieces if any(c in p for c in "éàüç")]


def test_preprocess_text_is_google_s():
    assert preprocess_text("  Café  ``Crème''\tBRÛLÉE ") == 'cafe "creme" brulee'
    assert preprocess_text("Café", lower=False) == "Cafe"


def test_albert_np_and_transformers_agree_on_held_out_text(trained):
    transformers = pytest.importorskip("transformers")
    folder, _, heldout = trained
    ours = an.AlbertTokenizer.from_pretrained(folder)
    theirs = transformers.AlbertTokenizer.from_pretrained(str(folder))
    assert len(heldout) > 100
    texts = heldout + ["Ünïcödé façade, £5 and €3 -- “quotes” (nested [MASK] here)."]
    assert ours(texts)["input_ids"] == theirs(texts)["input_ids"]
    pair = dict(text=texts[:20], text_pair=texts[20:40], return_token_type_ids=True)
    assert ours(**pair)["token_type_ids"] == theirs(**pair)["token_type_ids"]
    unknown = sum(ids.count(1) for ids in ours(heldout)["input_ids"])
    assert unknown < 0.01 * sum(len(ids) for ids in ours(heldout)["input_ids"])


def test_training_is_deterministic():
    train, _ = split_topics()
    lines = [preprocess_text(s) for s in train[:800]]
    assert spm_model_bytes(lines, 300) == spm_model_bytes(lines, 300)


def test_too_small_a_vocabulary_names_the_argument(tmp_path):
    with pytest.raises(ValueError, match=r"vocab_size=8 is too small.*at least 14"):
        train_vocab(["some text here"], tmp_path, vocab_size=8)
    assert list(tmp_path.iterdir()) == []
