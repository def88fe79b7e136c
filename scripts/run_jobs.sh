#!/usr/bin/env bash
# The studies' job queue: runs each JOB (one shell command line: a training run and its log) in bash, PARALLEL at a
# time, until all are done. A job reports its own failure (`|| echo FAILED ...`) and the others go on. Threads per job
# are the caller's choice (the studies set OMP_NUM_THREADS=1 when two runs share the 2 cores).
#   scripts/run_jobs.sh PARALLEL JOB [JOB ...]        (no JOB: nothing to do)
set -euo pipefail
parallel=$1
shift
[ $# -eq 0 ] || printf '%s\n' "$@" | xargs -d "\n" -P "$parallel" -I{} bash -c "{}"
