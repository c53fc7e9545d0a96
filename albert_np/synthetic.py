"""Datasets the project makes itself, so training needs no download: every generator is deterministic given a seed.

Two tasks:
  * sentiment: short reviews labelled negative (0) or positive (1). Negation ("was not good") and contrast
    ("the food was bad but the service was great") decide the label, so counting good and bad words is not
    enough and the model has to read word order.
  * facts: little documents about countries ("france is a country in europe. its capital is paris. ...") for
    pretraining with masked-language modelling and sentence-order prediction.

Plus what turns tokenized text into training batches: shuffling, trimming padding, and BERT's MLM masking.
"""

from __future__ import annotations

import random
import re

import numpy as np

# ---- sentiment classification -------------------------------------------------------------------------

SENTIMENT_LABELS = ("negative", "positive")

SUBJECTS = ("the movie", "the film", "the food", "the service", "the hotel", "the room", "the book", "the music",
            "the staff", "the game", "the phone", "the camera", "the concert", "the show", "the trip", "the coffee",
            "the pizza", "the plot", "the acting", "the weather", "the car", "the beach", "the museum", "the class")
POSITIVE_WORDS = ("good", "great", "excellent", "wonderful", "amazing", "lovely", "fantastic", "brilliant",
                  "pleasant", "superb", "enjoyable", "perfect", "delightful", "impressive", "nice", "fun")
NEGATIVE_WORDS = ("bad", "terrible", "awful", "boring", "horrible", "poor", "dreadful", "disappointing", "bland",
                  "mediocre", "dull", "annoying", "weak", "unpleasant", "ugly", "slow")
POSITIVE_VERBS = ("loved", "liked", "enjoyed", "adored")
NEGATIVE_VERBS = ("hated", "disliked", "regretted", "loathed")
INTENSIFIERS = ("", "", "", "really ", "very ", "quite ", "truly ", "so ", "rather ", "pretty ")
NEGATED_INTENSIFIERS = ("", "", "very ", "really ", "that ", "so ")  # "not that good", never "not rather good"


def sentiment_clause(rng: random.Random, positive: bool) -> str:
    """One clause with the given polarity; a fifth of them reach it through a negation ("was not good")."""
    negated = rng.random() < 0.2
    word_positive = positive != negated
    subject = rng.choice(SUBJECTS)
    if rng.random() < 0.75:
        adjective = rng.choice(POSITIVE_WORDS if word_positive else NEGATIVE_WORDS)
        verb = rng.choice(("was", "is", "was", "seemed"))
        if not negated:
            return f"{subject} {verb} {rng.choice(INTENSIFIERS)}{adjective}"
        intensifier = rng.choice(NEGATED_INTENSIFIERS)
        if verb == "seemed":
            return f"{subject} did not seem {intensifier}{adjective}"
        return f"{subject} {verb} {rng.choice(('not ', 'never ', 'not '))}{intensifier}{adjective}"
    verb = rng.choice(POSITIVE_VERBS if word_positive else NEGATIVE_VERBS)
    if negated:
        base = {"loved": "love", "liked": "like", "enjoyed": "enjoy", "adored": "adore",
                "hated": "hate", "disliked": "dislike", "regretted": "regret", "loathed": "loathe"}[verb]
        return f"i did not {base} {subject}"
    return f"i {rng.choice(('', '', 'really ', 'truly '))}{verb} {subject}"


def sentiment_example(rng: random.Random, label: int) -> str:
    """A review whose overall polarity is `label`; in contrast sentences the clause after "but" decides."""
    positive = bool(label)
    form = rng.random()
    if form < 0.45:
        text = sentiment_clause(rng, positive)
    elif form < 0.65:
        text = f"{sentiment_clause(rng, not positive)} but {sentiment_clause(rng, positive)}"
    elif form < 0.725:
        text = f"although {sentiment_clause(rng, not positive)}, {sentiment_clause(rng, positive)}"
    elif form < 0.8:
        text = f"{sentiment_clause(rng, positive)} even though {sentiment_clause(rng, not positive)}"
    else:
        text = f"{sentiment_clause(rng, positive)} and {sentiment_clause(rng, positive)}"
    return text + rng.choice((".", ".", "!"))


def make_sentiment_dataset(n: int, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """n reviews and their labels (0 negative, 1 positive), balanced; the same seed gives the same data."""
    rng = random.Random(f"sentiment-{seed}")
    labels = np.array([i % 2 for i in range(n)], dtype=np.int64)
    rng.shuffle(labels)
    texts = [sentiment_example(rng, int(y)) for y in labels]
    return texts, labels


# ---- facts about countries, for pretraining ----------------------------------------------------------

# (country, capital, continent, language): one-word names, so each fits one masked position.
COUNTRIES = (
    ("france", "paris", "europe", "french"),
    ("germany", "berlin", "europe", "german"),
    ("italy", "rome", "europe", "italian"),
    ("spain", "madrid", "europe", "spanish"),
    ("portugal", "lisbon", "europe", "portuguese"),
    ("greece", "athens", "europe", "greek"),
    ("poland", "warsaw", "europe", "polish"),
    ("sweden", "stockholm", "europe", "swedish"),
    ("norway", "oslo", "europe", "norwegian"),
    ("finland", "helsinki", "europe", "finnish"),
    ("austria", "vienna", "europe", "german"),
    ("hungary", "budapest", "europe", "hungarian"),
    ("ireland", "dublin", "europe", "english"),
    ("england", "london", "europe", "english"),
    ("russia", "moscow", "europe", "russian"),
    ("turkey", "ankara", "asia", "turkish"),
    ("japan", "tokyo", "asia", "japanese"),
    ("china", "beijing", "asia", "chinese"),
    ("korea", "seoul", "asia", "korean"),
    ("thailand", "bangkok", "asia", "thai"),
    ("vietnam", "hanoi", "asia", "vietnamese"),
    ("indonesia", "jakarta", "asia", "indonesian"),
    ("iran", "tehran", "asia", "persian"),
    ("egypt", "cairo", "africa", "arabic"),
    ("morocco", "rabat", "africa", "arabic"),
    ("kenya", "nairobi", "africa", "swahili"),
    ("nigeria", "abuja", "africa", "english"),
    ("canada", "ottawa", "america", "english"),
    ("cuba", "havana", "america", "spanish"),
    ("peru", "lima", "america", "spanish"),
    ("chile", "santiago", "america", "spanish"),
    ("colombia", "bogota", "america", "spanish"),
    ("brazil", "brasilia", "america", "portuguese"),
    ("australia", "canberra", "oceania", "english"),
)

# A document walks through one country in this order; pronoun sentences ("its capital is ...") only make sense
# after the country was named, which is what lets sentence-order prediction tell a swapped pair.
INTRO = ("{country} is a country in {continent}.", "{country} lies in {continent}.",
         "{country} is a nation in {continent}.", "{country} is in {continent}.")
CAPITAL = ("the capital of {country} is {capital}.", "{capital} is the capital of {country}.",
           "the capital city of {country} is {capital}.", "its capital is {capital}.", "its capital city is {capital}.")
LANGUAGE = ("people in {country} speak {language}.", "the language of {country} is {language}.",
            "{language} is spoken in {country}.", "people there speak {language}.", "its people speak {language}.")
CITY = ("many tourists visit {capital} every year.", "{capital} is a big city in {country}.",
        "the government of {country} sits in {capital}.", "there are many museums in {capital}.")


def loosen_punctuation(rng: random.Random, sentence: str, probability: float = 0.25) -> str:
    """Sometimes write the final mark apart ("paris ."), as the tokenizer splits a [MASK] from a following "."

    "is [MASK]." becomes [MASK], "▁", "." (as in transformers): a model that never saw a lone "▁" before
    punctuation would guess badly right before a full stop.
    """
    if rng.random() < probability:
        return sentence[:-1] + " " + sentence[-1]
    return sentence


def fact_document(rng: random.Random, fact: tuple) -> list[str]:
    """Four sentences about one country, in the fixed narrative order intro, capital, language, city."""
    country, capital, continent, language = fact
    names = dict(country=country, capital=capital, continent=continent, language=language)
    document = []
    for templates in (INTRO, CAPITAL, LANGUAGE, CITY):
        document.append(loosen_punctuation(rng, rng.choice(templates).format(**names)))
    return document


def review_document(rng: random.Random) -> list[str]:
    """Two to four reviews in a row, so the pretrained encoder has also read the sentiment task's words."""
    return [loosen_punctuation(rng, sentiment_example(rng, rng.randrange(2))) for _ in range(rng.randint(2, 4))]


def sentence_order_pair(rng: random.Random, document: list[str]) -> tuple[str, str, int]:
    """ALBERT's SOP example: two consecutive sentences A, B of a document; label 1 when they are swapped.

    (ALBERT uses spans of several sentences; one sentence each keeps sequences short, which is what costs time.)
    """
    cut = rng.randrange(1, len(document))
    a, b = document[cut - 1], document[cut]
    if rng.random() < 0.5:
        return b, a, 1
    return a, b, 0


def make_pretraining_pairs(n: int, seed: int = 0, review_fraction: float = 0.1):
    """n sentence-order pairs (text_a, text_b, label) from fact documents, plus some from review documents."""
    rng = random.Random(f"facts-{seed}")
    text_a, text_b, order = [], [], []
    for _ in range(n):
        if rng.random() < review_fraction:
            document = review_document(rng)
        else:
            document = fact_document(rng, rng.choice(COUNTRIES))
        a, b, label = sentence_order_pair(rng, document)
        text_a.append(a)
        text_b.append(b)
        order.append(label)
    return text_a, text_b, np.array(order, dtype=np.int64)


def tokenizer_corpus(seed: int = 0, documents: int = 3000) -> list[str]:
    """Lines to train the SentencePiece model on: fact and review documents, then every word once on its own line.

    The word list matters: SentencePiece's unigram trainer seeds its vocabulary with substrings that are followed
    by more than one thing, and in template text a word like "of" is always followed by a space, so without the
    list "▁of" never becomes a piece and frequent words come out split ("▁", "of").
    """
    rng = random.Random(f"corpus-{seed}")
    lines = []
    for _ in range(documents):
        lines.extend(fact_document(rng, rng.choice(COUNTRIES)))
        lines.extend(review_document(rng))
    words = sorted({word for line in lines for word in re.findall(r"[a-z]+", line)})
    return lines + words


# ---- batches ------------------------------------------------------------------------------------------


def trim_padding(batch: dict, mask_key: str = "attention_mask") -> dict:
    """Cut the columns that are padding in every row, so a batch of short texts runs at its own length."""
    mask = batch[mask_key]
    length = int(np.max(np.nonzero(mask.any(axis=0))[0])) + 1 if mask.any() else 1
    return {k: v[:, :length] if v.ndim == 2 and v.shape[1] == mask.shape[1] else v for k, v in batch.items()}


def iterate_batches(arrays: dict, batch_size: int, seed: int = 0, shuffle: bool = True, forever: bool = True):
    """Yield dicts of row slices of `arrays` (all with the same first dimension), reshuffled every epoch.

    With forever=False it makes one pass and the last batch may be smaller; padding columns are trimmed.
    """
    n = len(next(iter(arrays.values())))
    if any(len(v) != n for v in arrays.values()):
        raise ValueError(f"every array must have the same number of rows; got { {k: len(v) for k, v in arrays.items()} }")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    rng = np.random.default_rng(seed)
    while True:
        order = rng.permutation(n) if shuffle else np.arange(n)
        for begin in range(0, n, batch_size):
            rows = order[begin:begin + batch_size]
            if forever and len(rows) < batch_size:
                break  # an endless stream only yields full batches, so every step weighs the same
            batch = {k: v[rows] for k, v in arrays.items()}
            yield trim_padding(batch) if "attention_mask" in batch else batch
        if not forever:
            return


def mask_tokens(input_ids, special_mask, mask_token_id: int, vocab_size: int, rng: np.random.Generator,
                probability: float = 0.15, first_random_id: int = 0, salient_mask=None, salient_probability=0.0):
    """BERT/ALBERT masking: pick `probability` of the ordinary tokens as targets; of those 80% become [MASK],
    10% a random token and 10% stay as they are. Returns (masked input_ids, labels with -100 elsewhere).

    Every row gets at least one target, so a batch never has an all-ignored loss (which would be NaN).
    `first_random_id` keeps random replacements away from the control symbols below it. With `salient_mask`
    (True on entity names), a row also gets one of its entities as a target with chance `salient_probability`:
    REALM's salient-span masking, which makes a small model learn facts in far fewer steps.
    """
    ids = np.array(input_ids, dtype=np.int64, copy=True)
    ordinary = ~np.asarray(special_mask, dtype=bool)
    chosen = (rng.random(ids.shape) < probability) & ordinary
    if salient_mask is not None:
        salient = np.asarray(salient_mask, dtype=bool) & ordinary
        rows = np.nonzero(salient.any(axis=1) & (rng.random(len(ids)) < salient_probability))[0]
        for row in rows:
            chosen[row, rng.choice(np.nonzero(salient[row])[0])] = True
    for row in np.nonzero(~chosen.any(axis=1) & ordinary.any(axis=1))[0]:
        chosen[row, rng.choice(np.nonzero(ordinary[row])[0])] = True
    labels = np.where(chosen, ids, -100)
    fate = rng.random(ids.shape)
    ids[chosen & (fate < 0.8)] = mask_token_id
    swap = chosen & (fate >= 0.8) & (fate < 0.9)
    ids[swap] = rng.integers(first_random_id, vocab_size, size=int(swap.sum()))
    return ids, labels


def entity_words() -> list[str]:
    """Every country, capital, continent and language name: the salient spans of the facts corpus."""
    return sorted({word for fact in COUNTRIES for word in fact})


def mlm_batches(arrays: dict, batch_size: int, special_ids, mask_token_id: int, vocab_size: int, seed: int = 0,
                probability: float = 0.15, salient_ids=(), salient_probability: float = 0.0):
    """An endless stream of pretraining batches, masked afresh each time a row comes round (dynamic masking).

    `arrays` holds input_ids, attention_mask, token_type_ids and sentence_order_label; the special ids
    ([CLS], [SEP], <pad>, ...) are never masked; `salient_ids` are the entity tokens for salient-span masking.
    """
    rng = np.random.default_rng(seed + 1)
    first_random_id = max(special_ids) + 1
    for batch in iterate_batches(arrays, batch_size, seed=seed):
        special = np.isin(batch["input_ids"], list(special_ids))
        salient = np.isin(batch["input_ids"], list(salient_ids)) if len(salient_ids) else None
        batch["input_ids"], batch["labels"] = mask_tokens(batch["input_ids"], special, mask_token_id, vocab_size,
                                                          rng, probability, first_random_id, salient,
                                                          salient_probability)
        yield batch
