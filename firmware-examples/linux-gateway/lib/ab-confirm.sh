#!/bin/sh
# otuf-agent's confirm_command: ab-confirm.sh <a|b>, after the health check passed on the new
# slot. Ends the trial (bootcount no longer leads to a fallback) and remembers the slot as the
# known-good one that a later switch back returns to.
set -eu
fw_setenv otuf_confirmed "$1" upgrade_available 0 bootcount 0
logger -t otuf "slot $1 confirmed" 2>/dev/null || true
