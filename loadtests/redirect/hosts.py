"""The Host check's cost on the redirect (issue 18, docs/adr/0096): µs of CPU a click
with no tracking domain registered (the check is skipped) against 1,000 registered (one
header scan and one frozenset lookup), rounds interleaved in one run.

    python -m loadtests.redirect.hosts            # best of 9 x 20k clicks each way

In process, no I/O (see loadtests.redirect.inprocess). The last line is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os

from loadtests.redirect.inprocess import _front, _round
from loadtests.summary import Summary
from tracker.domain.hosts import allowed_hosts


async def main(rounds: int, n: int) -> dict[str, float]:
    plain, plain_sink = _front()
    gated, gated_sink = _front()
    names = [f"track{i}.shop{i}.example" for i in range(1_000)]
    gated.hosts.allowed = allowed_hosts(names, "http://127.0.0.1:8000")  # the bench's Host
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 1_000)
    base, check = [], []
    for _ in range(rounds):  # interleaved: a slow phase of the machine hits both
        base.append(await _round(plain, plain_sink, n))
        check.append(await _round(gated, gated_sink, n))
    out = {"no_domains_us": round(min(base), 2), "domains_1000_us": round(min(check), 2),
           "ratio": round(min(check) / min(base), 3),
           "added_us": round(min(check) - min(base), 2), "rounds": rounds, "clicks": n,
           "load1": round(os.getloadavg()[0], 2)}  # fmt: skip
    print(f"no domain: best {out['no_domains_us']} µs a click; 1,000 domains: best "
          f"{out['domains_1000_us']} µs ({out['ratio']}x, +{out['added_us']} µs)")  # fmt: skip
    Summary("loadtests.redirect.hosts").print(out)
    return out


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--clicks", type=int, default=20_000)
    a = p.parse_args()
    asyncio.run(main(min(a.rounds, 50), min(a.clicks, 1_000_000)))
