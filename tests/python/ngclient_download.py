#!/usr/bin/env python3
"""python-tuf's ngclient as an independent second client: trust ROOT, refresh from
METADATA_URL, download TARGET from TARGETS_URL into OUT_DIR. Exit 0 when verified, 2 when no
role lists the target, 1 on any verification failure (the exception is printed).
With METADATA_DIR the trusted metadata persists there between runs (ROOT is copied in only
when it holds none yet), as on a device that refreshes again and again.

    ngclient_download.py METADATA_URL TARGETS_URL ROOT TARGET OUT_DIR [METADATA_DIR]
"""
import shutil
import sys
import tempfile
from pathlib import Path

from tuf.ngclient import Updater

metadata_url, targets_url, root, target, out_dir = sys.argv[1:6]
with tempfile.TemporaryDirectory() as scratch:
    md = sys.argv[6] if len(sys.argv) > 6 else scratch
    if not (Path(md) / "root.json").exists():
        shutil.copy(root, Path(md) / "root.json")
    try:
        u = Updater(md, metadata_url.rstrip("/") + "/", out_dir, targets_url.rstrip("/") + "/", bootstrap=None)
        u.refresh()
        info = u.get_targetinfo(target)
        if info is None:
            print(f"{target}: not found", file=sys.stderr)
            sys.exit(2)
        print(u.download_target(info))
    except Exception as e:  # noqa: BLE001 - report any verification failure
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
