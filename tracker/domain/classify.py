"""Classify a hit before it is counted: human, bot, preview, head, prefetch.

Pure rules over the method and a few headers; the worker may refine them.
Order matters: HEAD and prefetch say how the request was made, whatever
the agent; unfurlers are looked for before crawlers because many of them
call themselves ``…bot`` (Slackbot, Twitterbot, Discordbot, TelegramBot).
"""

from __future__ import annotations

import re

# Link unfurlers: they fetch a link to draw a preview card, no person behind them.
_PREVIEW = re.compile(
    r"slackbot|slack-imgproxy|slack-screenshot|twitterbot|facebookexternalhit|facebot"
    r"|facebookcatalog|meta-externalagent|telegrambot|discordbot|whatsapp/|linkedinbot"
    r"|skypeuripreview|microsoftpreview|embedly|redditbot|pinterestbot|vkshare|iframely"
    r"|mastodon/|line-poker|kakaotalk-scrap|google-pagerenderer|bitlybot|quora link preview"
    r"|nuzzel|zoombot|mattermost|rocket\.chat|bluesky|cardyb|preview",
    re.IGNORECASE,
)
# Crawlers, monitors, scripts and headless browsers.
_BOT = re.compile(
    r"bot\b|bot/|bot-|crawler|spider|crawl|slurp|bingpreview|headless|curl/|wget/|python-requests"
    r"|python-urllib|python-httpx|httpx/|aiohttp|go-http-client|java/|okhttp|libwww|scrapy"
    r"|phantomjs|lighthouse|pingdom|uptimerobot|monitor|apache-httpclient|node-fetch|axios/"
    r"|postmanruntime|insomnia|mediapartners-google|adsbot-google|google-inspectiontool"
    r"|feedfetcher|facebookbot|gptbot|claudebot|ccbot|bytespider|petalbot|yandex|baiduspider"
    r"|semrush|ahrefs|mj12bot|dotbot|archive\.org_bot|ia_archiver|httrack|nutch|zgrab|masscan"
    r"|nmap|nikto|sqlmap|selenium|puppeteer|playwright|cypress",
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


_TABLET = re.compile(r"ipad|tablet|kindle|silk/|playbook|sm-t\d|(android(?!.*mobile))", re.I)
_MOBILE = re.compile(
    r"mobile|iphone|ipod|android|windows phone|blackberry|opera mini|iemobile", re.I
)


def device_of(user_agent: str) -> str:
    """A coarse device class for the ``{device}`` macro: mobile, tablet, desktop or ''."""
    if not user_agent:
        return ""
    if _TABLET.search(user_agent):
        return "tablet"
    if _MOBILE.search(user_agent):
        return "mobile"
    return "desktop"
