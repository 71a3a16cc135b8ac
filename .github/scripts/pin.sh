#!/bin/sh
# publish.yml, on the branch that was just merged into: record each newly merged
# version's digest and date in index/lock.json and commit it, so the pins live in Git.
# Every later clone (the next publish, the daily refresh, a pull request's gate) then
# compares with what was published, and a version's `published` date never changes.
# The tests (tests/test_pins.py) run this file as the workflow does.
set -eu
python -m generator --github validate
python -m generator --github resolve
sh "$(dirname "$0")/commit-back.sh" index/lock.json "index: pin the digests of newly published versions"
