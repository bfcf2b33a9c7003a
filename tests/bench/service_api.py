"""The benchmarks' client of otuf-repo's API: JSON calls and waiting for a task."""
import json
import sys
import time
import urllib.request


class Service:
    def __init__(self, base: str):
        self.base = base

    def call(self, path: str, body: dict | None = None) -> dict:
        """GET `path`, or POST `body` as JSON to it; the JSON answer."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.base}{path}", data=data,
                                     method="GET" if body is None else "POST",
                                     headers={"content-type": "application/json"})
        with urllib.request.urlopen(req) as r:
            return json.load(r)

    def wait(self, task: str, poll: float = 0.0005) -> None:
        """Until the task has succeeded (the script stops if it failed)."""
        while True:
            state = self.call(f"/api/v1/task/?task_id={task}")["data"]["state"]
            if state == "SUCCESS":
                return
            if state in ("FAILURE", "ERRORED"):
                sys.exit(f"task {task}: {state}")
            time.sleep(poll)
