#!/usr/bin/env bash
# Runs every otuf test on a fresh machine: installs what the tests need, then runs them.
set -euo pipefail
cd "$(dirname "$0")/.."
# Each step's start, in seconds since this script began (where the suite's time goes).
step() { echo "=== [${SECONDS} s] $*"; }

# --- set-up (idempotent) ---
# wasm32: the portal's in-browser verifier (otuf-repo's build.rs would add it too).
rustup target add thumbv7em-none-eabihf thumbv6m-none-eabi wasm32-unknown-unknown >/dev/null
# Debian packages: curl drives the REST API, faketime runs the service's clock ahead,
# qemu-system-arm runs the Cortex-M4 firmware example (firmware-examples/), chromium the web
# portal's browser test (tests/portal/browser.py), node its wasm verifier against the native one.
missing=""
for tool in curl faketime qemu-system-arm chromium; do command -v "$tool" >/dev/null || missing="$missing $tool"; done
command -v node >/dev/null || missing="$missing nodejs"
if [ -n "$missing" ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
req=$(sha256sum tests/python/requirements.txt | cut -c1-64)
if [ ! -x .venv/bin/python ] || [ "$(cat .venv/.requirements 2>/dev/null)" != "$req" ]; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet -r tests/python/requirements.txt
  echo "$req" > .venv/.requirements
fi

step "the core builds for a Cortex-M4 without std or a heap"
cargo build -p otuf-core --no-default-features --target thumbv7em-none-eabihf
cargo build -p otuf-core --no-default-features --features ecdsa,general --target thumbv7em-none-eabihf

step "fixtures are reproducible from their committed generators"
.venv/bin/python tests/fixtures/canonical/generate.py --check

step "unit, property and interop tests (the interop tests run the built binaries)"
cargo build --workspace --all-features
cargo test --workspace --all-features
# the repository service's API and interop tests again, unchanged, on the scale-out backends:
# PostgreSQL on 127.0.0.1:5432 (a database per test) and an S3 server (moto, from the venv)
step "the service's tests on PostgreSQL + S3"
OTUF_TEST_BACKEND=postgres-s3 cargo test --workspace --all-features \
  --test repo_service --test repo_delegations --test repo_lifecycle --test repo_tough
# the heap-free build in both modes, with a device's size-optimised crypto (the device build,
# streaming only with --cfg otuf_small, runs on the target in tests/tests/firmware_qemu.rs)
step "the heap-free core with a device's crypto"
cargo test -p otuf-core --no-default-features --features general,blake2b,opt-size

step "the Cortex-M4 example's footprint, measured under QEMU (firmware-examples/README.md)"
.venv/bin/python firmware-examples/footprint.py
step "done"
