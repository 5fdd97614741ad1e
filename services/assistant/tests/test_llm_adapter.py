"""The assistant's LLM adapter against a real small model (SmolLM2-135M on
llama.cpp, the session's `llm_server`), faults through the `llm_proxy` in
front of it. A 135M model knows little and ignores formats: the tests
assert that the model's answer came back, cleaned and parsed, in the
wearer's language as asked, and that every failure falls back in time and
says so. The parser of a model's notes is also tested on written replies."""

import logging
import time

import pytest
from pydantic import SecretStr
from sightline_assistant.domain import summary as extractive
from sightline_assistant.engines.llm import (
    CANT_ANSWER,
    NO_ENGINE,
    SUMMARY_CHARS,
    AnswerConfig,
    LlmAnswerer,
    LlmSummarizer,
    SummaryConfig,
    UnparseableNotes,
    clean_answer,
    parse_notes,
)
from sightline_runtime.llm_faults import RAMBLE

SECRET = "sk-assistant-never-log-me-777"
# Generous for the real model on a loaded 2-core machine; the slow cases set their own.
TIMEOUT_S = 30.0
MEETING = [
    "Good morning everyone, let's start the weekly planning meeting.",
    "The new checkout page is ready for testing.",
    "We need to fix the login bug before the release on Friday.",
    "I will update the test plan tomorrow.",
]


@pytest.fixture
async def answerer(llm_proxy, llm_server):
    config = AnswerConfig(endpoint=llm_proxy.url, model=llm_server.model, timeout_s=TIMEOUT_S, max_tokens=64, api_key=SecretStr(SECRET))
    engine = await LlmAnswerer(config).start()
    yield engine
    await engine.close()


@pytest.fixture
async def summarizer(llm_proxy, llm_server):
    config = SummaryConfig(endpoint=llm_proxy.url, model=llm_server.model, timeout_s=TIMEOUT_S, max_tokens=96, api_key=SecretStr(SECRET))
    engine = await LlmSummarizer(config).start()
    yield engine
    await engine.close()


# --- answers ---
async def test_an_open_question_gets_the_models_answer(answerer, llm_proxy, llm_server):
    answer = await answerer.answer("What is a good name for a cat?", language="en-US")
    [exchange] = llm_proxy.chat_exchanges
    assert (answer.engine, answer.language, answer.fallback_reason) == (llm_server.model, "en", "")
    assert answer.text, "the model said something"
    assert answer.text == clean_answer(exchange.model_content), "the model's own words, cleaned"
    assert exchange.headers["authorization"] == f"Bearer {SECRET}"
    system, user = exchange.request["messages"]
    assert "in English" in system["content"]
    assert user == {"role": "user", "content": "What is a good name for a cat?"}
    assert exchange.request["temperature"] == 0
    assert exchange.request["max_tokens"] == 64


async def test_the_question_is_asked_in_the_wearers_language_with_what_vision_saw(answerer, llm_proxy, llm_server):
    seen = "a red bicycle leaning on a wall; text on it: 'City Bikes'"
    answer = await answerer.answer("我在看什么？", language="zh-CN", context=seen)
    [exchange] = llm_proxy.chat_exchanges
    system = exchange.request["messages"][0]["content"]
    assert "in Chinese" in system
    assert seen in system, "the context reached the model"
    assert (answer.engine, answer.language) == (llm_server.model, "zh")
    assert answer.text == clean_answer(exchange.model_content)
    assert 0 < len(answer.text) <= 300, "cut to a card's length even when the model runs on"


# mode, the answer's timeout, the reason's prefix
ANSWER_FAILURES = [
    ("status_500", TIMEOUT_S, "http: "),
    ("not_json", TIMEOUT_S, "malformed: "),
    ("garbage", TIMEOUT_S, "malformed: "),
    ("delay", 0.5, "timeout: "),
    ("down", TIMEOUT_S, "unreachable: "),
]


@pytest.mark.parametrize(("mode", "timeout_s", "reason"), ANSWER_FAILURES)
async def test_a_failing_llm_still_gets_the_wearer_a_reply_in_their_language(llm_proxy, llm_server, caplog, mode, timeout_s, reason):
    config = AnswerConfig(endpoint=llm_proxy.url, model=llm_server.model, timeout_s=timeout_s, api_key=SecretStr(SECRET))
    answerer = await LlmAnswerer(config).start()
    if mode == "down":
        llm_proxy.stop()
    else:
        llm_proxy.mode, llm_proxy.delay_s = mode, 5.0
    started = time.perf_counter()
    with caplog.at_level(logging.DEBUG):
        answer = await answerer.answer("附近有什么好吃的？", language="zh")
    elapsed = time.perf_counter() - started
    await answerer.close()
    assert (answer.engine, answer.text, answer.language) == (NO_ENGINE, CANT_ANSWER["zh"], "zh")
    assert answer.fallback_reason.startswith(reason)
    if mode == "delay":
        assert elapsed < 1.5, "a slow endpoint costs at most the timeout"
    assert any(getattr(r, "reason", "") == reason.rstrip(": ") for r in caplog.records), "the failure is logged with its reason"
    assert SECRET not in caplog.text
    assert SECRET not in answer.fallback_reason


async def test_without_an_endpoint_or_a_question_there_is_no_request():
    answerer = await LlmAnswerer(AnswerConfig()).start()
    assert (await answerer.answer("What time is it in Tokyo?", language="en")).fallback_reason == "no LLM configured"
    assert (await answerer.answer("  ", language="fr")).text == CANT_ANSWER["en"], "a language without its own phrase gets English"
    await answerer.close()


def test_answers_are_cut_to_a_few_distinct_sentences():
    assert clean_answer("Answer: **Paris** is the capital.") == "Paris is the capital."
    looping = "It is sunny. It is sunny. It is sunny. Take a hat. Drink water. Rest."
    assert clean_answer(looping) == "It is sunny. Take a hat. Drink water."
    assert clean_answer("第一句。第二句。第一句。第三句。第四句。") == "第一句。第二句。第三句。"
    assert clean_answer("First part.\n\nAn unrelated second paragraph.") == "First part."
    assert len(clean_answer("word " * 200)) == 300


# --- meeting notes ---
async def test_a_meeting_is_summarised_by_the_model(summarizer, llm_proxy, llm_server):
    notes = await summarizer.summarize(MEETING, language="en")
    [exchange] = llm_proxy.chat_exchanges
    assert (notes.engine, notes.fallback_reason) == (llm_server.model, "")
    assert notes.summary, "the model wrote something the parser took as a summary"
    assert (notes.summary, notes.action_items) == parse_notes(exchange.model_content), "parsed from the model's reply"
    system, user = exchange.request["messages"]
    assert "SUMMARY:" in system["content"]
    assert "in English" in system["content"]
    assert user["content"] == "\n".join(MEETING)


async def test_a_rambling_model_is_cut_to_its_summary(summarizer, llm_proxy, llm_server):
    llm_proxy.mode = "ramble"
    notes = await summarizer.summarize(MEETING, language="en")
    assert notes.engine == llm_server.model
    assert RAMBLE.strip() not in notes.summary, "the ramble after the notes is dropped"
    assert 0 < len(notes.summary) <= SUMMARY_CHARS


# mode, the summary's timeout, the reason's prefix
SUMMARY_FAILURES = [
    ("status_500", TIMEOUT_S, "http: "),
    ("not_json", TIMEOUT_S, "malformed: "),
    ("garbage", TIMEOUT_S, "malformed: "),
    ("delay", 0.5, "timeout: "),
]


@pytest.mark.parametrize(("mode", "timeout_s", "reason"), SUMMARY_FAILURES)
async def test_a_failing_llm_falls_back_to_the_extractive_notes(llm_proxy, llm_server, caplog, mode, timeout_s, reason):
    summarizer = await LlmSummarizer(SummaryConfig(endpoint=llm_proxy.url, model=llm_server.model, timeout_s=timeout_s)).start()
    llm_proxy.mode, llm_proxy.delay_s = mode, 5.0
    started = time.perf_counter()
    with caplog.at_level(logging.WARNING):
        notes = await summarizer.summarize(MEETING, language="en")
    elapsed = time.perf_counter() - started
    await summarizer.close()
    local = extractive.summarize(MEETING)
    assert (notes.engine, notes.summary, notes.action_items) == ("extractive", local.summary, local.action_items)
    assert notes.fallback_reason.startswith(reason)
    assert notes.action_items == ("We need to fix the login bug before the release on Friday.", "I will update the test plan tomorrow.")
    if mode == "delay":
        assert elapsed < 1.5
    assert any("extractive notes instead" in r.getMessage() for r in caplog.records)


async def test_a_transcript_too_long_for_the_model_gets_extractive_notes_without_a_request(llm_proxy, llm_server):
    config = SummaryConfig(endpoint=llm_proxy.url, model=llm_server.model, max_input_chars=100)
    summarizer = await LlmSummarizer(config).start()
    notes = await summarizer.summarize(MEETING * 3, language="en")
    await summarizer.close()
    assert notes.engine == "extractive"
    assert notes.fallback_reason == "transcript over 100 characters"
    assert llm_proxy.chat_exchanges == []


async def test_no_endpoint_or_no_words_means_extractive_notes():
    summarizer = await LlmSummarizer(SummaryConfig()).start()
    notes = await summarizer.summarize(MEETING, language="en")
    assert (notes.engine, notes.fallback_reason) == ("extractive", "no LLM configured")
    assert (await summarizer.summarize(["", " "], language="en")).summary == ""
    await summarizer.close()


def test_notes_in_the_asked_format_are_parsed_and_the_ramble_after_them_dropped():
    reply = (
        "**Summary:** The team plans the release. The login bug must be fixed first.\n\n"
        "**Action items:**\n- Bob updates the test plan tomorrow.\n2. Carol sends the budget by Wednesday.\n"
        "- Bob updates the test plan tomorrow.\n\nI hope this helps! Let me know if you need anything else."
    )
    assert parse_notes(reply) == (
        "The team plans the release. The login bug must be fixed first.",
        ("Bob updates the test plan tomorrow.", "Carol sends the budget by Wednesday."),
    )
    assert parse_notes("总结：团队讨论了支付页面的问题。\n行动项：\n- 无") == ("团队讨论了支付页面的问题。", ())


def test_notes_without_the_format_take_the_first_paragraph():
    assert parse_notes("The page is ready. Bob tests it.\n- Bob tests the page\n\nMore talk.") == (
        "The page is ready. Bob tests it.",
        ("Bob tests the page",),
    )


@pytest.mark.parametrize("reply", ["", "   \n\n", "SUMMARY: <one to three sentences>\nACTION ITEMS:\n- <one task per line>"])
def test_a_reply_without_notes_is_unparseable(reply):
    with pytest.raises(UnparseableNotes):
        parse_notes(reply)
