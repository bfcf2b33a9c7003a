#!/bin/sh
# otuf-agent's post_install hook. With the ab installer it runs in the new slot after the reboot,
# before the health check; a non-zero exit switches back to the old slot. Here: the written image must be the hardware's root file system
# (an ext4 superblock magic at byte 1080), so a wrongly built artifact never gets a boot.
set -eu
magic="$(dd if="$OTUF_FILE" bs=1 skip=1080 count=2 2>/dev/null | od -An -tx1 | tr -d ' \n')"
if [ "$magic" != "53ef" ]; then
  echo "post-install: $OTUF_TARGET is not an ext4 image (magic '$magic')" >&2
  exit 1
fi
