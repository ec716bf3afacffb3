"""How metrics are kept and scraped, in one process or summed over several.

One process (the default): prometheus-client's registry, plus the hot path's
``LoopCounter``/``LoopHistogram`` registered as collectors of their own.

Several processes (``--workers N``; the CLI sets ``PROMETHEUS_MULTIPROC_DIR`` to a
folder of its run before any worker starts): every process writes its metrics to
memory-mapped files there, and a scrape of any process reads all the files, so
``/metrics`` is the sum over the processes (gauges as their ``multiprocess_mode``
says). The loop metrics stay plain ints on the hot path; ``publish`` adds what
they gained since the last call to the shared files (a ``Publisher`` does it every
``PUBLISH_S`` in each process, and a scrape does it for its own process first).
Live-gauge files of processes that are gone are removed (``reap``), so a killed
worker's spool or buffer does not stay in the sums.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import math
import os
import re
from bisect import bisect_left
from collections.abc import Iterator
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess, values
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.utils import floatToGoString

ENV = "PROMETHEUS_MULTIPROC_DIR"
MULTIPROCESS = bool(os.environ.get(ENV))
PUBLISH_S = 1.0
_LIVE_FILE = re.compile(r"^gauge_live[a-z]+_(\d+)\.db$")


class LoopCounter:
    """A labelled counter incremented from one event loop only, for the per-request
    path: plain ints in ``counts``, keyed by the tuple of label values (no lock, no
    child object, no call: ``c[k] = c.get(k, 0) + 1``), exported as a usual counter
    when scraped. Other threads only read it (``collect`` copies the items first)."""

    def __init__(self, name: str, documentation: str, labelnames: tuple[str, ...]) -> None:
        self.name, self.documentation, self.labelnames = name, documentation, labelnames
        self.counts: dict[tuple[str, ...], int] = {}
        self._published: dict[tuple[str, ...], int] = {}
        self._shared: dict[tuple[str, ...], Any] = {}
        _register(self)

    def inc(self, *labels: str) -> None:
        self.counts[labels] = self.counts.get(labels, 0) + 1

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for labels, value in list(self.counts.items()):
            family.add_metric(labels, value)
        yield family

    def publish(self) -> None:
        base = self.name.removesuffix("_total")
        for labels, value in list(self.counts.items()):
            delta = value - self._published.get(labels, 0)
            if not delta:
                continue
            shared = self._shared.get(labels)
            if shared is None:  # what prometheus_client.Counter keeps per child
                shared = self._shared[labels] = values.ValueClass(
                    "counter", base, self.name, self.labelnames, labels, self.documentation
                )
            shared.inc(delta)
            self._published[labels] = value


class LoopHistogram:
    """A histogram observed from one event loop only: no lock, a bisect and two adds
    (a third of ``Histogram.observe``), for the per-request path; exported as usual.
    The hot path may update ``counts``/``sum`` itself (see ``observe``)."""

    def __init__(self, name: str, documentation: str, buckets: tuple[float, ...]) -> None:
        self.name, self.documentation = name, documentation
        self.bounds = buckets
        self.counts = [0] * (len(buckets) + 1)
        self.sum = 0.0
        self._published_counts = [0] * (len(buckets) + 1)
        self._published_sum = 0.0
        self._shared: list[Any] = []
        _register(self)

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    def collect(self) -> Iterator[HistogramMetricFamily]:
        acc, buckets = 0, []
        for bound, count in zip((*self.bounds, math.inf), list(self.counts), strict=True):
            acc += count
            buckets.append((floatToGoString(bound), acc))  # type: ignore[no-untyped-call]
        yield HistogramMetricFamily(
            self.name, self.documentation, buckets=buckets, sum_value=self.sum
        )

    def publish(self) -> None:
        if not self._shared:  # what prometheus_client.Histogram keeps: sum, one per bucket
            self._shared = [
                values.ValueClass("histogram", self.name, self.name + "_sum", (), (),
                                  self.documentation),
                *(values.ValueClass("histogram", self.name, self.name + "_bucket", ("le",),
                                    (floatToGoString(b),), self.documentation)  # type: ignore[no-untyped-call]
                  for b in (*self.bounds, math.inf)),
            ]  # fmt: skip
        counts, total = list(self.counts), self.sum
        for i, value in enumerate(counts):
            if value != self._published_counts[i]:
                self._shared[i + 1].inc(value - self._published_counts[i])
                self._published_counts[i] = value
        if total != self._published_sum:
            self._shared[0].inc(total - self._published_sum)
            self._published_sum = total


_LOOP: list[LoopCounter | LoopHistogram] = []


def _register(metric: LoopCounter | LoopHistogram) -> None:
    _LOOP.append(metric)
    if not MULTIPROCESS:
        REGISTRY.register(metric)  # type: ignore[arg-type]


def publish() -> None:
    """Copy this process's loop metrics to the shared files (multiprocess mode only);
    call from the event loop that updates them."""
    if MULTIPROCESS:
        for metric in _LOOP:
            metric.publish()


def reap(path: str | None = None) -> int:
    """Remove the live-gauge files of processes that no longer exist; how many pids."""
    path = path or os.environ.get(ENV)
    if not path:
        return 0
    gone = set()
    for name in os.listdir(path):
        m = _LIVE_FILE.match(name)
        if m and not _alive(int(m.group(1))):
            gone.add(int(m.group(1)))
    for pid in gone:
        multiprocess.mark_process_dead(pid, path)  # type: ignore[no-untyped-call]
    return len(gone)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def scrape() -> bytes:
    """The text exposition: this process's registry, or the sum over every process."""
    if not MULTIPROCESS:
        return generate_latest()
    publish()
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


def shared_registry(path: str) -> CollectorRegistry:
    """A registry summing the files in ``path`` (a supervisor's own /metrics)."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=path)  # type: ignore[no-untyped-call]
    return registry


def clear_dead_files(path: str) -> None:
    """Remove every live-gauge file in ``path`` (a supervisor whose workers all exited)."""
    for name in glob.glob(os.path.join(path, "gauge_live*.db")):
        with contextlib.suppress(FileNotFoundError):
            os.remove(name)


class Publisher:
    """A process's part in multiprocess mode: publishes the loop metrics every
    ``PUBLISH_S`` and reaps gone processes' live gauges; a no-op in one process."""

    def __init__(self, interval_s: float = PUBLISH_S) -> None:
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    async def start_with(self, services: object) -> None:
        if MULTIPROCESS:
            self._task = asyncio.create_task(self._run(), name="metrics-publisher")

    async def _run(self) -> None:
        n = 0
        while True:
            await asyncio.sleep(self.interval_s)
            publish()
            n += 1
            if n % 5 == 0:
                await asyncio.to_thread(reap)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            publish()
