#!/usr/bin/env bash
# Starts the single-node Slurm cluster the tests run against (docs/slurm.md,
# "The test cluster"): munged, slurmctld and slurmd from Debian's packages, as
# plain background processes, because CI is a fresh Debian machine (or a
# container) where we are root and no systemd runs. The node is this host and
# the one partition is `debug`; the settings are the ones that make a test
# cluster fast and predictable (jobs share the node, finished jobs leave squeue
# within seconds, no accounting database), each explained where it is written.
#
# Idempotent: when the cluster already answers with a usable node, it prints
# one line and changes nothing. Otherwise it (re)writes the config, restarts
# what is not running right, and waits for the node to be idle (bounded).
# Run as root; stop it all with scripts/slurm/stop.sh.
set -euo pipefail

CLUSTER=runstage-test
CONF_DIR=/etc/slurm
LOG_DIR=/var/log/slurm
CTLD_PID=/run/slurmctld.pid
SLURMD_PID=/run/slurmd.pid
MUNGE_KEY=/etc/munge/munge.key
WAIT_SECONDS=${RUNSTAGE_SLURM_WAIT:-30}

NODE=$(hostname -s)

say() { echo "slurm: $*"; }

fail() {
  say "$*" >&2
  local log
  for log in "$LOG_DIR/slurmctld.log" "$LOG_DIR/slurmd.log" /var/log/munge/munged.log; do
    if [ -s "$log" ]; then
      echo "--- tail of $log" >&2
      tail -n 25 "$log" >&2
    fi
  done
  exit 1
}

# The node's state as sinfo reports it ("idle", "mixed", "down*", ...), or
# nothing when slurmctld does not answer within a few seconds.
node_state() {
  timeout 5 sinfo -h -n "$NODE" -o %T 2>/dev/null | head -n 1 || true
}

munge_works() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }

# A node that takes jobs: idle, or busy with jobs of tests already running.
# A trailing "*" (not responding) or drain/down is not usable.
usable() {
  [[ $(node_state) =~ ^(idle|mixed|allocated|completing)$ ]]
}

# Up: munge answers, our slurmd runs (slurmctld notices a dead one only after
# SlurmdTimeout) and slurmctld reports the node usable.
cluster_up() { munge_works && alive_from "$SLURMD_PID" slurmd && usable; }

# The line both the "already up" and the "now up" cases print.
up_line() {
  local cpus
  cpus=$(timeout 5 sinfo -h -n "$NODE" -o %c 2>/dev/null | head -n 1 || true)
  say "cluster $CLUSTER $1 (node $NODE, ${cpus:-?} cpus)"
}

# Whether the pid file $1 names a live process called $2 (a stale pid file may
# name a pid the system has since given to another process).
alive_from() {
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ]
}

# Stops the daemon $2 whose pid file is $1 (if it runs) and waits for it to go.
stop_from() {
  local pidfile=$1 pid
  alive_from "$pidfile" "$2" || return 0
  pid=$(cat "$pidfile")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.2
  done
  kill -9 "$pid" 2>/dev/null || true
}

[ "$(id -u)" -eq 0 ] || { say "start.sh must run as root (it starts munged, slurmctld, slurmd)" >&2; exit 1; }
PATH=$PATH:/usr/sbin:/sbin
for tool in munged munge unmunge slurmctld slurmd sinfo scontrol sbatch squeue; do
  command -v "$tool" >/dev/null ||
    { say "$tool not found: apt-get install slurmctld slurmd slurm-client munge" >&2; exit 1; }
done

if cluster_up; then
  up_line "already up"
  exit 0
fi

# One start at a time: a second caller waits, then finds the cluster up. The
# daemons must not inherit the lock's fd 9 (munged keeps its fds open), or they
# would hold the lock for as long as they run: each is started with 9>&-.
LOCK=/run/runstage-slurm.lock
exec 9>"$LOCK"
flock -w 60 9 || { say "another start.sh has held $LOCK for 60 s" >&2; exit 1; }
if cluster_up; then
  up_line "already up"
  exit 0
fi

# --- munge: the credentials slurmctld and slurmd authenticate each other with -----

if ! munge_works; then
  install -d -o munge -g munge -m 0700 /etc/munge /var/lib/munge /var/log/munge
  install -d -o munge -g munge -m 0755 /run/munge
  if [ ! -s "$MUNGE_KEY" ]; then
    if ! mungekey --create --keyfile "$MUNGE_KEY" 2>/dev/null; then
      dd if=/dev/urandom of="$MUNGE_KEY" bs=1 count=1024 status=none
    fi
    chmod 0400 "$MUNGE_KEY"
  fi
  # munged refuses a key that others can read or that it does not own.
  chown munge:munge "$MUNGE_KEY"
  chmod go-rwx "$MUNGE_KEY"
  # A munged that does not answer (its socket gone) blocks a new one.
  stop_from /run/munge/munged.pid munged
  rm -f /run/munge/munged.pid
  runuser -u munge -- "$(command -v munged)" 9>&- || fail "munged did not start"
  for _ in $(seq 1 50); do
    munge_works && break
    sleep 0.1
  done
  munge_works || fail "munged started but munge -n | unmunge fails"
  # Slurm daemons that only lacked munge answer again now: leave them be.
  # (Asked only when they run: sinfo waits out its timeout for a slurmctld that does not.)
  if alive_from "$CTLD_PID" slurmctld && alive_from "$SLURMD_PID" slurmd && usable; then
    up_line up
    exit 0
  fi
fi

# --- slurm.conf ----------------------------------------------------------------------

# At least 8 CPUs, whatever the machine has: the tests' jobs mostly sleep, and on a
# 2-core machine the Slurm tests of several files would otherwise queue behind
# each other. config_overrides keeps slurmd from draining a node that has fewer.
cpus=$(nproc)
[ "$cpus" -ge 8 ] || cpus=8
mem_mb=$(awk '/^MemTotal:/ { print int($2 / 1024) }' /proc/meminfo)
# Headroom: slurmd drains a node whose configured memory exceeds what it finds,
# and the OS and the tests themselves need some.
real_mem=$((mem_mb * 9 / 10))
[ "$real_mem" -ge 256 ] || real_mem=$mem_mb

install -d -m 0755 "$CONF_DIR" "$LOG_DIR" /var/spool/slurmd
install -d -m 0700 /var/spool/slurmctld

conf=$(
  cat <<EOF
# Written by runstage's scripts/slurm/start.sh: a single-node test cluster.
# See docs/slurm.md, "The test cluster", for why each setting is what it is.
ClusterName=$CLUSTER
SlurmctldHost=$NODE(127.0.0.1)
# Root runs the daemons on the test machine: no slurm user or file ownership to set up.
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
MpiDefault=none
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$SLURMD_PID
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups: containers and CI machines often have none we may use.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
# Jobs share the node by cores and memory; a small default memory per CPU lets
# array tasks run side by side instead of each taking the node's whole memory.
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=100
# No slurmdbd; finished jobs are still recorded, one line each, in a text file.
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$LOG_DIR/jobcomp.log
# Fast turnaround: scancel's SIGTERM is followed by SIGKILL after 5 s, finished
# jobs leave squeue soon, and the scheduler runs every few seconds on top of
# the runs it does at each submit and job end.
KillWait=5
MinJobAge=5
SchedulerType=sched/builtin
SchedulerParameters=sched_interval=2
SlurmdTimeout=60
# A node that was down comes back by itself once its slurmd registers.
ReturnToService=2
# The node has the CPUs this file says, even where the machine has fewer.
SlurmdParameters=config_overrides
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$real_mem State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
)

# Daemons running with another config (or stuck) are restarted with this one.
stop_from "$SLURMD_PID" slurmd
stop_from "$CTLD_PID" slurmctld
printf '%s\n' "$conf" >"$CONF_DIR/slurm.conf"
# slurmd loads a cgroup plugin even when no other plugin uses cgroups, and
# autodetect picks cgroup/v2 on a cgroup v2 machine, whose init needs systemd
# (or a writable cgroup tree) and fails in a container or on CI without it.
# cgroup/v1's init touches nothing, and with proctrack/linuxproc and task/none
# nothing asks it for more: this is Slurm 22.05's way to say "no cgroups".
printf '%s\n' "# Written by runstage's scripts/slurm/start.sh; see docs/slurm.md." \
  "CgroupPlugin=cgroup/v1" >"$CONF_DIR/cgroup.conf"
chmod 0644 "$CONF_DIR/slurm.conf" "$CONF_DIR/cgroup.conf"

# --- the daemons -----------------------------------------------------------------------

started=$(date +%s)
slurmctld 9>&- || fail "slurmctld did not start"
slurmd 9>&- || fail "slurmd did not start"

resumed=0
while :; do
  state=$(node_state)
  if [[ $state =~ ^(idle|mixed|allocated|completing)$ ]]; then
    break
  fi
  # Drained or down from an earlier run (its state is kept in StateSaveLocation):
  # once slurmd answers, put the node back to work.
  if [[ $state =~ ^(down|drain|drained|draining|fail)$ ]] && [ "$resumed" -lt 3 ]; then
    scontrol update nodename="$NODE" state=resume 2>/dev/null || true
    resumed=$((resumed + 1))
  fi
  elapsed=$(($(date +%s) - started))
  # A daemon that exited (a bad config, a port in use) will not come back:
  # say so now. (Not at once: each writes its pid file just after it forks.)
  if [ "$elapsed" -ge 2 ]; then
    alive_from "$CTLD_PID" slurmctld || fail "slurmctld exited"
    alive_from "$SLURMD_PID" slurmd || fail "slurmd exited"
  fi
  if [ "$elapsed" -ge "$WAIT_SECONDS" ]; then
    fail "node $NODE not idle after ${WAIT_SECONDS}s (state: ${state:-no answer})"
  fi
  sleep 0.5
done

up_line up
