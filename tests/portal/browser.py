#!/usr/bin/env python3
"""The web portal in a real browser (Debian's Chromium, driven by Playwright from PyPI).

    browser.py <otuf-repo binary> <screenshot.png>

Starts `otuf-repo serve --dev` with bearer tokens on in a temporary folder, publishes three
artifacts with `otuf-repo publish`, and checks in the page: the signed metadata verified, the
three listed newest first and each verified; search by path and filters by hardware and
channel; a download whose bytes equal the published file. Then it tampers with a published bin
on disk and with a target file on disk and checks that the page refuses each, says why, and
saves no file. The operator view stays empty without the admin token (and with a publish
one), and with it shows the bootstrap, the online roles counting down to their expiry, the
recent tasks and charts of /metrics. Last, the portal's files as `otuf-repo portal --out`
writes them, served by a plain static server in front of metadata/ and targets/: an exact path
is looked up, verified and downloaded in the page with no API at all. The listing's
screenshot is written to the path given. Exits non-zero on any failure.
"""
import functools
import http.server
import threading
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"

ARTIFACTS = [
    ("firmware/plc-a-1.0.0.bin", {"version": "1.0.0", "hardware": "plc-a", "channel": "stable"}),
    ("firmware/plc-a-1.1.0.bin", {"version": "1.1.0", "hardware": "plc-a", "channel": "beta"}),
    ("firmware/rtu-b-2.0.0.bin", {"version": "2.0.0", "hardware": "rtu-b", "channel": "stable"}),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port: int, service: subprocess.Popen) -> None:
    for _ in range(300):
        if service.poll() is not None:
            sys.exit(f"otuf-repo serve exited with {service.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit("otuf-repo serve did not listen within 30 s")


def rows(page) -> list:
    """The listing's rows: [path, version, hardware, channel, length, status]."""
    return [[c.strip() for c in r.locator("td").all_inner_texts()[:6]]
            for r in page.locator("#listing tbody tr").all()]


def settled(page) -> None:
    """Waits until no row is still being checked."""
    expect(page.locator("#listing tbody td.checking")).to_have_count(0, timeout=20000)


def search(page, **fields) -> list:
    for name in ("path", "hardware", "channel", "version"):
        page.fill(f"#q-{name}", fields.get(name, ""))
    done = page.get_attribute("body", "data-searches")
    page.press("#q-path", "Enter")  # the keyboard submits the search
    page.wait_for_function(f"document.body.dataset.searches !== '{done}'")
    settled(page)
    return rows(page)


PUBLISH_TOKEN, ADMIN_TOKEN = "publish-token-0123456789", "admin-token-0123456789ab"


def operator_view(page, screenshot: Path) -> None:
    """The operator view: refused without the admin token, shown with it."""
    page.get_by_role("button", name="Operator").click()
    expect(page.locator("#operator-message")).to_contain_text("needs the admin token")
    expect(page.locator("#operator-message")).to_contain_text("401")
    page.fill("#token", PUBLISH_TOKEN)
    page.press("#token", "Enter")
    expect(page.locator("#operator-message")).to_contain_text("403")
    assert page.locator("#operator .card").count() == 0, "shown with a publish token"
    page.fill("#token", ADMIN_TOKEN)
    page.press("#token", "Enter")
    expect(page.locator("#operator .card").first).to_be_visible()
    cards = page.inner_text("#operator")
    assert "finished" in cards, cards
    assert "threshold 1 of 1" in cards, cards
    for role in ("timestamp v", "snapshot v", "targets v", "delegated roles"):
        assert role in cards, (role, cards)
    assert cards.count("expires in") >= 4, cards
    first = page.locator("#operator .card span.verified").first.inner_text()
    page.wait_for_timeout(1100)
    assert page.locator("#operator .card span.verified").first.inner_text() != first, "no countdown"
    tasks = page.locator("#operator table tbody tr")
    assert tasks.count() >= 3, page.inner_text("#operator table")
    assert "SUCCESS" in page.inner_text("#operator table")
    expect(page.locator("#operator-charts svg")).to_have_count(4)
    page.screenshot(path=str(screenshot), full_page=True)
    page.get_by_role("button", name="Artifacts").click()


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def static_portal(browser, repo_bin: str, data: Path, work: Path, files: dict) -> None:
    """The exported portal on a plain static server: no API, an exact path looked up."""
    site = work / "static"
    subprocess.run([repo_bin, "portal", "--out", str(site)], check=True)
    (site / "metadata").symlink_to(data / "metadata")
    (site / "targets").symlink_to(data / "targets")
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        context = browser.new_context(accept_downloads=True)
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/")
        page.wait_for_selector("body[data-ready=true]", timeout=30000)
        expect(page.locator("#trust-state")).to_have_class("verified")
        expect(page.locator("#listing-caption")).to_contain_text("no listing")
        listed = search(page, path="firmware/plc-a-1.0.0.bin")
        assert listed == [["firmware/plc-a-1.0.0.bin", "1.0.0", "plc-a", "stable", "4,096", "Verified"]], listed
        with page.expect_download() as wait:
            page.get_by_role("button", name="Download firmware/plc-a-1.0.0.bin").click()
        assert Path(wait.value.path()).read_bytes() == files["firmware/plc-a-1.0.0.bin"]
        missing = search(page, path="firmware/none.bin")
        assert missing[0][5].startswith("Not verified") and "no trusted role" in missing[0][5], missing
        context.close()
    finally:
        server.shutdown()


def main() -> None:
    repo_bin, screenshot = sys.argv[1], Path(sys.argv[2])
    work = Path(tempfile.mkdtemp(prefix="otuf-portal-"))
    data = work / "data"
    tokens = work / "tokens"
    tokens.write_text(f"publish {PUBLISH_TOKEN}\nadmin {ADMIN_TOKEN}\n")
    tokens.chmod(0o600)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    service = subprocess.Popen(
        [repo_bin, "serve", "--dev", "--data-dir", str(data), "--listen", f"127.0.0.1:{port}",
         "--tokens-file", str(tokens)],
        stdout=subprocess.DEVNULL, stderr=open(work / "serve.log", "w"))
    try:
        wait_listening(port, service)
        files = {}
        for i, (path, custom) in enumerate(ARTIFACTS):
            local = work / f"artifact-{i}.bin"
            local.write_bytes(bytes((i * 7 + n) % 251 for n in range(4096 + i * 1000)))
            files[path] = local.read_bytes()
            subprocess.run([repo_bin, "publish", f"--api-server={base}", f"--token={PUBLISH_TOKEN}", str(local),
                            "--path", path, "--custom", json.dumps(custom)],
                           check=True, capture_output=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            context = browser.new_context(accept_downloads=True, viewport={"width": 1200, "height": 640})
            page = context.new_page()
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            downloads = []
            page.on("download", lambda d: downloads.append(d))
            page.goto(base + "/")
            page.wait_for_selector("body[data-ready=true]", timeout=30000)
            settled(page)
            expect(page.locator("#trust-state")).to_have_class("verified")
            listed = rows(page)
            newest_first = [path for path, _ in reversed(ARTIFACTS)]
            assert [r[0] for r in listed] == newest_first, listed
            assert all(r[5] == "Verified" for r in listed), listed
            assert listed[0][1:5] == ["2.0.0", "rtu-b", "stable", "6,096"], listed[0]
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)

            assert [r[0] for r in search(page, path="rtu")] == ["firmware/rtu-b-2.0.0.bin"]
            assert [r[0] for r in search(page, hardware="plc-a")] == [
                "firmware/plc-a-1.1.0.bin", "firmware/plc-a-1.0.0.bin"]
            assert [r[0] for r in search(page, hardware="plc-a", channel="beta")] == [
                "firmware/plc-a-1.1.0.bin"]
            assert search(page, path="no-such-artifact") == []
            expect(page.locator("#listing-caption")).to_have_text("No artifact matches.")

            # A verified download: the bytes handed over are the published ones.
            search(page)
            with page.expect_download() as wait:
                page.get_by_role("button", name="Download firmware/plc-a-1.0.0.bin").click()
            saved = Path(wait.value.path()).read_bytes()
            assert saved == files["firmware/plc-a-1.0.0.bin"], "downloaded bytes differ"
            expect(page.locator("#message")).to_contain_text("sha256 and sha512 verified")
            count = len(downloads)

            # A target tampered with on disk: refused in the page, nothing saved.
            target = next((data / "targets/firmware").glob("*.rtu-b-2.0.0.bin"))
            tampered = bytearray(target.read_bytes())
            tampered[100] ^= 1
            target.write_bytes(bytes(tampered))
            page.get_by_role("button", name="Download firmware/rtu-b-2.0.0.bin").click()
            expect(page.locator("#message")).to_contain_text("Refused firmware/rtu-b-2.0.0.bin")
            expect(page.locator("#message")).to_contain_text("Nothing was saved")
            message = page.inner_text("#message")
            assert "hash" in message, message
            print(f"tampered target: {message}")

            # A published bin tampered with on disk: its artifact is refused, the others not.
            bins = sorted(
                (data / "metadata").glob("*.bins-*.json"),
                key=lambda f: int(f.name.split(".")[0]))
            holder = [f for f in bins if b"plc-a-1.1.0.bin" in f.read_bytes()][-1]
            text = holder.read_bytes()
            holder.write_bytes(text.replace(b'"length":5096', b'"length":5097'))
            assert holder.read_bytes() != text, "the bin lists the artifact's length"
            after = {r[0]: r for r in search(page)}
            bad = page.locator("#listing tbody tr", has_text="firmware/plc-a-1.1.0.bin")
            assert after["firmware/plc-a-1.1.0.bin"][5].startswith("Not verified"), after
            assert holder.name in after["firmware/plc-a-1.1.0.bin"][5], after
            print(f"tampered bin: {after['firmware/plc-a-1.1.0.bin'][5]!r}")
            expect(bad.get_by_role("button")).to_be_disabled()
            assert after["firmware/plc-a-1.0.0.bin"][5] == "Verified", after
            page.wait_for_timeout(500)
            assert len(downloads) == count, "a refused file was handed to the user"
            operator_view(page, screenshot.with_name("operator.png"))
            assert not errors, errors
            static_portal(browser, repo_bin, data, work, files)
            browser.close()
        print(f"portal: listing, search, filters, a verified download, two refusals, the operator "
              f"view and the static portal checked in Chromium; screenshot {screenshot}")
    finally:
        service.terminate()
        service.wait(timeout=10)


if __name__ == "__main__":
    main()
