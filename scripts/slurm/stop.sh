#!/usr/bin/env bash
# Stops the test cluster scripts/slurm/start.sh started: slurmd, slurmctld and
# munged, each found by its pid file (and checked by name, so a stale pid file
# never kills another process). For developers; the tests leave the cluster up.
# Job and node state stay in /var/spool/slurmctld for the next start.
set -uo pipefail

[ "$(id -u)" -eq 0 ] || { echo "slurm: stop.sh must run as root" >&2; exit 1; }

# Stops the process called $2 whose pid is in the file $1, if it runs: SIGTERM,
# then SIGKILL if it has not gone after 10 s.
stop_from() {
  local pidfile=$1 name=$2 pid
  pid=$(cat "$pidfile" 2>/dev/null) || return 0
  if [ -z "$pid" ] || [ "$(cat "/proc/$pid/comm" 2>/dev/null)" != "$name" ]; then
    return 0
  fi
  kill "$pid" 2>/dev/null
  for _ in $(seq 1 50); do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "slurm: stopped $name ($pid)"
      return 0
    fi
    sleep 0.2
  done
  kill -9 "$pid" 2>/dev/null
  echo "slurm: killed $name ($pid): it ignored SIGTERM for 10 s"
}

stop_from /run/slurmd.pid slurmd
stop_from /run/slurmctld.pid slurmctld
stop_from /run/munge/munged.pid munged
