#!/bin/sh
# Starts {{name}} with the machine's Java (17 or newer; JAVA_HOME if set).
# In the bundle this file is bin/{{name}} beside lib/; in the project it finds target/lib/.
set -eu
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
jar="$root/lib/{{name}}.jar"
[ -f "$jar" ] || jar="$root/target/lib/{{name}}.jar"
exec "${JAVA_HOME:+$JAVA_HOME/bin/}java" -jar "$jar" "$@"
