#!/usr/bin/env python3
"""Fills otuf-repo with N artifacts (staged with publish_artifacts false in requests of 5,000,
then one publication), then adds 20 artifacts one at a time and prints how long each takes from
the request until its task has succeeded, i.e. it is in signed, self-verified, published
metadata.

    repo_scale.py BASE_URL N
"""
import statistics
import sys
import time

from service_api import Service

base, total = sys.argv[1], int(sys.argv[2])
service = Service(base)
call, wait = service.call, service.wait


def artifact(name: str, i: int) -> dict:
    return {"path": name, "info": {"length": 1000 + i, "hashes": {"sha256": f"{i:064x}"}}}


t = time.perf_counter()
last = None
for start in range(0, total, 5000):
    batch = [artifact(f"fleet/{i // 1000}/fw-{i}.bin", i) for i in range(start, min(start + 5000, total))]
    last = call("/api/v1/artifacts/", {"artifacts": batch, "publish_artifacts": False})["data"]["task_id"]
wait(last)
staged = time.perf_counter() - t
wait(call("/api/v1/artifacts/publish/", {})["data"]["task_id"])
print(f"{total} artifacts staged in {staged:.1f} s, all 16384 bins published in {time.perf_counter() - t - staged:.1f} s")

latencies = []
for i in range(20):
    t = time.perf_counter()
    wait(call("/api/v1/artifacts/", {"artifacts": [artifact(f"one-more/{i}.bin", total + i)]})["data"]["task_id"])
    latencies.append((time.perf_counter() - t) * 1000)
print(f"one more addition until published: p50 {statistics.median(latencies):.1f} ms, "
      f"max {max(latencies):.1f} ms (goal < 50 ms)")
