#!/bin/sh
# otuf-agent's switch_command: ab-switch.sh <a|b> <slot path>. Makes U-Boot boot that slot next.
# A slot not yet confirmed boots on trial: U-Boot counts the boots (bootcount), and after
# bootlimit boots without a confirmation its altbootcmd goes back by itself (a kernel that never
# reaches userspace). otuf-agent also calls this to switch back to the confirmed slot after a
# failed health check: that boot is no trial.
set -eu
slot="$1"
case "$slot" in a|b) ;; *) echo "ab-switch: slot must be a or b, not $slot" >&2; exit 2 ;; esac
confirmed="$(fw_printenv -n otuf_confirmed 2>/dev/null || "$(dirname "$0")/ab-current.sh")"
if [ "$slot" = "$confirmed" ]; then
  fw_setenv otuf_slot "$slot" upgrade_available 0 bootcount 0
else
  fw_setenv otuf_slot "$slot" upgrade_available 1 bootcount 0
fi
logger -t otuf "boot slot $slot next ($2)" 2>/dev/null || true
