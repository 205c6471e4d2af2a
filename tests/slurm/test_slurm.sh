#!/usr/bin/env bash
# The Slurm scripts (scripts/slurm/, docs/cluster.md) on a real one-node cluster started here:
#   munged, slurmctld and slurmd on localhost, all under a mktemp folder, on free ports;
#   scripts/slurm/submit.sh runs a 4-task array of `maskeval score --shard I/4` over data/camvid
#   and the afterok merge; then the same score unsharded. Checks: each shard folder has a
#   report.json; the merged report.json equals the unsharded one (but for command_line, shard
#   and merged_from); the merge job's exit code is the unsharded run's.
# Usage: test_slurm.sh MASKEVAL SOURCE_DIR. Needs root (slurmd starts the jobs), Slurm
# (slurmctld, slurmd, sbatch, scontrol, sinfo), munge and jq: without them it is skipped
# (exit 77), except under CI=true, where it fails. Every wait is bounded and the whole test
# stops after TEST_SLURM_TIMEOUT seconds (240); the daemons are stopped however it ends.
set -uo pipefail
export LC_ALL=C
if [ $# -ne 2 ]; then
  echo "usage: $0 MASKEVAL SOURCE_DIR" >&2
  exit 2
fi
bin="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
src="$(cd "$2" && pwd)"
camvid="$src/data/camvid"
shards=4

skip() {  # skip WHY: exit 77, or fail under CI=true
  if [ "${CI:-}" = true ]; then
    echo "test_slurm: FAILED: $* (CI=true: not skipped; bash scripts/setup.sh installs Slurm and munge)"
    exit 1
  fi
  echo "test_slurm: skipped: $* (bash scripts/setup.sh installs Slurm and munge)"
  exit 77
}
PATH="$PATH:/usr/sbin:/sbin"  # munged, slurmctld and slurmd live there
for tool in munged mungekey slurmctld slurmd sbatch scontrol sinfo scancel squeue jq; do
  command -v "$tool" >/dev/null || skip "no $tool on PATH"
done
[ "$(id -u)" = 0 ] || skip "needs root: slurmd must start the jobs"
[ -x "$bin" ] || { echo "test_slurm: no maskeval at $bin"; exit 2; }
for f in "$camvid/prediction" "$camvid/reference" "$camvid/labels.csv"; do
  [ -e "$f" ] || { echo "test_slurm: no $f"; exit 2; }
done

tmp="$(mktemp -d "${TMPDIR:-/tmp}/maskeval-slurm.XXXXXX")" && tmp="$(cd "$tmp" && pwd)" || exit 2
chmod 755 "$tmp"  # munged wants its socket's folders searchable by all
conf="$tmp/etc/slurm.conf"
export SLURM_CONF="$conf"
daemons=()  # pids of munged, slurmctld, slurmd (started here, in that order)
watchdog=""
failures=0
pass() { echo "  ok: $*"; }
fail() {
  echo "  FAILED: $*"
  failures=$((failures + 1))
}

# Every live process that carries this cluster's SLURM_CONF in its environment: the daemons,
# slurmstepd and the jobs' processes (the test's own shells were started without it).
ours() {
  local e p
  for e in /proc/[0-9]*/environ; do
    p="${e#/proc/}" p="${p%/environ}"
    [ "$p" = $$ ] || [ "$p" = "$BASHPID" ] && continue
    grep -qzxF "SLURM_CONF=$conf" "$e" 2>/dev/null || continue
    [ "$(awk '{ print $3 }' "/proc/$p/stat" 2>/dev/null)" = Z ] && continue
    echo "$p"
  done
}
# wait_gone SECONDS PID...: until none of the pids is alive, at most SECONDS.
wait_gone() {
  local end=$((SECONDS + $1)) p alive
  shift
  while :; do
    alive=""
    for p in "$@"; do kill -0 "$p" 2>/dev/null && [ "$(awk '{ print $3 }' "/proc/$p/stat" 2>/dev/null)" != Z ] && alive=1; done
    [ -z "$alive" ] && return 0
    [ "$SECONDS" -ge "$end" ] && return 1
    sleep 0.2
  done
}
teardown() {
  trap - EXIT INT TERM
  [ -n "$watchdog" ] && kill "$watchdog" 2>/dev/null
  if [ -f "$conf" ] && [ ${#daemons[@]} -ge 2 ]; then
    local jobs
    jobs="$(timeout 10 squeue -h -o %A 2>/dev/null | sort -u)"
    [ -n "$jobs" ] && timeout 10 scancel $jobs 2>/dev/null
    local end=$((SECONDS + 15))
    while [ "$SECONDS" -lt "$end" ] && [ -n "$(timeout 5 squeue -h -o %A 2>/dev/null)" ]; do sleep 0.5; done
  fi
  local i
  for ((i = ${#daemons[@]} - 1; i >= 0; i--)); do  # slurmd, slurmctld, then munged
    kill -TERM "${daemons[i]}" 2>/dev/null
    wait_gone 10 "${daemons[i]}" || kill -KILL "${daemons[i]}" 2>/dev/null
  done
  local left
  left="$(ours)"
  if [ -n "$left" ]; then
    kill -KILL $left 2>/dev/null
    wait_gone 5 $left
  fi
  wait 2>/dev/null
  left="$(ours)"
  [ -n "$left" ] && echo "test_slurm: warning: processes of the test cluster still running: $left"
  rm -rf "$tmp"
}
trap teardown EXIT
trap 'echo "test_slurm: interrupted"; show_logs; exit 1' INT TERM
(
  unset SLURM_CONF
  trap 'kill "$nap" 2>/dev/null; exit 0' TERM
  sleep "${TEST_SLURM_TIMEOUT:-240}" &
  nap=$!
  wait "$nap"
  echo "test_slurm: FAILED: still running after ${TEST_SLURM_TIMEOUT:-240} s, stopping"
  kill -TERM $$
) &
watchdog=$!

show_logs() {  # the daemons' logs and the jobs' output, on failure
  local f
  for f in "$tmp"/log/*.log "$tmp"/log/*.out "$tmp"/run/logs/*.out "$tmp"/*.out; do
    [ -s "$f" ] || continue
    [ "${f%.out}" != "$f" ] && [ -s "${f%.out}.log" ] && continue  # the same lines as its .log
    echo "  --- ${f#"$tmp"/} (last 25 lines)"
    tail -n 25 "$f" | sed 's/^/    | /'
  done
}
give_up() {
  fail "$*"
  show_logs
  echo "test_slurm: $failures check(s) FAILED"
  exit 1
}
# free_port: a TCP port that nothing listens on.
free_port() {
  local p i
  for i in $(seq 200); do
    p=$((20000 + RANDOM % 40000))
    if command -v ss >/dev/null; then
      [ -z "$(ss -Htln "sport = :$p" 2>/dev/null)" ] && { echo "$p"; return 0; }
    elif ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

echo "maskeval: $bin"
# (no Slurm client before slurm.conf is written: without it they retry for 60 s)
echo "slurm: $(slurmctld -V 2>&1 | head -n 1), munge: $(munged -V 2>&1 | head -n 1)"
t0=$SECONDS

echo "starting the cluster under $tmp"
mkdir -m 700 "$tmp/munge" && mkdir -m 755 "$tmp/daemon" "$tmp/etc" "$tmp/log" "$tmp/state" "$tmp/spool" ||
  give_up "cannot create the cluster's folders"
mungekey --create --keyfile="$tmp/munge/munge.key" >"$tmp/log/mungekey.out" 2>&1 ||
  give_up "mungekey could not create a key"
chmod 400 "$tmp/munge/munge.key"
munged --foreground --socket="$tmp/daemon/munge.socket" --key-file="$tmp/munge/munge.key" \
  --pid-file="$tmp/daemon/munged.pid" --log-file="$tmp/log/munged.log" \
  --seed-file="$tmp/munge/munged.seed" >"$tmp/log/munged.out" 2>&1 &
daemons+=($!)
end=$((SECONDS + 15))
until [ -S "$tmp/daemon/munge.socket" ]; do
  kill -0 "${daemons[0]}" 2>/dev/null || give_up "munged exited"
  [ "$SECONDS" -lt "$end" ] || give_up "munged made no socket in 15 s"
  sleep 0.1
done

host="$(hostname -s)"
ctld_port="$(free_port)" || give_up "no free port"
slurmd_port="$(free_port)" || give_up "no free port"
while [ "$slurmd_port" = "$ctld_port" ]; do slurmd_port="$(free_port)" || give_up "no free port"; done
: >"$tmp/etc/plugstack.conf"
cat >"$conf" <<CONF
ClusterName=maskeval-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$tmp/daemon/munge.socket
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/daemon/slurmctld.pid
SlurmdPidFile=$tmp/daemon/slurmd.pid
SlurmctldLogFile=$tmp/log/slurmctld.log
SlurmdLogFile=$tmp/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig=$tmp/etc/plugstack.conf
MailProg=/bin/true
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
SlurmdParameters=config_overrides
ReturnToService=2
MinJobAge=600
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=512 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
# No cgroups (containers): processes are tracked through /proc, tasks are not confined.
printf '%s\n' 'CgroupPlugin=autodetect' 'ConstrainCores=no' 'ConstrainRAMSpace=no' \
  'ConstrainDevices=no' >"$tmp/etc/cgroup.conf"

slurmctld -D -f "$conf" >"$tmp/log/slurmctld.out" 2>&1 &
daemons+=($!)
slurmd -D -f "$conf" >"$tmp/log/slurmd.out" 2>&1 &
daemons+=($!)
end=$((SECONDS + 60))
state=""
while :; do
  kill -0 "${daemons[1]}" 2>/dev/null || give_up "slurmctld exited"
  kill -0 "${daemons[2]}" 2>/dev/null || give_up "slurmd exited"
  state="$(timeout 5 sinfo -h -N -n "$host" -o %t 2>/dev/null)"
  [ "$state" = idle ] && break
  [ "$SECONDS" -lt "$end" ] || give_up "node $host not idle after 60 s (state: '${state:-none}')"
  sleep 0.5
done
pass "cluster up in $((SECONDS - t0)) s: node $host idle, slurmctld :$ctld_port, slurmd :$slurmd_port"

# The sharded run, as a user submits it: from a folder of their own, the binary in MASKEVAL,
# the node's missing GPU dropped through SBATCH_EXTRA.
score=(score --prediction "$camvid/prediction" --reference "$camvid/reference"
       --labels "$camvid/labels.csv" --include-background --ignore-label 11 --threads 1)
run="$tmp/run"
mkdir -p "$tmp/submit"
ids="$(cd "$tmp/submit" && MASKEVAL="$bin" SBATCH_EXTRA="--gres=none" \
  bash "$src/scripts/slurm/submit.sh" -n "$shards" -d "$run" -- "${score[@]}" 2>"$tmp/submit.out")" ||
  give_up "submit.sh failed: $(cat "$tmp/submit.out")"
read -r array_job merge_job <<<"$ids"
[[ "$array_job" =~ ^[0-9]+$ && "$merge_job" =~ ^[0-9]+$ ]] ||
  give_up "submit.sh printed '$ids', not two job ids"
pass "submit.sh: array job $array_job, merge job $merge_job"

# job_field ID FIELD: FIELD of the job (JobState, ExitCode, Reason) from scontrol, one line a task.
job_field() { timeout 10 scontrol show job -o "$1" 2>/dev/null | grep -o "\b$2=[^ ]*" | cut -d= -f2-; }
end=$((SECONDS + 150))
while :; do
  merge_state="$(job_field "$merge_job" JobState)"
  case "$merge_state" in
    COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | PREEMPTED | BOOT_FAIL | DEADLINE) break ;;
  esac
  [ "$merge_state" = PENDING ] && [ "$(job_field "$merge_job" Reason)" = DependencyNeverSatisfied ] && break
  [ "$SECONDS" -lt "$end" ] || give_up "the merge job is still '${merge_state:-unknown}' after 150 s"
  kill -0 "${daemons[1]}" 2>/dev/null || give_up "slurmctld exited while the jobs ran"
  kill -0 "${daemons[2]}" 2>/dev/null || give_up "slurmd exited while the jobs ran"
  sleep 1
done
echo "  jobs done after $((SECONDS - t0)) s"
task_lines="$(timeout 10 scontrol show job -o "$array_job" 2>/dev/null |
  grep -o '\bArrayTaskId=[^ ]*\|\bJobState=[^ ]*\|\bExitCode=[^ ]*' | paste -d' ' - - - | sort)"
echo "$task_lines" | sed 's/^/    shard task: /'
echo "    merge job: JobState=$merge_state ExitCode=$(job_field "$merge_job" ExitCode) Reason=$(job_field "$merge_job" Reason)"

for ((i = 0; i < shards; i++)); do
  code="$(cat "$run/shards/$i.exit" 2>/dev/null)"
  if [ -f "$run/shards/$i/report.json" ]; then
    pass "shard $i: report.json (maskeval exit ${code:-unknown})"
  else
    fail "shard $i: no $run/shards/$i/report.json (maskeval exit ${code:-unknown})"
  fi
done
case "$merge_state" in
  COMPLETED | FAILED) ;;
  *)
    codes=""
    for ((i = 0; i < shards; i++)); do codes+=" $i:$(cat "$run/shards/$i.exit" 2>/dev/null || echo none)"; done
    give_up "the merge job ended $merge_state, reason $(job_field "$merge_job" Reason) (shards' maskeval exits:$codes; 1 or 2 fails a task, and the afterok merge is cancelled)"
    ;;
esac
merge_rc="$(job_field "$merge_job" ExitCode)"
merge_rc="${merge_rc%%:*}"
[ "$(cat "$run/merged.exit" 2>/dev/null)" = "$merge_rc" ] &&
  pass "merge job: exit $merge_rc, as in merged.exit" ||
  fail "merge job: exit $merge_rc, merged.exit says '$(cat "$run/merged.exit" 2>/dev/null)'"
[ -f "$run/merged/report.json" ] || give_up "the merge wrote no $run/merged/report.json"

# The unsharded run with the same --out string: the merged folder is moved aside first.
mv "$run/merged" "$run/merged-slurm"
(cd "$tmp/submit" && "$bin" "${score[@]}" --out "$run/merged") >"$tmp/single.out" 2>&1
single_rc=$?
echo "  unsharded run: exit $single_rc"
[ -f "$run/merged/report.json" ] || give_up "the unsharded run wrote no report.json (exit $single_rc)"
norm='del(.command_line, .shard, .merged_from)'
if jq -S "$norm" "$run/merged-slurm/report.json" >"$tmp/merged.json" 2>"$tmp/jq.out" &&
  jq -S "$norm" "$run/merged/report.json" >"$tmp/single.json" 2>>"$tmp/jq.out"; then
  if cmp -s "$tmp/merged.json" "$tmp/single.json"; then
    pass "merged report.json equals the unsharded one ($(wc -l <"$tmp/single.json") lines, jq -S '$norm')"
  else
    fail "merged report.json differs from the unsharded one:"
    diff -u "$tmp/single.json" "$tmp/merged.json" | head -n 40 | sed 's/^/    /'
  fi
else
  fail "jq could not read the reports: $(cat "$tmp/jq.out")"
fi
[ "$merge_rc" = "$single_rc" ] && pass "merge job's exit code $merge_rc is the unsharded run's" ||
  fail "merge job exit $merge_rc, unsharded run exit $single_rc"

if [ "$failures" -gt 0 ]; then
  show_logs
  echo "test_slurm: $failures check(s) FAILED"
  exit 1
fi
echo "test_slurm: all checks passed in $((SECONDS - t0)) s"
