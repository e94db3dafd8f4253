#!/bin/sh
# The compose stack's Mosquitto, with a log the ingest service can read: broker refusals (wrong passwords, ACL
# denials) never reach it as messages, so it follows this log to show them in the console (README: "The broker").
#
# Mosquitto writes its log as its own user, mode 0600. Beside it, as root, a loop hands the log to the group the
# ingest container runs with (SUITCASE_GID, read only) and rotates it past BROKER_LOG_MAX_BYTES: the log becomes
# mosquitto.log.1, and SIGHUP has Mosquitto open a new one. Then `exec` makes Mosquitto this process, so it
# receives compose's signals itself and `$$` in the loop is its process id.
set -eu
config="${BROKER_CONFIG:-/mosquitto/config/mosquitto.conf}"
log="${BROKER_LOG:-/mosquitto/log/mosquitto.log}"
max_bytes="${BROKER_LOG_MAX_BYTES:-33554432}"
every="${BROKER_LOG_EVERY_S:-2}"
group="${SUITCASE_GID:-10001}"

(
  set +e # a file that vanishes between two commands must not end the loop
  while sleep "$every"; do
    size="$(stat -c %s "$log" 2>/dev/null)" || continue
    if [ "$size" -gt "$max_bytes" ]; then
      mv -f "$log" "$log.1" && kill -HUP $$
    else
      chgrp "$group" "$log" && chmod 0640 "$log"
    fi
  done
) &

exec mosquitto -c "$config"
