#!/bin/sh
# Prints the slot the gateway booted, a or b, for otuf-agent's current_slot_command.
# U-Boot (uboot/boot.cmd) passes it on the kernel command line as otuf.slot=<a|b>; the command
# line is the truth about what runs, whatever a power cut did to any file.
set -eu
cmdline="${OTUF_CMDLINE:-/proc/cmdline}"
for word in $(cat "$cmdline"); do
  case "$word" in
    otuf.slot=a|otuf.slot=b) echo "${word#otuf.slot=}"; exit 0 ;;
  esac
done
echo "ab-current: no otuf.slot=a|b on $cmdline" >&2
exit 1
