"""Pure rules: ids, macros, classification, keys."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tracker.domain.classify import classify
from tracker.domain.counted import is_click, is_paid
from tracker.domain.ids import uuid7, uuid7_time_ms
from tracker.domain.keys import hash_key, matches, new_key, parse_prefix
from tracker.domain.macros import compile_template


def test_uuid7_layout_and_time() -> None:
    before = time.time_ns() // 1_000_000
    u = uuid7()
    after = time.time_ns() // 1_000_000
    assert u.version == 7
    assert u.variant == "specified in RFC 4122"
    assert before <= uuid7_time_ms(u) <= after + 1


def test_uuid7_is_strictly_increasing_within_a_millisecond() -> None:
    fixed = 1_790_000_000_000 * 1_000_000
    ids = [uuid7(fixed) for _ in range(5000)]  # more than the 12-bit counter holds
    assert ids == sorted(ids) and len(set(ids)) == 5000
    assert all(isinstance(i, UUID) for i in ids)


TEMPLATE = "https://shop.example/p?cid={click_id}&a={aff_id}&s1={sub1}&x={unknown}&c={p:color}#f"


def test_macros_are_filled_encoded_and_unknown_left_empty() -> None:
    t = compile_template(TEMPLATE)
    out = t.fill({"click_id": "abc", "aff_id": "7", "sub1": "a b&c=d/e?f#g"})
    assert out == "https://shop.example/p?cid=abc&a=7&s1=a%20b%26c%3Dd%2Fe%3Ff%23g&x=&c=#f"


def test_template_literal_text_is_made_header_safe() -> None:
    t = compile_template("https://shop.example/é path?q={sub1}")
    assert t.fill({"sub1": "x"}) == "https://shop.example/%C3%A9%20path?q=x"


@given(
    st.text(
        alphabet=st.sampled_from("\r\n\x00\u2028\u2029%0dDA:/@?#&= \t\\é日")
        | st.characters(codec="utf-8"),
        max_size=40,
    )
)
def test_any_value_gives_one_well_formed_location(value: str) -> None:
    t = compile_template(TEMPLATE)
    out = t.fill({"click_id": value, "sub1": value, "aff_id": value})
    out.encode("ascii")  # a header value: no raw control or non-ASCII character
    assert all(0x21 <= ord(ch) < 0x7F for ch in out)
    parts = urlsplit(out)
    assert (parts.scheme, parts.netloc, parts.path, parts.fragment) == (
        "https",
        "shop.example",
        "/p",
        "f",
    )
    q = parse_qs(parts.query, keep_blank_values=True)
    if value.encode("utf-8", "surrogatepass").decode("utf-8", "ignore") == value:
        assert q["s1"] == [value] and q["cid"] == [value]  # any real text round-trips exactly


@pytest.mark.parametrize(
    ("ua", "expected"),
    [
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
            "human",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
            "human",
        ),
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "bot"),
        ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", "bot"),
        ("Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", "bot"),
        ("curl/8.5.0", "bot"),
        ("python-requests/2.32.3", "bot"),
        ("", "bot"),
        ("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "preview"),
        ("Twitterbot/1.0", "preview"),
        ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", "preview"),
        ("TelegramBot (like TwitterBot)", "preview"),
        ("Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)", "preview"),
        ("WhatsApp/2.23.20.0", "preview"),
        (
            "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
            "preview",
        ),
    ],
)
def test_classification_of_real_user_agents(ua: str, expected: str) -> None:
    assert classify("GET", ua) == expected


def test_head_and_prefetch() -> None:
    chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36"
    assert classify("HEAD", chrome) == "head" and not is_click("head")
    assert classify("GET", chrome, "prefetch;prerender") == "prefetch"
    assert is_click("human") and is_click("bot") and is_click("blocked")
    assert is_paid("human") and not any(map(is_paid, ("bot", "preview", "prefetch", "blocked")))


def test_keys_are_shown_once_and_stored_hashed() -> None:
    k = new_key()
    assert k.token.startswith("trk_") and parse_prefix(k.token) == k.prefix
    assert k.hash == hash_key(k.token) and k.token not in k.hash
    assert matches(k.token, k.hash)
    assert not matches(k.token + "x", k.hash)
    assert parse_prefix("trk_short_x") is None and parse_prefix("Bearer abc") is None
    assert new_key().token != k.token
