#!/bin/sh
# otuf-agent's pre_install hook: a non-zero exit aborts the installation (nothing is written).
# A gateway must not be rebooted under a running line: the line controller raises this flag
# while production runs. The maintenance window is the agent's; this is the plant's veto.
set -eu
flag="${OTUF_LINE_RUNNING_FLAG:-/run/plant/line-running}"
if [ -e "$flag" ]; then
  echo "pre-install: the line is running ($flag): $OTUF_TARGET $OTUF_VERSION waits" >&2
  exit 1
fi
# Enough room for the agent's staging area (the image is verified there before the slot).
logger -t otuf "installing $OTUF_TARGET $OTUF_VERSION over ${OTUF_FROM_VERSION:-nothing}" 2>/dev/null || true
