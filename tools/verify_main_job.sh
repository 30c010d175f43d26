#!/bin/sh
# Re-verify the README's main-job figures for one seed: runs the README's first command
# (npm run grpo: configs/grpo_arithmetic.yaml) with seed=SEED into runs/verify-grpo-seed-SEED
# (refused if it exists: pass a fresh seed or remove it), then prints held-out greedy
# accuracy before -> after (512 unseen problems, every validation point in between), the
# wall time and the CPU time of the process (both threads).
#   tools/verify_main_job.sh 7        (extra arguments go to rxrl grpo, e.g. --backend wasm)
set -e
cd "$(dirname "$0")/.."
if [ -z "$1" ]; then
  echo "usage: tools/verify_main_job.sh SEED [rxrl grpo arguments...]" >&2
  exit 2
fi
case "$1" in *[!0-9]*) echo "verify_main_job: SEED must be a non-negative integer, got '$1'" >&2; exit 2 ;; esac
seed="$1"
shift
dir="runs/verify-grpo-seed-$seed"
if [ -e "$dir" ]; then
  echo "verify_main_job: $dir exists; remove it (or pick another seed) so the run starts fresh" >&2
  exit 2
fi
mkdir -p runs
CI=true /usr/bin/env time -f '%e %U %S' -o "$dir.time" npm run grpo -- seed="$seed" --run-dir "$dir" "$@" || {
  echo "verify_main_job: the run failed" >&2
  exit 1
}
node -e '
const fs = require("fs");
const [dir, timeFile, load] = process.argv.slice(1);
const rows = fs.readFileSync(dir + "/metrics.jsonl", "utf8").trim().split("\n").map((l) => JSON.parse(l));
const val = rows.filter((r) => r["validation/accuracy"] !== undefined);
const first = val[0], last = val[val.length - 1];
const [wall, user, sys] = fs.readFileSync(timeFile, "utf8").trim().split(/\s+/).map(Number);
console.log("held-out greedy accuracy by step: " + val.map((r) => r.step + ":" + r["validation/accuracy"].toFixed(4)).join("  "));
const below = val.filter((r) => r["validation/accuracy"] < first["validation/accuracy"]);
console.log(`before -> after: ${first["validation/accuracy"].toFixed(4)} -> ${last["validation/accuracy"].toFixed(4)} (${((last["validation/accuracy"] - first["validation/accuracy"]) * 100).toFixed(1)} points, step ${last.step})`);
console.log(`validation points below the start: ${below.length === 0 ? "none" : below.map((r) => r.step).join(", ")}`);
console.log(`wall ${(wall / 60).toFixed(2)} min; CPU ${((user + sys) / 60).toFixed(2)} min (user ${user.toFixed(0)} s + sys ${sys.toFixed(0)} s); load average at the end ${load}`);
' "$dir" "$dir.time" "$(cut -d' ' -f1-3 /proc/loadavg)"
