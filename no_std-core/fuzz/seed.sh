#!/usr/bin/env bash
# Seeds the fuzz corpora with real files: canonical JSON corpus and fixture metadata.
set -euo pipefail
cd "$(dirname "$0")"
fx=../../tests/fixtures
mkdir -p corpus/tokenizer corpus/root corpus/timestamp corpus/snapshot corpus/targets corpus/client
cp $fx/canonical/accept/*.json corpus/tokenizer/
mapfile -t files < <(find $fx/repos -path '*/metadata/*.json' | sort)
for f in "${files[@]}"; do
  case "$f" in
    *root.json) role=root ;; *timestamp.json) role=timestamp ;; *snapshot.json) role=snapshot ;; *) role=targets ;;
  esac
  cp "$f" "corpus/$role/$(echo "$f" | md5sum | cut -c1-16).json"
done
i=0
for f in timestamp.json 2.snapshot.json 1.targets.json; do
  i=$((i + 1))
  { printf "\\x0$i"; cat "$fx/repos/keys-ed25519/metadata/$f"; } > "corpus/client/seed-$i"
done
{ printf '\x00'; cat "$fx/repos/keys-ed25519/trusted_root.json"; } > corpus/client/seed-0
