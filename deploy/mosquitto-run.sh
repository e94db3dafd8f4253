#!/bin/sh
# The compose stack's Mosquitto, started by this script as root (Mosquitto then drops to its own user).
#
# Account files: `suitcase init`, the CLI and the console write the password and ACL files into ./var/mosquitto
# (mounted read-only at BROKER_FILES_FROM), and `suitcase init` the TLS certificate and key into ./var/certs
# (BROKER_CERTS_FROM). Mosquitto wants them owned by its user and readable by nobody else (newer releases refuse
# others), and the ingest container cannot signal the broker's. So this script copies them to BROKER_FILES_TO
# (the certificates to its certs/), owned by Mosquitto's user, mode 0600, before the start and again whenever
# they change, then sends SIGHUP: a credential issued in the console works within BROKER_EVERY_S seconds.
#
# Log: Mosquitto writes it as its own user, mode 0600. The ingest service follows it for broker refusals
# (wrong passwords, ACL denials, which never reach it as messages), so the loop hands it to the group the
# ingest container runs with (SUITCASE_GID, read only) and rotates it past BROKER_LOG_MAX_BYTES: the log
# becomes mosquitto.log.1, and SIGHUP has Mosquitto open a new one.
#
# `exec` makes Mosquitto this process, so it receives compose's signals itself and `$$` in the loop is its pid.
set -eu
config="${BROKER_CONFIG:-/mosquitto/config/mosquitto.conf}"
files_from="${BROKER_FILES_FROM:-/mosquitto/config/suitcase}"
files_to="${BROKER_FILES_TO:-/mosquitto/private}"
certs_from="${BROKER_CERTS_FROM:-/mosquitto/certs}"
owner="${BROKER_USER:-mosquitto}"
log="${BROKER_LOG:-/mosquitto/log/mosquitto.log}"
max_bytes="${BROKER_LOG_MAX_BYTES:-33554432}"
every="${BROKER_EVERY_S:-2}"
group="${SUITCASE_GID:-10001}"
# Copy files NAME... from FROM to TO when any differs from its copy; true when it copied one.
sync_files() {
  from="$1" to="$2" changed=1
  shift 2
  for name in "$@"; do
    # a regular file only: as root, a link planted by a less trusted writer must not be followed
    [ -f "$from/$name" ] && [ ! -L "$from/$name" ] || continue
    if ! cmp -s "$from/$name" "$to/$name"; then
      cp "$from/$name" "$to/.$name.new"
      chown "$owner:$owner" "$to/.$name.new"
      chmod 0600 "$to/.$name.new"
      mv -f "$to/.$name.new" "$to/$name"
      changed=0
    fi
  done
  return $changed
}

sync_accounts() {
  accounts_changed=1 certs_changed=1
  sync_files "$files_from" "$files_to" passwd acl passwd-service acl-service && accounts_changed=0
  sync_files "$certs_from" "$files_to/certs" ca.crt server.crt server.key && certs_changed=0
  [ "$accounts_changed" -eq 0 ] || [ "$certs_changed" -eq 0 ]
}

for folder in "$files_to" "$files_to/certs"; do
  mkdir -p "$folder"
  chown "$owner:$owner" "$folder"
  chmod 0700 "$folder"
done
sync_accounts || true

(
  set +e # a file that vanishes between two commands must not end the loop
  while sleep "$every"; do
    # the broker gone (outside a container nothing else ends this loop): go with it
    kill -0 $$ 2>/dev/null || exit 0
    if sync_accounts; then
      kill -HUP $$
    fi
    size="$(stat -c %s "$log" 2>/dev/null)" || continue
    if [ "$size" -gt "$max_bytes" ]; then
      mv -f "$log" "$log.1" && kill -HUP $$
    else
      chgrp "$group" "$log" && chmod 0640 "$log"
    fi
  done
) &

exec mosquitto -c "$config"
