#!/usr/bin/env bash
# Submits a sharded maskeval run to Slurm: an N-task job array of shards, then their merge (docs/cluster.md).
#
# Usage: scripts/slurm/submit.sh -n N -d RUN_DIR [-f EXPR]... [-g GATES] [-b BASELINE] \
#          -- agree|fuse|score OPTIONS...
#   -n N         number of shards (array tasks 0..N-1)
#   -d RUN_DIR   the run's folder: shards/I/ and shards/I.exit of each task, merged/ (the
#                merged outputs) and merged.exit, logs/ (the jobs' output)
#   -f EXPR      a quality gate for the merge (maskeval merge --fail-if EXPR), repeatable
#   -g FILE      gates file for the merge (--gates FILE)
#   -b FILE      an earlier report.json to compare the merged run with (--baseline FILE)
#   OPTIONS      maskeval's options for every shard (the dataset, labels, conventions...),
#                without --shard and --out, which the array adds
# Prints the two job ids, "ARRAY_JOB MERGE_JOB", on stdout. The merge waits for every shard
# with --dependency=afterok: a shard that exits 1 or 2 cancels it (--kill-on-invalid-dep=yes;
# exits 3 and 4 do not, see maskeval-array.sbatch); the merge's exit code is maskeval merge's.
# Environment:
#   MASKEVAL            the binary the jobs run (default: maskeval on the nodes' PATH)
#   SBATCH_EXTRA        more sbatch options for both jobs, split at spaces
#                       (e.g. "--partition=gpu --time=2:00:00 --account=seg")
#   SBATCH_ARRAY_EXTRA  more sbatch options for the array only (e.g. "--cpus-per-task=8")
#   SBATCH_MERGE_EXTRA  more sbatch options for the merge only
# Each array task asks for one GPU (--gres=gpu:1); on nodes without GPUs:
#   SBATCH_EXTRA=--gres=none (or SBATCH_GRES=none, Slurm's own variable).
# The jobs run in the current folder, with the current environment; RUN_DIR, MASKEVAL, -g and
# -b are made absolute first.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

usage() {  # usage CODE: this header as help, on stderr when CODE is not 0
  if [ "$1" = 0 ]; then
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'
  else
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//' >&2
  fi
  exit "$1"
}
die() {
  echo "submit: $*" >&2
  exit 1
}
absolute() {  # absolute PATH: PATH from / (the folder must exist)
  local d b
  d="$(dirname -- "$1")" b="$(basename -- "$1")"
  d="$(cd -- "$d" 2>/dev/null && pwd)" || die "no folder $(dirname -- "$1")"
  echo "$d/$b"
}

n="" run_dir="" merge_args=()
while getopts ":n:d:f:g:b:h" opt; do
  case "$opt" in
    n) n="$OPTARG" ;;
    d) run_dir="$OPTARG" ;;
    f) merge_args+=(--fail-if "$OPTARG") ;;
    g) [ -r "$OPTARG" ] || die "no file $OPTARG"; merge_args+=(--gates "$(absolute "$OPTARG")") ;;
    b) [ -r "$OPTARG" ] || die "no file $OPTARG"; merge_args+=(--baseline "$(absolute "$OPTARG")") ;;
    h) usage 0 ;;
    :) die "-$OPTARG needs a value (see -h)" ;;
    *) die "unknown option -$OPTARG (see -h)" ;;
  esac
done
shift $((OPTIND - 1))
[ "${1:-}" = "--" ] && shift
[[ "$n" =~ ^[1-9][0-9]*$ ]] || die "-n N: the number of shards, at least 1 (see -h)"
[ -n "$run_dir" ] || die "-d RUN_DIR is required (see -h)"
[ $# -gt 0 ] || die "no maskeval arguments after -- (e.g. score --prediction DIR --reference DIR)"
for a in "$@"; do
  case "$a" in
    --shard | --shard=* | --out | --out=* | -o | -o?*) die "leave out $a: the array adds --shard and --out" ;;
  esac
done
command -v sbatch >/dev/null || die "no sbatch on PATH (is this a Slurm login node?)"

mkdir -p "$run_dir/logs" || die "cannot create $run_dir/logs"
RUN_DIR="$(cd "$run_dir" && pwd)"
MASKEVAL_SHARDS="$n"
export RUN_DIR MASKEVAL_SHARDS
if [ -n "${MASKEVAL:-}" ] && [[ "$MASKEVAL" == */* ]]; then
  MASKEVAL="$(absolute "$MASKEVAL")"
  export MASKEVAL
fi

read -r -a extra <<<"${SBATCH_EXTRA:-}"
read -r -a array_extra <<<"${SBATCH_ARRAY_EXTRA:-}"
read -r -a merge_extra <<<"${SBATCH_MERGE_EXTRA:-}"

array_job="$(sbatch --parsable --array="0-$((n - 1))" --output="$RUN_DIR/logs/shard-%a.out" \
  ${extra[@]+"${extra[@]}"} ${array_extra[@]+"${array_extra[@]}"} \
  "$here/maskeval-array.sbatch" "$@")" || die "sbatch of the array failed"
array_job="${array_job%%;*}"
merge_job="$(sbatch --parsable --dependency="afterok:$array_job" --kill-on-invalid-dep=yes \
  --output="$RUN_DIR/logs/merge.out" \
  ${extra[@]+"${extra[@]}"} ${merge_extra[@]+"${merge_extra[@]}"} \
  "$here/maskeval-merge.sbatch" ${merge_args[@]+"${merge_args[@]}"})" || {
  echo "submit: sbatch of the merge failed; the array $array_job still runs (scancel $array_job)" >&2
  exit 1
}
merge_job="${merge_job%%;*}"
echo "submit: shards: job $array_job (tasks 0-$((n - 1))); merge: job $merge_job (after all shards succeed)" >&2
echo "submit: outputs under $RUN_DIR (merged/, logs/)" >&2
echo "$array_job $merge_job"
