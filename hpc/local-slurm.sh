#!/usr/bin/env bash
# A genuine single-node Slurm + munge cluster on this machine, for trying camsort's HPC path
# (dask-jobqueue SLURMCluster, profile hpc/local.yaml) on a laptop or a CI machine.
#
#   bash hpc/local-slurm.sh up       install (if needed, as root via apt-get), start munged,
#                                    slurmctld and slurmd; wait until the node is idle
#   bash hpc/local-slurm.sh status   daemons + sinfo; exit 0 if up, 1 if not
#   bash hpc/local-slurm.sh down     cancel jobs, stop the daemons by their pid files
#
# Everything lives in ${CAMSORT_SLURM_STATE:-/tmp/camsort-slurm} (config, state, spool, logs,
# pid files, munge socket, job completion log). The daemons run as root (SlurmUser=root), munged
# as the munge user. So that plain `sbatch`/`squeue`/`sinfo`/`scancel` (as dask-jobqueue calls
# them) find this cluster without SLURM_CONF, the config is also copied to /etc/slurm/slurm.conf,
# but only if that file does not exist or was written by this script (see MARKER); `down`
# removes that copy again. No slurmdbd: finished jobs go to the job completion log, which
# `sacct -c` (--completion) reads: sacct -c -S 2000-01-01 -X -P -o jobid,jobname,state
set -euo pipefail

STATE="${CAMSORT_SLURM_STATE:-/tmp/camsort-slurm}"
TIMEOUT="${CAMSORT_SLURM_TIMEOUT:-60}"
CONF="$STATE/slurm.conf"
ETC_CONF=/etc/slurm/slurm.conf
MARKER="# Written by camsort hpc/local-slurm.sh"
MUNGE_DIR="$STATE/munge"
MUNGE_KEY=/etc/munge/munge.key
MUNGE_SOCKET="$MUNGE_DIR/munge.socket.2"
MUNGE_PID="$MUNGE_DIR/munged.pid"
CTLD_PID="$STATE/slurmctld.pid"
SLURMD_PID="$STATE/slurmd.pid"
JOBCOMP="$STATE/jobcomp.log"
export SLURM_CONF="$CONF"
export PATH="$PATH:/usr/sbin:/sbin"

say() { echo "local-slurm: $*"; }
die() { echo "local-slurm: $*" >&2; exit 1; }

# PID from a pid file if that process is alive and is the named program, else nothing.
# (/proc rather than kill -0, so that status works for users other than root.)
live_pid() {
    local file="$1" name="$2" pid
    [[ -r "$file" ]] || return 1
    pid="$(tr -dc '0-9' <"$file")"
    [[ -n "$pid" && -d "/proc/$pid" ]] || return 1
    [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == "$name" ]] || return 1
    echo "$pid"
}

node_name() { hostname -s; }

# State of our node as sinfo reports it ("idle", "down*", "drained", ...), or nothing.
node_state() {
    timeout 10 sinfo -h -N -n "$(node_name)" -o '%T' 2>/dev/null | head -n1 || true
}

is_up() {
    live_pid "$MUNGE_PID" munged >/dev/null && live_pid "$CTLD_PID" slurmctld >/dev/null \
        && live_pid "$SLURMD_PID" slurmd >/dev/null
}

show_logs() {
    local f
    for f in "$STATE/slurmctld.log" "$STATE/slurmd.log" "$MUNGE_DIR/munged.log"; do
        [[ -f "$f" ]] || continue
        echo "---- tail $f" >&2
        tail -n 15 "$f" >&2
    done
}

ensure_packages() {
    local missing=()
    local prog
    for prog in sbatch sinfo slurmctld slurmd munged; do
        command -v "$prog" >/dev/null 2>&1 || missing+=("$prog")
    done
    ((${#missing[@]} == 0)) && return 0
    if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
        echo "local-slurm: needs root and apt-get to install slurm-wlm and munge; missing: ${missing[*]} (install them yourself, then run as root)" >&2
        exit 2
    fi
    say "installing slurm-wlm and munge (missing: ${missing[*]})"
    export DEBIAN_FRONTEND=noninteractive
    local i
    for i in 1 2 3; do
        apt-get update -q && break
        say "apt-get update failed (attempt $i), retrying"
        sleep 5
    done
    apt-get install -y -q --no-install-recommends slurm-wlm munge
}

need_root() {
    [[ "$(id -u)" == 0 ]] || {
        echo "local-slurm: needs root (slurmd runs jobs as any user, munged as munge)" >&2
        exit 2
    }
}

start_munge() {
    if live_pid "$MUNGE_PID" munged >/dev/null; then
        return 0
    fi
    if [[ ! -s "$MUNGE_KEY" ]]; then
        say "generating $MUNGE_KEY"
        install -d -o munge -g munge -m 700 "$(dirname "$MUNGE_KEY")"
        (umask 077 && dd if=/dev/urandom of="$MUNGE_KEY" bs=1024 count=1 status=none)
        chown munge:munge "$MUNGE_KEY"
        chmod 400 "$MUNGE_KEY"
    fi
    install -d -o munge -g munge -m 755 "$MUNGE_DIR"
    rm -f "$MUNGE_SOCKET" "$MUNGE_SOCKET.lock"
    runuser -u munge -- munged --socket="$MUNGE_SOCKET" --key-file="$MUNGE_KEY" \
        --pid-file="$MUNGE_PID" --log-file="$MUNGE_DIR/munged.log" \
        --seed-file="$MUNGE_DIR/munged.seed" \
        || { show_logs; die "munged did not start"; }
    local i
    for i in $(seq 50); do
        [[ -S "$MUNGE_SOCKET" ]] && live_pid "$MUNGE_PID" munged >/dev/null && return 0
        sleep 0.1
    done
    show_logs
    die "munged did not come up (socket $MUNGE_SOCKET)"
}

write_conf() {
    local host cpus mem_mib headroom
    host="$(node_name)"
    cpus="$(nproc)"
    mem_mib=$(($(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024))
    # Leave room for the OS and the daemons: 10 % but at least 512 MiB.
    headroom=$((mem_mib / 10 > 512 ? mem_mib / 10 : 512))
    mem_mib=$((mem_mib - headroom > 256 ? mem_mib - headroom : 256))
    mkdir -p "$STATE/ctld" "$STATE/spool"
    # Worker job logs of hpc/local.yaml (log_directory); any user's dask may write there.
    install -d -m 1777 "$STATE/dask-logs"
    cat >"$CONF.tmp" <<EOF
$MARKER (state folder $STATE); safe to delete.
# A single-node cluster for camsort's HPC path: bash hpc/local-slurm.sh up|status|down.
ClusterName=camsort-local
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCKET
MpiDefault=none
MailProg=/bin/true
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$SLURMD_PID
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# Jobs without --mem get 1 GiB per CPU (not the whole node), so several can run side by side.
DefMemPerCPU=1024
ReturnToService=2
SchedulerType=sched/backfill
# No slurmdbd here, so plain sacct says "accounting storage is disabled"; finished jobs are
# appended to JobCompLoc (mode 644, one "JobId=N ... JobState=..." line per job), which
# 'sacct -c' (--completion) reads. sacct -c opens it O_WRONLY|O_APPEND first, so only root can
# use it; other users read the file itself.
JobAcctGatherType=jobacct_gather/linux
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$JOBCOMP
# Keep finished jobs visible to 'scontrol show job' / 'squeue -t all' for 10 minutes.
MinJobAge=600
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mib State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
    mv "$CONF.tmp" "$CONF"
    if [[ ! -e "$ETC_CONF" ]] || head -n1 "$ETC_CONF" | grep -qF "$MARKER"; then
        mkdir -p "$(dirname "$ETC_CONF")"
        cp "$CONF" "$ETC_CONF"
    else
        say "warning: $ETC_CONF exists and was not written by this script; left alone."
        say "warning: commands without SLURM_CONF=$CONF will talk to that cluster, not this one."
    fi
}

start_daemon() {
    local name="$1" pidfile="$2" i
    live_pid "$pidfile" "$name" >/dev/null && return 0
    rm -f "$pidfile"
    "$name" -f "$CONF" || { show_logs; die "$name did not start"; }
    for i in $(seq 100); do
        live_pid "$pidfile" "$name" >/dev/null && return 0
        sleep 0.1
    done
    show_logs
    die "$name did not write $pidfile"
}

# When slurmd last registered with slurmctld (local time, ISO 8601), or nothing.
slurmd_start_time() {
    timeout 10 scontrol -o show node "$(node_name)" 2>/dev/null \
        | grep -o 'SlurmdStartTime=[^ ]*' | cut -d= -f2 || true
}

# How many main scheduling passes slurmctld has made; the first one comes ~3 s after it starts,
# and jobs submitted before it just wait.
sched_cycles() {
    timeout 10 sdiag 2>/dev/null \
        | awk '/Main schedule statistics/ {m = 1} m && /Total cycles:/ {print $3; exit}' || true
}

# Wait until the node is usable and (given $1, an ISO time) its slurmd registered since then,
# so that a node state remembered from an earlier run does not count, and until the scheduler
# has run once.
wait_idle() {
    local since="${1:-}" start=$SECONDS st="" resumed=0 reg cycles
    while ((SECONDS - start < TIMEOUT)); do
        st="$(node_state)"
        case "$st" in
            idle | mixed | allocated | completing)
                reg="$(slurmd_start_time)"
                cycles="$(sched_cycles)"
                if [[ -z "$since" || ( -n "$reg" && ! "$reg" < "$since" ) ]] \
                    && [[ "${cycles:-0}" =~ ^[0-9]+$ ]] && ((cycles >= 1)); then
                    return 0
                fi ;;
            down* | drain* | fail*)
                if ((resumed == 0)) && [[ "$st" != *"*" ]]; then
                    say "node $(node_name) is $st; resuming it"
                    scontrol update nodename="$(node_name)" state=resume || true
                    resumed=1
                fi ;;
        esac
        sleep 0.5
    done
    show_logs
    timeout 10 sinfo -N -l >&2 || true
    die "node $(node_name) not idle after ${TIMEOUT}s (state: ${st:-unknown}); logs in $STATE"
}

cmd_up() {
    ensure_packages
    need_root
    if is_up && [[ -n "$(node_state)" ]]; then
        wait_idle ""
        say "already up (state folder $STATE, node $(node_name) $(node_state))"
        return 0
    fi
    local t0=$SECONDS
    mkdir -p "$STATE"
    chmod 755 "$STATE"
    start_munge
    write_conf
    start_daemon slurmctld "$CTLD_PID"
    local since=""
    live_pid "$SLURMD_PID" slurmd >/dev/null || since="$(date +%Y-%m-%dT%H:%M:%S)"
    start_daemon slurmd "$SLURMD_PID"
    wait_idle "$since"
    say "up in $((SECONDS - t0))s: node $(node_name) $(node_state), partition debug; state folder $STATE"
    say "finished job ids: sacct -c -S 2000-01-01 -X -P -o jobid,jobname,state (reads $JOBCOMP)"
}

stop_pid() {
    local name="$1" pidfile="$2" pid i
    pid="$(live_pid "$pidfile" "$name")" || { rm -f "$pidfile"; return 0; }
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 150); do
        kill -0 "$pid" 2>/dev/null || { say "stopped $name ($pid)"; rm -f "$pidfile"; return 0; }
        sleep 0.1
    done
    say "$name ($pid) did not exit after SIGTERM; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$pidfile"
}

cmd_down() {
    local any=0 jobs i
    live_pid "$MUNGE_PID" munged >/dev/null && any=1
    live_pid "$CTLD_PID" slurmctld >/dev/null && any=1
    live_pid "$SLURMD_PID" slurmd >/dev/null && any=1
    if ((any == 0)); then
        say "not running (state folder $STATE)"
        remove_etc_conf
        return 0
    fi
    need_root
    if live_pid "$CTLD_PID" slurmctld >/dev/null; then
        jobs="$(timeout 10 squeue -h -o '%A' 2>/dev/null | tr '\n' ' ' || true)"
        if [[ -n "${jobs// /}" ]]; then
            say "cancelling jobs: $jobs"
            # shellcheck disable=SC2086
            timeout 10 scancel $jobs || true
            for i in $(seq 30); do
                [[ -z "$(timeout 10 squeue -h -o '%A' 2>/dev/null || true)" ]] && break
                sleep 1
            done
        fi
    fi
    stop_pid slurmd "$SLURMD_PID"
    stop_pid slurmctld "$CTLD_PID"
    stop_pid munged "$MUNGE_PID"
    remove_etc_conf
    say "down (state, logs and $JOBCOMP kept in $STATE)"
}

remove_etc_conf() {
    if [[ -f "$ETC_CONF" ]] && head -n1 "$ETC_CONF" | grep -qF "$MARKER"; then
        rm -f "$ETC_CONF"
    fi
}

cmd_status() {
    local ok=0 pid name file
    for name in munged slurmctld slurmd; do
        case "$name" in
            munged) file="$MUNGE_PID" ;;
            slurmctld) file="$CTLD_PID" ;;
            slurmd) file="$SLURMD_PID" ;;
        esac
        if pid="$(live_pid "$file" "$name")"; then
            echo "$name: running (pid $pid)"
        else
            echo "$name: not running"
            ok=1
        fi
    done
    echo "state folder: $STATE (SLURM_CONF=$CONF)"
    echo "finished jobs: sacct -c -S 2000-01-01 -X -P -o jobid,jobname,state  (job completion log $JOBCOMP)"
    if ((ok == 0)); then
        timeout 10 sinfo || ok=1
    fi
    return "$ok"
}

case "${1:-}" in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    *)
        echo "usage: $0 up|down|status   (state folder \${CAMSORT_SLURM_STATE:-/tmp/camsort-slurm})" >&2
        exit 64 ;;
esac
