"""The per-device glossary: how terms are matched and protected, and the
JetStream KV store with its watched mirror (real nats-server)."""

import asyncio
import base64

import nats
import pytest
from sightline.v1.translation_pb2 import GlossaryEntry
from sightline_runtime.subjects import InvalidDeviceId
from sightline_translation.glossary import Glossary, GlossaryError, _Matcher, entry_key, neutralise
from sightline_translation.languages import InvalidLanguage, Pair

EN_ES = Pair("en", "es")
ZH_EN = Pair("zh", "en")


def _entry(term, translation, pair=EN_ES):
    return GlossaryEntry(source_language=pair.source, target_language=pair.target, term=term, translation=translation)


def test_terms_match_whole_words_case_insensitively_longest_first():
    matcher = _Matcher([_entry("glasses", "gafas"), _entry("smart glasses", "gafas inteligentes"), _entry("AI", "IA")])
    protected = matcher.protect("My Smart Glasses and my glasses use AI, not FAIR or aid.")
    assert protected.text == "My ⟦0⟧ and my ⟦1⟧ use ⟦2⟧, not FAIR or aid."
    assert protected.terms == ["smart glasses", "glasses", "AI"]
    assert protected.restore("Mis ⟦0⟧ y mis ⟦1⟧ usan ⟦2⟧.") == "Mis gafas inteligentes y mis gafas usan IA."


def test_cjk_terms_match_inside_a_sentence_without_word_boundaries():
    matcher = _Matcher([_entry("小心地滑", "Caution: wet floor", ZH_EN)])
    protected = matcher.protect("请注意小心地滑！")
    assert protected.text == "请注意⟦0⟧！"
    assert protected.restore("Please note ⟦ 0 ⟧!") == "Please note Caution: wet floor!"


def test_placeholders_typed_by_a_user_are_not_placeholders():
    assert neutralise("see ⟦0⟧") == "see [0]"


def test_keys_are_token_safe_for_any_term():
    for term in ("smart glasses", "a.b.c", "小心地滑", "C++/C#", "emoji 👓", "x" * 100):
        key = entry_key("dev-1", EN_ES, term)
        device, source, target, encoded = key.split(".")
        assert (device, source, target) == ("dev-1", "en", "es")
        assert all(c.isalnum() or c in "-_" for c in encoded)
        assert base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode() == term.casefold()
    assert entry_key("d", EN_ES, "Glasses") == entry_key("d", EN_ES, "glasses"), "one entry per term, whatever its case"


@pytest.fixture
async def js(nats_server):
    nc = await nats.connect(nats_server.url)
    yield nc.jetstream()
    await nc.drain()


async def test_add_list_remove_through_the_kv(js):
    admin = Glossary(js)
    await admin.add("alpha", "en-US", "es", "  glasses ", "gafas")
    await admin.add("alpha", "zh", "en", "小心地滑", "Caution: wet floor")
    await admin.add("alpha", "en", "es", "GLASSES", "anteojos")  # same term: replaced
    await admin.add("bravo", "en", "es", "phone", "móvil")
    listed = await admin.list("alpha")
    assert [(e.source_language, e.target_language, e.term, e.translation) for e in listed] == [
        ("en", "es", "GLASSES", "anteojos"),
        ("zh", "en", "小心地滑", "Caution: wet floor"),
    ]
    assert await admin.remove("alpha", "en", "es", "glasses") is True
    assert await admin.remove("alpha", "en", "es", "glasses") is False
    assert [e.term for e in await admin.list("alpha")] == ["小心地滑"]
    assert [e.term for e in await admin.list("nobody")] == []


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("bad device!", "en", "es", "a", "b"), InvalidDeviceId),
        (("d", "english", "es", "a", "b"), InvalidLanguage),
        (("d", "en", "en-GB", "a", "b"), GlossaryError),
        (("d", "en", "es", " ", "b"), GlossaryError),
        (("d", "en", "es", "x" * 101, "b"), GlossaryError),
        (("d", "en", "es", "a", "⟦0⟧"), GlossaryError),
        (("d", "en", "es", "a\nb", "c"), GlossaryError),
    ],
)
async def test_bad_entries_are_refused(js, args, error):
    with pytest.raises(error):
        await Glossary(js).add(*args)


async def test_the_service_mirror_follows_changes_made_elsewhere(js):
    mirror = Glossary(js)
    await Glossary(js).add("alpha", "en", "es", "glasses", "gafas")
    await mirror.start()
    assert mirror.synced
    assert mirror.protect("alpha", EN_ES, "my glasses").terms == ["glasses"], "existing entries are mirrored at start"
    assert mirror.protect("bravo", EN_ES, "my glasses").terms == [], "glossaries are per device"
    assert mirror.protect("alpha", Pair("en", "zh"), "my glasses").terms == [], "and per language pair"

    admin = Glossary(js)
    await admin.add("alpha", "en", "es", "Sightline", "Sightline")
    await admin.remove("alpha", "en", "es", "glasses")
    async with asyncio.timeout(5):
        while mirror.protect("alpha", EN_ES, "Sightline glasses").terms != ["Sightline"]:
            await asyncio.sleep(0.02)
    await mirror.stop()


async def test_a_corrupt_kv_value_is_ignored_not_fatal(js, caplog):
    mirror = Glossary(js)
    await mirror.start()
    kv = await js.key_value("glossary")
    await kv.put(entry_key("alpha", EN_ES, "glasses"), b"\xff\xfe not a protobuf")
    await kv.put("alpha.en.es.Zm9v", _entry("other term", "x").SerializeToString())  # key names another term
    await Glossary(js).add("alpha", "en", "es", "phone", "móvil")
    async with asyncio.timeout(5):
        while mirror.protect("alpha", EN_ES, "phone").terms != ["phone"]:
            await asyncio.sleep(0.02)
    assert mirror.protect("alpha", EN_ES, "glasses other term").terms == []
    assert "ignoring it" in caplog.text
    await mirror.stop()
