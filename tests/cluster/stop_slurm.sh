#!/usr/bin/env bash
# Stop the one-node SLURM cluster started by setup_slurm.sh (slurmd, slurmctld, munged).
set -uo pipefail
# By pid file only: never end a process this script did not start.
for pidfile in /run/slurmd.pid /run/slurmctld.pid /run/munge/munged.pid; do
    [[ -s $pidfile ]] && kill "$(cat "$pidfile")" 2>/dev/null
done
for _ in $(seq 20); do
    pgrep -x slurmctld >/dev/null || pgrep -x slurmd >/dev/null || break
    sleep 0.5
done
exit 0
