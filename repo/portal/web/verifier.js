// otuf-core in the browser (and in Node, for the tests): the wasm verifier and the client
// workflow around it. The wasm does every check; this module only moves bytes in and out of
// its memory and fetches what it asks for. Every answer is an object; a refusal has `error`.

export class Verifier {
  /** Instantiates the verifier from its wasm bytes or a fetch Response (any media type). */
  static async load(source) {
    const bytes = typeof source.arrayBuffer === "function" ? await source.arrayBuffer() : source;
    const { instance } = await WebAssembly.instantiate(bytes, {});
    return new Verifier(instance.exports);
  }

  constructor(exports) {
    this.x = exports;
  }

  call(step, input, ...args) {
    if (input !== undefined) {
      const bytes = typeof input === "string" ? new TextEncoder().encode(input) : input;
      const at = this.x.otuf_input(bytes.length);
      new Uint8Array(this.x.memory.buffer, at, bytes.length).set(bytes);
    } else {
      this.x.otuf_input(0);
    }
    const len = this.x[step](...args);
    const out = new Uint8Array(this.x.memory.buffer, this.x.otuf_output(), len);
    return JSON.parse(new TextDecoder().decode(out));
  }

  /** Starts a refresh from `root` (the trusted root.json's bytes) at `now` (UNIX seconds). */
  start(root, now) { return this.call("otuf_start", root, now); }
  handle(bytes) { return this.call("otuf_handle", bytes); }
  next() { return this.call("otuf_next"); }
  notFound() { return this.call("otuf_not_found"); }
  offerLocal(bytes) { return this.call("otuf_offer_local", bytes); }
  putRole(name, bytes) {
    const n = new TextEncoder().encode(name);
    const both = new Uint8Array(n.length + bytes.length);
    both.set(n);
    both.set(bytes, n.length);
    return this.call("otuf_put_role", both, n.length);
  }
  search(path) { return this.call("otuf_search", path); }
  downloadStart(path) { return this.call("otuf_download_start", path); }
  downloadUpdate(chunk) { return this.call("otuf_download_update", chunk); }
  downloadFinish() { return this.call("otuf_download_finish"); }

  /**
   * The whole refresh (root chain, timestamp, snapshot, targets). `fetchFile(name, maxLength)`
   * gives a file's bytes or null for a 404; `kept(role)` the copy of `<role>.json` kept from an
   * earlier refresh, or null (the rollback baseline). Returns `{ready}` or `{error}`.
   */
  async refresh(root, now, fetchFile, kept = async () => null) {
    let step = this.start(root, now);
    while (step.fetch) {
      const local = step.root ? null : await kept(step.role);
      if (local !== null && this.offerLocal(local).current) {
        step = this.next();
        continue;
      }
      const bytes = await fetchFile(step.fetch, step.max_length);
      if (bytes === null) {
        step = step.root ? this.notFound() : { error: `${step.fetch}: not found (HTTP 404)` };
      } else {
        const asked = step;
        step = this.handle(bytes);
        // A file now trusted: the page keeps the newest root, timestamp and snapshot.
        if (step.persist) this.onTrusted?.(asked.role, asked.fetch, bytes);
      }
    }
    return step;
  }

  /**
   * Finds `path` through the delegations, fetching each targets role it needs once (kept for
   * later searches). Returns `{found}`, `{missing}` or `{error}`.
   */
  async find(path, fetchFile) {
    for (;;) {
      const step = this.search(path);
      if (!step.fetch) return step;
      const bytes = await fetchFile(step.fetch, step.max_length);
      if (bytes === null) return { error: `${step.fetch}: not found (HTTP 404)` };
      this.putRole(step.role, bytes);
    }
  }

  /**
   * Checks a download of `path`, chunk by chunk from `chunks` (an async iterable of
   * Uint8Array): its bytes only when the signed length and every signed hash match, otherwise
   * `{error}` and nothing.
   */
  async verifyDownload(path, chunks) {
    const started = this.downloadStart(path);
    if (!started.found) return started.error ? started : { error: `${path}: not found` };
    const kept = [];
    for await (const chunk of chunks) {
      const step = this.downloadUpdate(chunk);
      if (step.error) return { error: `${path}: ${step.error}` };
      kept.push(chunk);
    }
    const done = this.downloadFinish();
    if (done.error) return { error: `${path}: ${done.error}` };
    return { verified: true, info: started.found, chunks: kept };
  }
}

/**
 * A `fetchFile` over HTTP under `base`: at most `maxLength` bytes are read (a longer body is
 * refused), a 404 is null, any other failure an exception naming the file.
 */
export function httpFiles(base) {
  return async (name, maxLength) => {
    // The name is a file's name (a role's already percent-encoded): encoded once more for the URL.
    const response = await fetch(new URL(encodeURIComponent(name), base), { cache: "no-cache" });
    if (response.status === 404) return null;
    if (!response.ok) throw new Error(`${name}: HTTP ${response.status}`);
    const parts = [];
    let total = 0;
    for await (const chunk of readChunks(response)) {
      total += chunk.length;
      if (total > maxLength) throw new Error(`${name}: longer than the ${maxLength} bytes allowed`);
      parts.push(chunk);
    }
    const bytes = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      bytes.set(p, at);
      at += p.length;
    }
    return bytes;
  };
}

/** A response body's chunks as they arrive. */
export async function* readChunks(response) {
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    yield value;
  }
}
