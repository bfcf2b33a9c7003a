#!/bin/sh
# otuf-agent's health check, after the reboot into the new slot: exit 0 confirms the slot, any
# other status (or the timeout) switches back. The gateway is healthy when its fieldbus bridge
# runs and the PLC it serves answers.
set -eu
service="${OTUF_HEALTH_SERVICE:-plant-gateway.service}"
plc="${OTUF_HEALTH_PLC:-10.20.1.10}"
systemctl is-active --quiet "$service" || {
  echo "health: $service is not running" >&2; exit 1; }
ping -c 1 -W 2 "$plc" >/dev/null || {
  echo "health: PLC $plc does not answer" >&2; exit 1; }
