# lib-slurm.sh - a real Slurm cluster of one node on localhost, for the
# tests: munged, slurmctld and slurmd with their own key, socket, config,
# state and logs in one folder, no cgroups, nothing in /etc touched
# (slurm-notes.md).  Source it after lib.sh.
#
#   slurm_missing       prints why a cluster cannot run here (empty: it can)
#   slurm_start DIR     start the three daemons in DIR; exports SLURM_CONF;
#                       returns 1 (with the logs' tails) if the node is not
#                       idle within 30 s
#   slurm_stop          stop them by their pid files and wait until they are
#                       gone; safe to call twice and from a trap
#   slurm_wait_gone ID  wait until job ID has left the queue

slurm_missing() {
	for t in munged slurmctld slurmd sbatch squeue scontrol sinfo; do
		if ! command -v $t >/dev/null 2>&1 &&
		    ! [ -x "/usr/sbin/$t" ]; then
			echo "$t is not installed (scripts/deps.sh installs" \
			    "slurm-wlm and munge)"
			return
		fi
	done
	# slurmd runs the jobs as their user: it has to be root
	[ "$(id -u)" -eq 0 ] || echo "slurmd needs root"
}

# a TCP port nobody listens on, and the next one (from /proc/net/tcp*)
slurm_free_port() {
	used=$(cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
	    awk 'NR > 1 { split($2, a, ":"); print a[2] }')
	p=$((20000 + $$ % 20000))
	while :; do
		h1=$(printf '%04X' "$p")
		h2=$(printf '%04X' $((p + 1)))
		if ! echo "$used" | grep -qx -e "$h1" -e "$h2"; then
			echo "$p"
			return
		fi
		p=$((p + 2))
	done
}

SLURM_DIR=""
slurm_start() {
	SLURM_DIR=$1
	D=$1
	PATH="$PATH:/usr/sbin"
	mkdir -p "$D/munge" "$D/state" "$D/spool" "$D/log" || return 1
	dd if=/dev/urandom of="$D/munge/munge.key" bs=1024 count=1 \
	    2>/dev/null && chmod 400 "$D/munge/munge.key" || return 1
	munged --key-file="$D/munge/munge.key" \
	    --socket="$D/munge/munge.sock" --pid-file="$D/munge/munged.pid" \
	    --log-file="$D/munge/munged.log" --seed-file="$D/munge/seed" -f \
	    || return 1
	host=$(hostname -s)
	port=$(slurm_free_port)
	cat > "$D/slurm.conf" <<EOF
ClusterName=hgqtest
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$D/munge/munge.sock
CredType=cred/munge
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
SlurmctldPort=$port
SlurmdPort=$((port + 1))
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
NodeName=$host CPUs=$(nproc) State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
	SLURM_CONF=$D/slurm.conf
	export SLURM_CONF
	slurmctld -f "$SLURM_CONF" || return 1
	slurmd -f "$SLURM_CONF" || return 1
	i=0
	while [ "$i" -lt 60 ]; do
		st=$(sinfo -h -o %t 2>/dev/null)
		[ "$st" = idle ] && return 0
		sleep 0.5
		i=$((i + 1))
	done
	echo "# the node is not idle after 30 s (state '$st')"
	tail -n 5 "$D/log/slurmctld.log" "$D/log/slurmd.log" | sed 's/^/#   /'
	return 1
}

slurm_stop() {
	[ -n "$SLURM_DIR" ] || return 0
	# jobs still queued or running would outlive slurmd
	ids=$(squeue -h -o %i 2>/dev/null)
	if [ -n "$ids" ]; then
		# shellcheck disable=SC2086
		scancel $ids 2>/dev/null
		i=0
		while [ -n "$(squeue -h -o %i 2>/dev/null)" ] && [ "$i" -lt 100 ]; do
			sleep 0.1
			i=$((i + 1))
		done
	fi
	for f in slurmd.pid slurmctld.pid munge/munged.pid; do
		pf=$SLURM_DIR/$f
		[ -s "$pf" ] || continue
		pid=$(cat "$pf")
		kill "$pid" 2>/dev/null
		i=0
		while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 100 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
		rm -f "$pf"
	done
	SLURM_DIR=""
}

slurm_wait_gone() {
	i=0
	while [ -n "$(squeue -h -o %i -j "$1" 2>/dev/null)" ] &&
	    [ "$i" -lt 600 ]; do
		sleep 0.2
		i=$((i + 1))
	done
}
