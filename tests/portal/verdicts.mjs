// The portal's verifier (the wasm and verifier.js exactly as otuf-repo serves them) on every
// fixture repository, under Node: one JSON line per case with the refresh's verdict and each
// listed target's (found and its bytes verified, not found, or the refusal).
//   node verdicts.mjs <folder written by `otuf-repo portal --out`> <tests/fixtures/repos>
import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [portalDir, reposDir] = process.argv.slice(2);
const { Verifier } = await import(pathToFileURL(join(portalDir, "portal/verifier.js")));
const wasm = await readFile(join(portalDir, "portal/verifier.wasm"));

/** Files from a folder, refused past `maxLength` as the page refuses a longer body. */
const files = (dir) => async (name, maxLength) => {
  let bytes;
  try {
    bytes = new Uint8Array(await readFile(join(dir, name)));
  } catch {
    return null;
  }
  if (bytes.length > maxLength) throw new Error(`${name}: longer than the ${maxLength} bytes allowed`);
  return bytes;
};

for (const name of (await readdir(reposDir)).sort()) {
  const dir = join(reposDir, name);
  const c = JSON.parse(await readFile(join(dir, "case.json"), "utf8"));
  const verifier = await Verifier.load(wasm);
  const metadata = files(join(dir, "metadata"));
  const root = new Uint8Array(await readFile(join(dir, "trusted_root.json")));
  let refresh;
  try {
    const local = files(join(dir, "local"));
    refresh = await verifier.refresh(root, c.now, metadata, (role) => local(`${role}.json`, Infinity));
  } catch (e) {
    refresh = { error: e.message };
  }
  const targets = {};
  if (refresh.ready) {
    for (const t of c.targets ?? []) {
      let found = await verifier.find(t.path, metadata).catch((e) => ({ error: e.message }));
      if (found.found) {
        const bytes = await files(join(dir, "targets"))(found.found.file, Infinity);
        found = bytes === null
          ? { error: `${found.found.file}: not found` }
          : await verifier.verifyDownload(t.path, [bytes]);
      }
      targets[t.path] = found.verified ? "ok" : found.missing ? "not_found" : `error: ${found.error}`;
    }
  }
  const verdict = refresh.ready ? { ok: refresh.ready } : { error: refresh.error };
  console.log(JSON.stringify({ case: name, refresh: verdict, targets }));
}
