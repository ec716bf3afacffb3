"""Classify a hit before it is counted: human, bot, preview, head, prefetch.

Pure rules over the method and a few headers; the worker may refine them.
Order matters: HEAD and prefetch say how the request was made, whatever
the agent; unfurlers are looked for before crawlers because many of them
call themselves ``…bot`` (Slackbot, Twitterbot, Discordbot, TelegramBot).
"""

from __future__ import annotations

import re
from functools import lru_cache

# Substring tests on the lower-cased agent: one pass of ``in`` per token is
# far cheaper than a large alternation regex searched at every position.
# Link unfurlers: they fetch a link to draw a preview card, no person behind them.
_PREVIEW = (
    "slackbot", "slack-imgproxy", "slack-screenshot", "twitterbot", "facebookexternalhit",
    "facebot", "facebookcatalog", "meta-externalagent", "telegrambot", "discordbot", "whatsapp/",
    "linkedinbot", "skypeuripreview", "microsoftpreview", "embedly", "redditbot", "pinterestbot",
    "vkshare", "iframely", "mastodon/", "line-poker", "kakaotalk-scrap", "google-pagerenderer",
    "bitlybot", "quora link preview", "nuzzel", "zoombot", "mattermost", "rocket.chat", "bluesky",
    "cardyb", "preview",
)  # fmt: skip
# Crawlers, monitors, scripts and headless browsers.
_BOT = (
    "crawler", "spider", "crawl", "slurp", "headless", "curl/", "wget/", "python-requests",
    "python-urllib", "python-httpx", "httpx/", "aiohttp", "go-http-client", "java/", "okhttp",
    "libwww", "scrapy", "phantomjs", "lighthouse", "pingdom", "uptimerobot", "monitor",
    "apache-httpclient", "node-fetch", "axios/", "postmanruntime", "insomnia",
    "mediapartners-google", "adsbot-google", "google-inspectiontool", "feedfetcher", "gptbot",
    "claudebot", "ccbot", "bytespider", "petalbot", "yandex", "baiduspider", "semrush", "ahrefs",
    "mj12bot", "dotbot", "archive.org_bot", "ia_archiver", "httrack", "nutch", "zgrab", "masscan",
    "nmap", "nikto", "sqlmap", "selenium", "puppeteer", "playwright", "cypress",
)  # fmt: skip
_BOT_WORD = re.compile(r"bot(?:\b|[/-])")  # Googlebot/2.1, bingbot, AhrefsBot; not "Cubot_X19"


@lru_cache(maxsize=8192)
def classify_agent(user_agent: str) -> str:
    """human, bot or preview, from the user agent alone (cached: agents repeat)."""
    ua = user_agent.strip().lower()
    if not ua:
        return "bot"
    if any(token in ua for token in _PREVIEW):
        return "preview"
    if _BOT_WORD.search(ua) or any(token in ua for token in _BOT):
        return "bot"
    return "human"


def classify(method: str, user_agent: str, purpose: str = "") -> str:
    if method == "HEAD":
        return "head"
    if purpose and "prefetch" in purpose.lower():
        return "prefetch"
    return classify_agent(user_agent)


def counts_as_click(cls: str) -> bool:
    """HEAD requests get the redirect but are not clicks."""
    return cls != "head"


_TABLET = ("ipad", "tablet", "kindle", "silk/", "playbook", "sm-t")
_MOBILE = ("mobile", "iphone", "ipod", "android", "windows phone", "blackberry", "opera mini")


@lru_cache(maxsize=8192)
def device_of(user_agent: str) -> str:
    """A coarse device class for the ``{device}`` macro: mobile, tablet, desktop or ''."""
    ua = user_agent.lower()
    if not ua:
        return ""
    if any(t in ua for t in _TABLET) or ("android" in ua and "mobile" not in ua):
        return "tablet"
    if any(t in ua for t in _MOBILE):
        return "mobile"
    return "desktop"
