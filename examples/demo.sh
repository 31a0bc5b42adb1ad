#!/usr/bin/env bash
# `make demo`: a signing key, three decisions with signed traces, and their verification.
set -euo pipefail
cd "$(dirname "$0")/.."
gait=.venv/bin/gait
out=gait-out/demo
examples=examples/quickstart
rm -rf "$out" && mkdir -p "$out"

echo "== a signing key"
"$gait" keys init --out-dir "$out/keys" --prefix demo
key="$out/keys/demo_private.key"

for tool in read write delete; do
  echo
  echo "== tool.$tool"
  code=0
  "$gait" gate eval --policy "$examples/policy.yaml" --intent "$examples/intent_$tool.json" \
    --key-mode prod --private-key "$key" --trace-out "$out/trace_$tool.json" \
    --rate-limit-state "$out/rate_limits.json" --approval-audit-out "$out/approval_$tool.json" \
    || code=$?
  echo "exit code: $code (0 allow, 3 block, 4 approval required)"
  "$gait" trace verify "$out/trace_$tool.json" --public-key "$out/keys/demo_public.key"
done

echo
echo "Only the read is allowed to run. Every trace above is signed and verified; see $out/."
