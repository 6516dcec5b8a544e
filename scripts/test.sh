#!/usr/bin/env bash
# The README's test command: every unit, property and end-to-end test of the
# workspace, plus the shipped policies' own Rego tests.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace "$@"
