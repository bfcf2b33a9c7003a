// The portal page: lists the repository's artifacts (the server's listing, a hint), checks each
// one against the signed metadata with the wasm verifier, and hands a download to the user only
// once its signed length and hashes match. Paths are relative to the page, so the same files
// work under any static server in front of metadata/ and targets/.
import { Verifier, httpFiles, readChunks } from "./verifier.js";
import { operator } from "./operator.js";

const base = new URL(".", document.baseURI);
const metadata = httpFiles(new URL("metadata/", base));
const $ = (id) => document.getElementById(id);
const ROOT_KEY = "otuf.root";
const SOURCE_KEY = "otuf.root.source";
const KEPT = "otuf.kept.";

let verifier = null;
let refreshed = null; // the last refresh: {ready} or {error}
// Keyset paging: the `before` of every page shown so far, and the next page's.
const pages = { before: [null], next: null, listing: true };

function say(text, kind = "bad", where = $("message")) {
  where.textContent = text;
  where.className = text ? kind : "";
}

function toBase64(bytes) {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

function fromBase64(text) {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

function pin(bytes, source) {
  localStorage.setItem(ROOT_KEY, toBase64(bytes));
  localStorage.setItem(SOURCE_KEY, source);
}

/** The root the refresh starts from: the pinned one, or this server's first (pinned). */
async function trustedRoot() {
  const pinned = localStorage.getItem(ROOT_KEY);
  if (pinned) return fromBase64(pinned);
  const first = await metadata("1.root.json", 512000);
  if (first === null) throw new Error("metadata/1.root.json: not found (HTTP 404)");
  pin(first, "trusted on first use: this server's 1.root.json, pinned in this browser. " +
    "Compare it with the root your vendor gave you, or load that one.");
  return first;
}

/** The whole refresh, from the pinned root; a newer root that verifies is pinned instead. */
async function refresh() {
  $("trust-state").textContent = "Checking the signed metadata…";
  $("trust-state").className = "checking";
  try {
    verifier.onTrusted = (role, name, bytes) => {
      if (role === "root") {
        const source = localStorage.getItem(SOURCE_KEY) ?? "";
        pin(bytes, source.replace(/ Now at .*$/, "") + ` Now at ${name}, through the signed root chain.`);
      } else if (role === "timestamp" || role === "snapshot") {
        // The rollback baseline of the next visit (a snapshot too large to keep is not kept).
        try {
          localStorage.setItem(`${KEPT}${role}`, toBase64(bytes));
        } catch {
          localStorage.removeItem(`${KEPT}${role}`);
        }
      }
    };
    const kept = async (role) => {
      const text = localStorage.getItem(`${KEPT}${role}`);
      return text === null ? null : fromBase64(text);
    };
    refreshed = await verifier.refresh(await trustedRoot(), Math.floor(Date.now() / 1000), metadata, kept);
  } catch (e) {
    refreshed = { error: e.message };
  }
  $("root-source").textContent = `Root: ${localStorage.getItem(SOURCE_KEY) ?? "none"}`;
  if (refreshed.ready) {
    const r = refreshed.ready;
    $("trust-state").textContent = `Signed metadata verified in this browser: root v${r.root}, ` +
      `timestamp v${r.timestamp}, snapshot v${r.snapshot}, targets v${r.targets}.`;
    $("trust-state").className = "verified";
  } else {
    $("trust-state").textContent = `Signed metadata refused: ${refreshed.error}. ` +
      "No artifact can be verified or downloaded.";
    $("trust-state").className = "refused";
  }
}

function query() {
  const q = new URLSearchParams();
  for (const name of ["path", "hardware", "channel", "version"]) {
    const v = $(`q-${name}`).value.trim();
    if (v) q.set(name, v);
  }
  return q;
}

/** One page of the server's listing, or null when this server has no listing API. */
async function listing(before) {
  const q = query();
  q.set("limit", "50");
  if (before) q.set("before", String(before));
  let response;
  try {
    response = await fetch(new URL(`api/v1/artifacts?${q}`, base));
  } catch {
    return null;
  }
  if (response.status === 404 || response.status === 405) return null;
  const body = await response.json();
  if (!response.ok) throw new Error(body?.detail?.[0]?.msg ?? body?.detail?.error ?? `HTTP ${response.status}`);
  return body.data;
}

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text ?? "";
  if (cls) td.className = cls;
  return td;
}

function row(artifact) {
  const tr = document.createElement("tr");
  const custom = artifact.custom ?? {};
  tr.append(cell(artifact.path, "path"), cell(custom.version), cell(custom.hardware),
    cell(custom.channel), cell(artifact.length?.toLocaleString?.("en"), "num"));
  const status = cell("Checking…", "checking");
  const action = document.createElement("td");
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = "Download";
  button.disabled = true;
  button.setAttribute("aria-label", `Download ${artifact.path}`);
  action.append(button);
  tr.append(status, action);
  return { tr, status, button, cells: tr.children };
}

/** Marks a row with what the signed metadata says of its path. */
async function check(path, view) {
  if (!refreshed?.ready) {
    view.status.className = "refused";
    view.status.textContent = "Not verified";
    return;
  }
  let found;
  try {
    found = await verifier.find(path, metadata);
  } catch (e) {
    found = { error: e.message };
  }
  view.status.replaceChildren();
  if (found.found) {
    const info = found.found;
    const custom = info.custom ?? {};
    // What the row shows is what was signed, not the listing's copy.
    view.cells[1].textContent = custom.version ?? "";
    view.cells[2].textContent = custom.hardware ?? "";
    view.cells[3].textContent = custom.channel ?? "";
    view.cells[4].textContent = info.length.toLocaleString("en");
    view.status.className = "verified";
    view.status.textContent = "Verified";
    view.button.disabled = false;
    view.button.onclick = () => download(path, info, view.button);
  } else {
    view.status.className = "refused";
    view.status.append("Not verified");
    const why = document.createElement("span");
    why.className = "why";
    why.textContent = found.missing ? "no trusted role lists this path" : found.error;
    view.status.append(why);
  }
}

/** Downloads `path`, hands it over only once it verified. */
async function download(path, info, button) {
  button.disabled = true;
  say(`Downloading ${path}…`, "checking");
  const name = path.split("/").pop();
  try {
    const url = new URL(`targets/${info.file.split("/").map(encodeURIComponent).join("/")}`, base);
    const response = await fetch(url, { cache: "no-cache" });
    if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
    const result = await verifier.verifyDownload(path, readChunks(response));
    if (result.error) {
      say(`Refused ${result.error}. Nothing was saved.`);
      return;
    }
    const blob = new Blob(result.chunks, { type: "application/octet-stream" });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = name;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 60000);
    const hashes = Object.keys(info.hashes).join(" and ");
    say(`Saved ${name}: ${info.length.toLocaleString("en")} bytes, length and ${hashes} verified.`, "good");
  } catch (e) {
    say(`Refused ${path}: ${e.message}. Nothing was saved.`);
  } finally {
    button.disabled = false;
  }
}

async function show(before) {
  say("");
  const body = $("listing").tBodies[0];
  body.replaceChildren();
  let page;
  try {
    page = pages.listing ? await listing(before) : null;
  } catch (e) {
    say(`Listing refused: ${e.message}`);
    return;
  }
  let artifacts;
  if (page === null) {
    // No listing API (a static server): an exact path is looked up in the signed metadata.
    pages.listing = false;
    $("listing-caption").textContent = "This server has no listing: enter an exact path to look it up.";
    const path = $("q-path").value.trim();
    artifacts = path ? [{ path }] : [];
    pages.next = null;
  } else {
    artifacts = page.artifacts;
    pages.next = page.next;
    $("listing-caption").textContent = artifacts.length
      ? "Artifacts, newest first"
      : "No artifact matches.";
  }
  $("older").disabled = pages.next === null;
  $("newer").disabled = pages.before.length < 2;
  const views = artifacts.map((a) => [a.path, row(a)]);
  for (const [, view] of views) body.append(view.tr);
  for (const [path, view] of views) await check(path, view);
}

let searches = 0;

async function search(event) {
  event?.preventDefault();
  pages.before = [null];
  await refresh();
  await show(null);
  // How many searches have finished: what a test waits on (the page changes in several steps).
  document.body.dataset.searches = String(++searches);
}

async function loadRoot(event) {
  const file = event.target.files[0];
  if (!file) return;
  const bytes = new Uint8Array(await file.arrayBuffer());
  const probe = verifier.start(bytes, Math.floor(Date.now() / 1000));
  if (probe.error) {
    say(`${file.name} refused: ${probe.error}`);
    return;
  }
  pin(bytes, `loaded from ${file.name}, pinned in this browser.`);
  await search();
}

function view(operator) {
  $("artifacts-view").hidden = operator;
  $("operator-view").hidden = !operator;
  $("show-artifacts").setAttribute("aria-pressed", String(!operator));
  $("show-operator").setAttribute("aria-pressed", String(operator));
}

async function main() {
  try {
    verifier = await Verifier.load(await fetch(new URL("portal/verifier.wasm", base)));
  } catch (e) {
    $("trust-state").textContent = `The verifier did not load: ${e.message}`;
    $("trust-state").className = "refused";
    return;
  }
  $("search").addEventListener("submit", search);
  $("root-file").addEventListener("change", loadRoot);
  $("forget-root").addEventListener("click", () => {
    for (const key of [ROOT_KEY, SOURCE_KEY, `${KEPT}timestamp`, `${KEPT}snapshot`]) {
      localStorage.removeItem(key);
    }
    search();
  });
  $("older").addEventListener("click", () => {
    pages.before.push(pages.next);
    show(pages.next);
  });
  $("newer").addEventListener("click", () => {
    pages.before.pop();
    show(pages.before[pages.before.length - 1]);
  });
  $("show-artifacts").addEventListener("click", () => view(false));
  $("show-operator").addEventListener("click", () => view(true));
  operator(base, say);
  await search();
  document.body.dataset.ready = "true";
}

main();
