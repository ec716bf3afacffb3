"""Every malformed link code or id answers as an unknown one (the not-found page; the
impression pixel's GIF), never a 500 (issue 17)."""

from __future__ import annotations

import httpx

from tests.redirect.helpers import make_link, make_offer

CODES = ["%00", "%00abc", "abc%00", "a%00b", "%01", "%7f", "%ff", "%c0%80", "%e2%80%a8", "...",
         "a b", "%20", "a%2fb", "%5c", "x" * 65, "%25", "'", "%22", "é", "%F0%9F%98%80", "a:b"]  # fmt: skip
IDS = ["99999999999999999999", "-1", "0", "1e3", "%00", "9223372036854775808", " 1", "0x10"]


async def test_malformed_codes_and_ids_answer_not_found(
    service: str, api: httpx.AsyncClient
) -> None:
    link = await make_link(api, await make_offer(api))
    async with httpx.AsyncClient(base_url=service) as http:
        unknown = await http.get("/c/nosuchcode")
        gif = await http.get("/i/nosuchcode")
        assert unknown.status_code == 404 and gif.status_code == 200
        for code in CODES:
            r = await http.get(f"/c/{code}")
            assert (r.status_code, r.text) == (404, unknown.text), (code, r.status_code)
            r = await http.get(f"/i/{code}")
            assert (r.status_code, r.content) == (200, gif.content), (code, r.status_code)
        for bad in IDS:
            for query in (f"offer_id={bad}&aff_id={link['affiliate_id']}",
                          f"offer_id={link['offer_id']}&aff_id={bad}",
                          f"offer_id={link['offer_id']}&affiliate_id={bad}"):  # fmt: skip
                r = await http.get(f"/click?{query}")
                assert r.status_code == 404, (query, r.status_code, r.text[:200])
        # the good code still works
        assert (await http.get(f"/c/{link['code']}")).status_code == 302
