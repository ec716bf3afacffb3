"""Classify a hit before it is counted: human, bot, preview, head, prefetch.

Pure rules over the method and a few headers; the worker may refine them.
"""

from __future__ import annotations

import re

# Link unfurlers: they fetch a link to draw a preview card, no person behind them.
_PREVIEW = re.compile(
    r"slackbot|slack-imgproxy|twitterbot|facebookexternalhit|facebookcatalog|telegrambot"
    r"|discordbot|whatsapp|linkedinbot|skypeuripreview|embedly|redditbot|pinterest"
    r"|vkshare|iframely|applebot|mastodon",
    re.IGNORECASE,
)
_BOT = re.compile(
    r"bot\b|bot/|crawler|spider|crawl|slurp|bingpreview|headless|curl/|wget/|python-requests"
    r"|python-urllib|httpx|aiohttp|go-http-client|java/|okhttp|libwww|scrapy|phantomjs"
    r"|lighthouse|pingdom|uptimerobot|monitor",
    re.IGNORECASE,
)


def classify(method: str, user_agent: str, purpose: str = "") -> str:
    if method == "HEAD":
        return "head"
    if purpose and "prefetch" in purpose.lower():
        return "prefetch"
    if not user_agent.strip():
        return "bot"
    if _PREVIEW.search(user_agent):
        return "preview"
    if _BOT.search(user_agent):
        return "bot"
    return "human"


def counts_as_click(cls: str) -> bool:
    """HEAD requests get the redirect but are not clicks."""
    return cls != "head"
