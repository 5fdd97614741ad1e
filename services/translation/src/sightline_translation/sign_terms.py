"""Common public signs, as signs say them.

A dictionary engine translates 收银台 as "checkout counter" and 安全出口 as
"safe exit": right words, not what a sign in English says. A photo's text
region that is exactly one of these (after trimming punctuation and
spaces) takes the wording below; everything else goes to the engines. Kept
to signs whose English is settled (GB/T 30240 public-service signage uses
the same), so the table is a lexicon, not a cache of answers.
"""

from __future__ import annotations

import re

ZH_EN: dict[str, str] = {
    "出口": "Exit",
    "入口": "Entrance",
    "安全出口": "Emergency exit",
    "紧急出口": "Emergency exit",
    "收银台": "Cashier",
    "收款台": "Cashier",
    "服务台": "Service desk",
    "问询处": "Information",
    "售票处": "Ticket office",
    "禁止吸烟": "No smoking",
    "请勿吸烟": "No smoking",
    "禁止拍照": "No photography",
    "请勿拍照": "No photography",
    "禁止停车": "No parking",
    "禁止通行": "No entry",
    "闲人免进": "Staff only",
    "非工作人员禁止入内": "Staff only",
    "请勿触摸": "Do not touch",
    "小心地滑": "Caution: wet floor",
    "小心台阶": "Mind the step",
    "小心碰头": "Mind your head",
    "注意安全": "Caution",
    "危险": "Danger",
    "洗手间": "Restroom",
    "卫生间": "Restroom",
    "厕所": "Toilet",
    "男": "Men",
    "女": "Women",
    "推": "Push",
    "拉": "Pull",
    "电梯": "Elevator",
    "扶梯": "Escalator",
    "楼梯": "Stairs",
    "营业中": "Open",
    "休息中": "Closed",
    "暂停营业": "Temporarily closed",
    "停车场": "Parking",
    "行李寄存": "Left luggage",
    "候车室": "Waiting room",
    "地铁站": "Metro station",
    "火车站": "Train station",
    "公交车站": "Bus stop",
    "出租车": "Taxi",
    "饮用水": "Drinking water",
    "非饮用水": "Non-drinking water",
    "药店": "Pharmacy",
    "医院": "Hospital",
    "银行": "Bank",
    "超市": "Supermarket",
    "餐厅": "Restaurant",
    "咖啡馆": "Café",
    "请排队": "Please queue",
    "无障碍通道": "Accessible entrance",
    "急诊": "Emergency",
}

_TRIM = re.compile(r"[\s\u3000!！。.,，:：;；·\-—]+")


def sign_wording(text: str, source: str, target: str) -> str | None:
    """How a sign says `text` in `target`, when it is one of the common signs."""
    if (source, target) != ("zh", "en"):
        return None
    return ZH_EN.get(_TRIM.sub("", text))
