#!/bin/sh
# The index pull-request gate, run from a checkout of the BASE revision: the base's
# generator (installed from this checkout) judges the pull request's index/ only, so a
# pull request cannot rewrite its own gate. validate-pr.yml runs this file; so do the
# tests (tests/test_pins.py), so both run the same commands.
#   gate.sh BASE PR AUTHOR   (revisions: the base commit and the pull request's commit)
set -eu
base=$1 pr=$2 author=$3
# Index or code, never both, and never the lock: judged before the PR's files are used.
scope=$(python -m generator --github scope --base "$base" --head "$pr") || {
  echo "$scope"; exit 1; }
echo "$scope"
case $scope in
  *"code change"*) exit 0 ;;  # test.yml runs the full tests on code changes
esac
# The PR's index/ into the base checkout (files the PR deleted stay deleted); the schema
# is code and stays the base's.
rm -rf index
git checkout -q "$pr" -- index/
rm -rf index/schema
git checkout -q "$base" -- index/schema
python -m generator --github validate
python -m generator --github resolve
python -m generator --github check-pr --base "$base" --author "$author"
