#!/usr/bin/env bash
# `make demo`: the first win, in a temporary working directory.
#   1. gait demo         a sample run recorded as a runpack
#   2. gait verify       its digests checked offline
#   3. regress init      the run becomes a CI fixture
#   4. regress run       graded again, with a JUnit report (exit 5 would mean drift)
#   5. gate eval         three tool calls decided by a policy, each trace signed and verified
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
gait="$repo/.venv/bin/gait"
examples="$repo/examples/quickstart"
work="$(mktemp -d "${TMPDIR:-/tmp}/gait-demo.XXXXXX")"
cd "$work"
export GAIT_HOME="$work/.gait"  # the demo leaves nothing behind in your home directory
echo "working directory: $work"

step() { printf '%-16s %s\n' "$1" "$2"; }
first_line() { "$@" | head -n 1; }

step "1. demo" "$("$gait" demo | grep '^bundle=')"
step "2. verify" "$(first_line "$gait" verify run_demo)"
step "3. regress init" "$(first_line "$gait" regress init --from run_demo)"
step "4. regress run" "$(first_line "$gait" regress run --junit junit.xml) (junit: $work/junit.xml)"

echo
"$gait" keys init --out-dir keys --prefix demo > /dev/null
for tool in read write delete; do
  code=0
  verdict=$("$gait" gate eval --policy "$examples/policy.yaml" --intent "$examples/intent_$tool.json" \
    --key-mode prod --private-key keys/demo_private.key --trace-out "trace_$tool.json" \
    | head -n 1) || code=$?
  step "5. tool.$tool" "$verdict (exit $code); $("$gait" trace verify "trace_$tool.json" --public-key keys/demo_public.key | head -n 1)"
done

echo
echo "Only tool.read may run: 0 is allow, 3 block, 4 approval required. Everything is in $work."
