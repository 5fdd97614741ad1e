"""What the assistant says, in English and Chinese (the wearer's language
when it is one of them, else English)."""

from __future__ import annotations

PHRASES: dict[str, dict[str, str]] = {
    "photo": {"en": "Taking a photo", "zh": "正在拍照"},
    "translate_view": {"en": "Reading what you see…", "zh": "正在识别眼前的文字…"},
    "conversation_on": {"en": "Conversation translation on: {source} → {target}", "zh": "对话翻译已开启：{source} → {target}"},
    "conversation_off": {"en": "Conversation translation off", "zh": "对话翻译已关闭"},
    "price_check": {"en": "Checking the price…", "zh": "正在查询价格…"},
    "buy": {"en": "Preparing the purchase…", "zh": "正在准备购买…"},
    "add_to_cart": {"en": "Adding to your cart…", "zh": "正在加入购物车…"},
    "confirm": {"en": "Confirming…", "zh": "正在确认…"},
    "cancel": {"en": "Cancelled", "zh": "已取消"},
    "navigate": {"en": "Navigating to {destination}", "zh": "开始导航：{destination}"},
    "navigate_where": {"en": "Where to?", "zh": "要去哪里？"},
    "stop_navigation": {"en": "Navigation stopped", "zh": "导航已结束"},
    "reminder_set": {"en": "Reminder set for {when}", "zh": "已设置提醒：{when}"},
    "reminder_set_recurring": {"en": "Reminder set for {when}, {recurrence}", "zh": "已设置提醒：{when}，{recurrence}"},
    "daily": {"en": "every day", "zh": "每天"},
    "weekly": {"en": "every week", "zh": "每周"},
    "reminder_refused": {"en": "Couldn't set the reminder", "zh": "无法设置提醒"},
    "reminder": {"en": "Reminder", "zh": "提醒"},
    "schedule": {"en": "Today", "zh": "今天的日程"},
    "schedule_empty": {"en": "Nothing on your schedule today", "zh": "今天没有日程"},
    "next_event": {"en": "Next", "zh": "下一项"},
    "next_empty": {"en": "Nothing else on your schedule", "zh": "接下来没有日程"},
    "notifications": {"en": "Notifications", "zh": "通知"},
    "notifications_empty": {"en": "No new notifications", "zh": "没有新通知"},
    "note_saved": {"en": "Note saved", "zh": "笔记已保存"},
    "note_empty": {"en": "What should the note say?", "zh": "笔记要记什么？"},
    "meeting_started": {"en": "Meeting notes on", "zh": "会议记录已开始"},
    "meeting_already": {"en": "Meeting notes are already on", "zh": "会议记录已在进行"},
    "meeting_not_running": {"en": "Meeting notes are not on", "zh": "会议记录没有开始"},
    "meeting_notes": {"en": "Meeting notes", "zh": "会议记录"},
    "what_is_this_wait": {"en": "Looking…", "zh": "正在识别…"},
    "what_is_this_none": {"en": "I couldn't tell what this is", "zh": "无法识别这是什么"},
    "what_is_this": {"en": "This looks like", "zh": "这看起来是"},
    "answer": {"en": "Answer", "zh": "回答"},
    "did_you_mean": {"en": "Did you mean …?", "zh": "您是想说……？"},
    "yes": {"en": "Yes", "zh": "是"},
    "no": {"en": "No", "zh": "不是"},
    "not_understood": {"en": "Sorry, I didn't catch that", "zh": "抱歉，没听清楚"},
    "too_long": {"en": "That's too long for a command", "zh": "这条指令太长了"},
    "too_long_body": {
        "en": "{count} characters; a command is at most {limit}. It is kept in the transcript.",
        "zh": "{count} 个字符，指令最多 {limit} 个字符。已保存在记录中。",
    },
    "suggestion_expired": {"en": "That question has expired", "zh": "这个提问已过期"},
    "suggestion_expired_body": {"en": "Nothing was done. Say the command again.", "zh": "没有执行任何操作，请再说一遍。"},
    "listening": {"en": "Listening…", "zh": "请说…"},
    "briefing": {"en": "Good day", "zh": "今日简报"},
    "briefing_events": {"en": "Next: {items}", "zh": "日程：{items}"},
    "briefing_reminders": {"en": "Due: {count} reminder(s)", "zh": "待办提醒：{count} 条"},
    "briefing_unread": {"en": "Unread: {count} notification(s)", "zh": "未读通知：{count} 条"},
    "briefing_nothing": {"en": "Nothing scheduled, nothing unread", "zh": "没有日程，没有未读通知"},
}


def language_of(language: str) -> str:
    return "zh" if language.lower().startswith("zh") else "en"


def say(key: str, language: str = "en", **values: object) -> str:
    text = PHRASES[key][language_of(language)]
    return text.format(**values) if values else text
