#!/usr/bin/env python3
"""RSTUF's own load scenarios against otuf-repo on 127.0.0.1 (one run each): N concurrent
requests of M artifacts each. Prints artifacts/s (time until the last task succeeds) and task
latency p50/max, beside RSTUF's figures on this machine type (RSTUF-API.md).

    repo_load.py BASE_URL
"""
import json
import statistics
import sys
import threading
import time
import urllib.request

RSTUF = {"100 x 2": (1.3, 80.0), "50 x 50": (12.4, None), "1 x 5000": (48.0, None)}


def post(base: str, body: dict) -> dict:
    req = urllib.request.Request(f"{base}/api/v1/artifacts/", data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json"}, method="POST")
    with urllib.request.urlopen(req) as r:
        return json.load(r)


def state(base: str, task: str) -> str:
    with urllib.request.urlopen(f"{base}/api/v1/task/?task_id={task}") as r:
        return json.load(r)["data"]["state"]


def scenario(base: str, name: str, requests: int, per: int, run: int) -> tuple[float, float, float]:
    sent: dict[str, float] = {}
    lock = threading.Lock()

    def one(i: int) -> None:
        arts = [{"path": f"load/{run}/{i}/{j}.bin", "info": {"length": 1000 + j, "hashes": {"sha256": f"{i:032x}{j:032x}"}}}
                for j in range(per)]
        t = time.perf_counter()
        reply = post(base, {"artifacts": arts})
        with lock:
            sent[reply["data"]["task_id"]] = t

    start = time.perf_counter()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(requests)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done: dict[str, float] = {}
    while len(done) < len(sent):
        for task in sent:
            if task not in done and state(base, task) == "SUCCESS":
                done[task] = time.perf_counter()
        time.sleep(0.005)
    end = max(done.values())
    latencies = [done[t] - sent[t] for t in sent]
    return requests * per / (end - start), statistics.median(latencies), max(latencies)


def main() -> None:
    base = sys.argv[1].rstrip("/")
    print(f"{'scenario':10} {'artifacts/s':>12} {'p50':>9} {'max':>9}   RSTUF artifacts/s (p50)   ratio")
    for run, (name, (requests, per)) in enumerate({"100 x 2": (100, 2), "50 x 50": (50, 50), "1 x 5000": (1, 5000)}.items()):
        rate, p50, worst = scenario(base, name, requests, per, run)
        ref_rate, ref_p50 = RSTUF[name]
        ref = f"{ref_rate:6.1f}" + (f" ({ref_p50:.0f} s)" if ref_p50 else "")
        print(f"{name:10} {rate:12.0f} {p50 * 1e3:7.0f}ms {worst * 1e3:7.0f}ms   {ref:24} {rate / ref_rate:6.0f}x")


if __name__ == "__main__":
    main()
