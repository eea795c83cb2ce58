#!/usr/bin/env bash
# Start a one-node SLURM cluster on this machine (localhost), for tests/test_cluster.py and CI.
# Idempotent: installs slurm-wlm + munge if missing, (re)writes slurm.conf, starts the daemons that
# are not running, and waits until `sinfo` shows the node idle. Needs root and apt (Debian/Ubuntu).
# No cgroups, no accounting (job status comes from squeue; MinJobAge keeps finished jobs visible).
# Stop with tests/cluster/stop_slurm.sh.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
    echo "setup_slurm.sh: needs root (found uid $(id -u))" >&2
    exit 2
fi

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    command -v apt-get >/dev/null || { echo "setup_slurm.sh: slurm not installed and no apt-get" >&2; exit 2; }
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends slurm-wlm munge
fi

HOST=$(hostname -s)
# Two job slots per core: the test jobs are short and mostly wait on Python imports and file I/O, and a
# 2-CPU job (ingest) must not wait for every 1-CPU job to drain. SLURM_TEST_CPUS overrides.
CPUS=${SLURM_TEST_CPUS:-$((2 * $(nproc)))}
MEM_MB=$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
CONF_DIR=/etc/slurm
mkdir -p "$CONF_DIR" /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge

cat > "$CONF_DIR/slurm.conf.new" <<CONF
# Written by vmrec tests/cluster/setup_slurm.sh: one node ($HOST), no cgroups, no accounting.
ClusterName=vmrec
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
# Finished jobs stay visible to squeue for 10 minutes: the Snakemake plugin reads their state there.
MinJobAge=600
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SlurmctldTimeout=30
SlurmdTimeout=30
# CPUs below may exceed the hardware's (see CPUS above): slurmd takes the configured count.
SlurmdParameters=config_overrides
NodeName=$HOST CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF
CHANGED=1
if [[ -f "$CONF_DIR/slurm.conf" ]] && cmp -s "$CONF_DIR/slurm.conf.new" "$CONF_DIR/slurm.conf"; then
    CHANGED=0
fi
mv "$CONF_DIR/slurm.conf.new" "$CONF_DIR/slurm.conf"

# munge: a key, then the daemon.
if [[ ! -s /etc/munge/munge.key ]]; then
    mkdir -p /etc/munge
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
fi
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge 2>/dev/null || true
chmod 400 /etc/munge/munge.key
if ! pgrep -x munged >/dev/null; then
    runuser -u munge -- /usr/sbin/munged || /usr/sbin/munged --force
fi
for _ in $(seq 20); do munge -n </dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.5; done

if [[ $CHANGED -eq 1 ]]; then
    # A new configuration: restart what runs with the old one.
    for pidfile in /run/slurmctld.pid /run/slurmd.pid; do
        [[ -s $pidfile ]] && kill "$(cat "$pidfile")" 2>/dev/null || true
    done
    sleep 1
fi
# -c: a test cluster starts without jobs left over from an earlier run (a stale job can block the queue)
pgrep -x slurmctld >/dev/null || /usr/sbin/slurmctld -c
pgrep -x slurmd >/dev/null || /usr/sbin/slurmd

for i in $(seq 60); do
    state=$(sinfo -h -N -n "$HOST" -o '%T' 2>/dev/null | head -n1 || true)
    case "$state" in
        idle|mixed|allocated) echo "slurm: node $HOST is $state (CPUs=$CPUS RealMemory=${MEM_MB}M)"; exit 0 ;;
        down*|drain*) scontrol update nodename="$HOST" state=resume 2>/dev/null || true ;;
    esac
    sleep 1
done
echo "setup_slurm.sh: node $HOST not idle after 60 s (state: ${state:-none}); see /var/log/slurm/" >&2
exit 1
