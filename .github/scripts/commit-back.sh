#!/bin/sh
# commit-back.sh FILE MESSAGE: when FILE changed, commit it alone as the Actions bot and
# push it to the branch the workflow runs on (pin.sh: the pins; kernels.sh: the matrix).
set -eu
file=$1
message=$2
if [ -n "$(git status --porcelain -- "$file")" ]; then
  git add "$file"
  git -c user.name="github-actions[bot]" \
      -c user.email="41898282+github-actions[bot]@users.noreply.github.com" \
      commit -q -m "$message" -- "$file"
  git push -q origin "HEAD:${GITHUB_REF_NAME:-main}"
  echo "$file committed and pushed"
fi
