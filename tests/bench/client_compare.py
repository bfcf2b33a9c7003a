#!/usr/bin/env python3
"""otuf-agent vs python-tuf's ngclient: one `refresh` + one `download` against a repository of
100,000 targets in 1,024 succinct bins served on 127.0.0.1 (tests/bench/client_compare.sh
builds everything and calls this). Each run starts from an empty metadata folder that trusts
only root v1. Prints the median time of each, the ratio, and every byte each fetched.

    client_compare.py AGENT_BIN SERVE_BIN REPO_DIR [--runs N]
"""
import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from tuf.ngclient import Updater


class Served:
    """otuf-serve in the background; collects `<path> <bytes>` lines."""

    def __init__(self, serve_bin: str, repo: Path) -> None:
        self.proc = subprocess.Popen([serve_bin, str(repo)], stdout=subprocess.PIPE, text=True)
        self.base = self.proc.stdout.readline().split()[-1]
        self.lines: list[tuple[str, int]] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            path, n = line.rsplit(" ", 1)
            with self.lock:
                self.lines.append((path, int(n)))

    def take(self) -> list[tuple[str, int]]:
        time.sleep(0.1)  # the server prints every 20 ms
        with self.lock:
            out, self.lines = self.lines, []
        return out


def run_agent(agent: str, base: str, repo: Path, target: str) -> float:
    with tempfile.TemporaryDirectory() as md, tempfile.TemporaryDirectory() as td:
        subprocess.run([agent, "client", "--metadata-dir", md, "init", str(repo / "trusted_root.json")], check=True)
        t0 = time.perf_counter()
        subprocess.run([agent, "client", "--metadata-url", f"{base}/metadata", "--metadata-dir", md,
                        "--target-name", target, "--target-base-url", f"{base}/targets", "--target-dir", td,
                        "download"], check=True)
        return time.perf_counter() - t0


def run_python(base: str, repo: Path, target: str) -> float:
    with tempfile.TemporaryDirectory() as md, tempfile.TemporaryDirectory() as td:
        shutil.copy(repo / "trusted_root.json", Path(md) / "root.json")
        t0 = time.perf_counter()
        u = Updater(md, f"{base}/metadata/", td, f"{base}/targets/", bootstrap=None)
        u.refresh()
        info = u.get_targetinfo(target)
        assert info is not None
        u.download_target(info)
        return time.perf_counter() - t0


PY_CLI = """
import shutil, sys
from tuf.ngclient import Updater
md, td, base, target = sys.argv[1:]
u = Updater(md, base + "/metadata/", td, base + "/targets/", bootstrap=None)
u.refresh()
u.download_target(u.get_targetinfo(target))
"""


def run_python_cli(base: str, repo: Path, target: str) -> float:
    """python-tuf as a command, like tuf-conformance's python client: interpreter start included."""
    with tempfile.TemporaryDirectory() as md, tempfile.TemporaryDirectory() as td:
        shutil.copy(repo / "trusted_root.json", Path(md) / "root.json")
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", PY_CLI, md, td, base, target], check=True)
        return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("agent")
    ap.add_argument("serve")
    ap.add_argument("repo", type=Path)
    ap.add_argument("--runs", type=int, default=10)
    a = ap.parse_args()
    info = json.loads((a.repo / "info.json").read_text())
    target = info["target"]
    served = Served(a.serve, a.repo)
    try:
        results = {}
        for name, fn in (("otuf-agent", lambda: run_agent(a.agent, served.base, a.repo, target)),
                         ("python-tuf", lambda: run_python(served.base, a.repo, target)),
                         ("python-cli", lambda: run_python_cli(served.base, a.repo, target))):
            fn()  # warm-up (page cache, python imports)
            served.take()
            times = [fn() for _ in range(a.runs)]
            fetched = served.take()
            per_run = [f for f in fetched[: len(fetched) // a.runs]]
            results[name] = (statistics.median(times), per_run)
        print(f"repository: {info['targets']} targets in {info['bins']} succinct bins; "
              f"refresh + download of {target}; median of {a.runs} runs, each from root v1")
        for name, (t, files) in results.items():
            total = sum(n for _, n in files)
            print(f"  {name:11} {t * 1e3:8.1f} ms   {total:7d} bytes in {len(files)} requests: "
                  + ", ".join(f"{p.rsplit('/', 1)[-1]} ({n})" for p, n in files))
        ours = results["otuf-agent"][0]
        print(f"  otuf-agent (a process) vs python-tuf in-process: {results['python-tuf'][0] / ours:.1f}x faster")
        print(f"  otuf-agent vs python-tuf as a command (both start a process): {results['python-cli'][0] / ours:.1f}x faster")
    finally:
        served.proc.kill()


if __name__ == "__main__":
    main()
