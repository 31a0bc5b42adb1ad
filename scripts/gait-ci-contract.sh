#!/bin/sh
# The Gait CI contract for any runner: install a pinned gait-cli, then run `gait ci regress`.
#
#   sh scripts/gait-ci-contract.sh [gait ci regress options, e.g. --fixture demo]
#
# Run it from the directory that holds gait.yaml and fixtures/. Everything it writes is under
# gait-out/ci/ (regress_result.json, junit.xml, summary.md, summary.json), the same bytes on a
# laptop as in CI. It exits with gait's code: 0 pass, 5 a regression, anything else a suite
# that could not run (read gait-out/ci/summary.md).
#
# Environment (all optional):
#   GAIT_VERSION          gait-cli version to install (default below; gait's releases pin it)
#   GAIT_EXTRA_PACKAGES   more pip requirements to install beside it, space-separated (plugins)
#   GAIT_VENV             virtual environment to install into
#                         (default: ${TMPDIR:-/tmp}/gait-ci-<version>; reused when it has gait)
#   GAIT_PYTHON           Python (3.11 or newer) that creates the venv (default: python3)
#   GAIT_INSTALL_COMMAND  install with this shell command instead of pip from the index; it runs
#                         with GAIT_VENV exported and must install gait into that venv
#   GAIT_BIN              an installed gait to run instead of installing one
set -eu

GAIT_VERSION="${GAIT_VERSION:-0.1.0}"

if [ -n "${GAIT_BIN:-}" ]; then
  gait="$GAIT_BIN"
else
  GAIT_VENV="${GAIT_VENV:-${TMPDIR:-/tmp}/gait-ci-$GAIT_VERSION}"
  export GAIT_VENV
  gait="$GAIT_VENV/bin/gait"
  if [ ! -x "$gait" ]; then
    echo "gait ci contract: installing gait-cli $GAIT_VERSION into $GAIT_VENV" >&2
    "${GAIT_PYTHON:-python3}" -m venv "$GAIT_VENV"
    if [ -n "${GAIT_INSTALL_COMMAND:-}" ]; then
      sh -c "$GAIT_INSTALL_COMMAND"
    else
      # GAIT_EXTRA_PACKAGES is a list of requirements: split on spaces on purpose.
      # shellcheck disable=SC2086
      "$GAIT_VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
        "gait-cli==$GAIT_VERSION" ${GAIT_EXTRA_PACKAGES:-}
    fi
  fi
fi

status=0
"$gait" ci regress "$@" || status=$?
case "$status" in
  0) echo "gait ci contract: pass" ;;
  5) echo "gait ci contract: regression (exit 5); read gait-out/ci/summary.md" >&2 ;;
  *) echo "gait ci contract: the suite did not run (exit $status); read gait-out/ci/summary.md" >&2 ;;
esac
exit "$status"
