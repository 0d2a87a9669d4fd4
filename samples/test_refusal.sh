#!/bin/sh
# A refused command line: the program must exit with an error of its own
# (status 1 to 125: not 0, and not a crash or a signal) and print a line
# matching PATTERN (an extended regular expression). An --output folder
# that did not exist before must not exist after: a refused run leaves
# nothing behind.
# Usage: test_refusal.sh PATTERN PROGRAM [ARGS...]
pattern=$1
shift
output=
previous=
for arg in "$@"; do
  [ "$previous" = "--output" ] && output=$arg
  previous=$arg
done
if [ -n "$output" ] && [ -e "$output" ]; then output=; fi  # there before: not this run's to remove
log=$(mktemp)
trap 'rm -f "$log"' EXIT
"$@" > "$log" 2>&1
status=$?
if [ -n "$output" ] && [ -e "$output" ]; then
  echo "$*: refused, but left the folder $output behind"
  rm -rf "$output"
  exit 1
fi
if [ "$status" -eq 0 ] || [ "$status" -gt 125 ]; then
  echo "$*: exit status $status; expected a refusal (1 to 125)"
  cat "$log"
  exit 1
fi
if ! grep -Eq -e "$pattern" "$log"; then
  echo "$*: exit status $status, but no line matches '$pattern'"
  cat "$log"
  exit 1
fi
grep -E -e "$pattern" "$log" | head -n 1
