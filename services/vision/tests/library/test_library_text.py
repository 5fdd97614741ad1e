"""What the full-text index sees of a photo, and what a query asks of it (pure)."""

from __future__ import annotations

from sightline_vision.library.text import index_text, normalise_tag, query_terms, quoted_terms


def test_latin_words_are_folded_and_split_on_everything_but_letters_and_digits() -> None:
    assert index_text(["Café MÜLLER: e-mail_us@ex.com, ¥28!"]) == "cafe muller e mail us ex com 28"
    assert index_text(["Straße", "ﬁle №5"]) == "strasse file no5"


def test_chinese_is_indexed_as_bigrams_then_unigrams() -> None:
    assert index_text(["禁止吸烟"]) == "禁止 止吸 吸烟 禁 止 吸 烟"
    # Scripts split apart; a bigram never joins two lines or crosses punctuation.
    assert index_text(["3号出口 EXIT", "出口，左转"]) == "3 号出 出口 exit 出口 左转 号 出 口 出 口 左 转"
    assert index_text(["カタカナ"]) == "カタ タカ カナ カ タ カ ナ"


def test_queries_become_terms_that_must_all_match() -> None:
    assert query_terms("吸烟") == [("吸烟",)]
    assert query_terms("禁止吸烟") == [("禁止", "止吸", "吸烟")]
    assert query_terms("面") == [("面",)]
    assert query_terms("No  smoking, no!") == [("no",), ("smoking",)]
    assert query_terms('"exit" OR -smoking*') == [("exit",), ("or",), ("smoking",)]
    assert query_terms("!!!") == []
    assert quoted_terms(query_terms("禁止吸烟 exit")) == '"禁止 止吸 吸烟" "exit"'


def test_every_query_phrase_is_in_the_text_it_was_cut_from() -> None:
    text = index_text(["请勿在此处吸烟 thank you"]).split()
    for query in ("吸烟", "在此处", "请勿在此处吸烟", "thank"):
        for term in query_terms(query):
            n = len(term)
            assert any(tuple(text[i : i + n]) == term for i in range(len(text)))


def test_tags_are_folded_and_single_spaced() -> None:
    assert normalise_tag("  Egyptian   Cat ") == "egyptian cat"
    assert normalise_tag("ESPRESSO") == "espresso"
