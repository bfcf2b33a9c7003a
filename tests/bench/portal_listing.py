#!/usr/bin/env python3
"""The portal's listing API at scale: fills otuf-repo with N artifacts (custom version,
hardware and channel; staged in requests of 5,000, one publication), then asks each query 50
times over HTTP and prints its p50 and p95 against the goal of 50 ms p50 (issue 16).

    portal_listing.py BASE_URL N
"""
import statistics
import sys
import time
import urllib.parse

from service_api import Service

base, total = sys.argv[1], int(sys.argv[2])
GOAL_MS = 50
service = Service(base)
call = service.call


def wait(task: str) -> None:
    service.wait(task, poll=0.01)


def artifact(i: int) -> dict:
    hardware = "hw-rare" if i % 10000 == 0 else f"hw-{i % 20}"
    custom = {"version": f"1.{i % 100}.{i // 100}", "hardware": hardware,
              "channel": "beta" if i % 7 == 0 else "stable"}
    return {"path": f"fleet/{i // 1000}/fw-{i}.bin",
            "info": {"length": 1000 + i, "hashes": {"sha256": f"{i:064x}"}, "custom": custom}}


t = time.perf_counter()
last = None
for start in range(0, total, 5000):
    batch = [artifact(i) for i in range(start, min(start + 5000, total))]
    last = call("/api/v1/artifacts/", {"artifacts": batch, "publish_artifacts": False})["data"]["task_id"]
wait(last)
wait(call("/api/v1/artifacts/publish/", {})["data"]["task_id"])
print(f"{total:,} artifacts added and published in {time.perf_counter() - t:.1f} s")

second = call("/api/v1/artifacts?limit=50")["data"]["next"]
queries = [
    ("first page", {}),
    ("second page", {"before": second}),
    ("search, many matches (path=fw-12)", {"path": "fw-12"}),
    ("search, one match (exact file name)", {"path": f"fw-{total // 2}.bin"}),
    ("search, no match", {"path": "no-such-firmware"}),
    ("filter hardware", {"hardware": "hw-7"}),
    ("filter hardware, rare (1 in 10,000)", {"hardware": "hw-rare"}),
    ("filter hardware, no match", {"hardware": "hw-none"}),
    ("filter hardware + channel", {"hardware": "hw-7", "channel": "beta"}),
    ("filter hardware + channel, no match", {"hardware": "hw-rare", "channel": "nightly"}),
    ("filter version", {"version": "1.42.4242"}),
    ("search + filter", {"path": "fleet/4", "hardware": "hw-3"}),
    ("search + filter, no match", {"path": "fleet/4", "hardware": "hw-none"}),
]
print(f"{'query':40} {'p50 ms':>8} {'p95 ms':>8} {'results':>8}  vs goal {GOAL_MS} ms p50")
for name, q in queries:
    url = "/api/v1/artifacts?" + urllib.parse.urlencode({"limit": 50, **q})
    times, count = [], 0
    for _ in range(50):
        t = time.perf_counter()
        count = len(call(url)["data"]["artifacts"])
        times.append((time.perf_counter() - t) * 1000)
    p50 = statistics.median(times)
    p95 = sorted(times)[int(len(times) * 0.95) - 1]
    print(f"{name:40} {p50:8.1f} {p95:8.1f} {count:8}  {p50 / GOAL_MS:.2f}x of the goal")
