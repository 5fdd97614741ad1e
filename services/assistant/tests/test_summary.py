"""The embedded meeting notes: an extractive summary (the most informative
sentences, in the order said) and action items found by cue phrases, in
English and Chinese. Pure: no model."""

import pytest
from sightline_assistant.domain.summary import EXTRACTIVE, action_items, content_units, extractive_summary, sentences, summarize

PLANNING = [
    "Alice: Good morning everyone, let's start the weekly planning meeting.",
    "Bob: The new checkout page is ready for testing.",
    "Alice: Great. We need to fix the login bug before the release on Friday.",
    "Bob: I will update the test plan tomorrow.",
    "Carol: The marketing budget for next quarter is still not approved.",
    "Bob: The login bug breaks the checkout page on mobile, so the release depends on the login fix.",
    "Alice: Action item: Carol sends the budget proposal to finance by Wednesday.",
    "Bob: Um, okay.",
]
PROJECT_ZH = [
    "张三：大家好，我们开始今天的项目会议。",
    "李四：新版本的测试已经完成了百分之八十。",
    "张三：我们需要在周五前修复支付页面的问题。",
    "王五：支付页面的问题主要是在手机上，测试还发现了登录页面的问题。",
    "王五：我会明天下午把设计稿发给大家。",
    "张三：请李四整理一下测试报告。",
    "李四：好的。",
]


def test_lines_become_sentences_without_speaker_labels():
    assert sentences(["Alice: Great. We need to fix it!", "张三：好的。我们开始吧"]) == [
        "Great.",
        "We need to fix it!",
        "好的。",
        "我们开始吧",
    ]
    assert sentences(["Action item: Carol sends it."]) == ["Action item: Carol sends it."], "a label, not a speaker"
    assert sentences(["", "   "]) == []


def test_content_units_skip_stop_words_and_fillers():
    assert content_units("Um, okay, I think the login bug is back.") == ["login", "bug", "back"]
    assert "支付" in content_units("修复支付页面")
    assert content_units("我们的") == [], "function characters carry no topic"


def test_the_english_summary_keeps_what_the_meeting_returned_to_in_order():
    summary = extractive_summary(PLANNING)
    chosen = sentences([summary])
    said = sentences(PLANNING)
    assert 1 <= len(chosen) <= 3
    assert all(s in said for s in chosen), "extractive: sentences as they were said"
    assert [said.index(s) for s in chosen] == sorted(said.index(s) for s in chosen), "in the order they were said"
    assert any("login bug" in s for s in chosen), "the topic said most often is in"
    assert "Um, okay." not in chosen
    assert "Great." not in chosen


def test_the_chinese_summary_picks_informative_sentences_and_joins_them_without_spaces():
    summary = extractive_summary(PROJECT_ZH)
    assert "支付页面" in summary
    assert "好的" not in summary
    assert " " not in summary
    assert summary.endswith("。")


def test_a_point_said_twice_is_summarised_once():
    lines = ["The server migration starts on Monday.", "The server migration starts on Monday!", "Backups run every night."] * 2
    summary = extractive_summary(lines, max_sentences=2)
    assert summary.count("server migration") == 1


def test_a_meeting_of_fillers_still_gets_a_summary():
    assert extractive_summary(["Um.", "Okay."]) == "Um."
    assert extractive_summary([]) == ""


def test_english_action_items_come_from_commitments_requests_and_labels():
    assert action_items(PLANNING) == (
        "We need to fix the login bug before the release on Friday.",
        "I will update the test plan tomorrow.",
        "Carol sends the budget proposal to finance by Wednesday.",
    )


@pytest.mark.parametrize(
    "sentence",
    [
        "I'll send the slides tonight.",
        "Let's book the room for Thursday.",
        "Could you check the invoice?",
        "Please review the contract.",
        "We should call the supplier.",
        "TODO: renew the certificate.",
        "Maria will book the venue for the demo.",
        "Tom is going to call the landlord.",
    ],
)
def test_english_cue_phrases(sentence):
    assert action_items([sentence]) == (sentence.removeprefix("TODO: "),)


@pytest.mark.parametrize(
    "sentence",
    [
        "Let's start.",
        "Let's move on to the budget.",
        "The budget is fine.",
        "Thank you all.",
        "It will rain on Friday.",
        "There will be snacks.",
    ],
)
def test_running_the_meeting_and_statements_are_not_tasks(sentence):
    assert action_items([sentence]) == ()


def test_chinese_action_items_from_cues_and_deadlines():
    assert action_items(PROJECT_ZH) == (
        "我们需要在周五前修复支付页面的问题。",
        "我会明天下午把设计稿发给大家。",
        "请李四整理一下测试报告。",
    )
    assert action_items(["明天中午前把合同寄出去。"]) == ("明天中午前把合同寄出去。",)
    assert action_items(["今天天气很好。"]) == ()


def test_items_are_kept_once_capped_and_cut():
    long = "I will " + "write the report " * 30
    items = action_items(["I will call Anna.", "I will call Anna.", long] + [f"Please file ticket {n}." for n in range(20)])
    assert items[0] == "I will call Anna."
    assert items.count("I will call Anna.") == 1
    assert len(items) == 10
    assert len(items[1]) == 200
    assert items[1].endswith("…")


def test_summarize_says_it_is_extractive():
    notes = summarize(PLANNING)
    assert notes.engine == EXTRACTIVE
    assert notes.summary == extractive_summary(PLANNING)
    assert notes.action_items == action_items(PLANNING)
    assert notes.fallback_reason == ""
