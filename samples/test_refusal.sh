#!/bin/sh
# A refused command line: the program must exit with an error of its own
# (status 1 to 125: not 0, and not a crash or a signal) and print a line
# matching PATTERN (an extended regular expression). A refused run leaves
# nothing behind: the outermost folder of --output that did not exist
# before must not exist after, and an --output folder that existed must
# still exist (with REFUSAL_MAKE_OUTPUT=1 the script makes it, empty,
# before the run).
# Usage: test_refusal.sh PATTERN PROGRAM [ARGS...]
pattern=$1
shift
output=
previous=
for arg in "$@"; do
  [ "$previous" = "--output" ] && output=$arg
  previous=$arg
done
new=
if [ -n "$output" ]; then
  [ "${REFUSAL_MAKE_OUTPUT:-0}" = 1 ] && mkdir -p "$output"
  p=$output
  while [ ! -e "$p" ]; do  # the outermost folder the run would make
    new=$p
    p=$(dirname "$p")
  done
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
"$@" > "$log" 2>&1
status=$?
if [ -n "$new" ] && [ -e "$new" ]; then
  echo "$*: refused, but left the folder $new behind"
  rm -rf "$new"
  exit 1
fi
if [ -n "$output" ] && [ -z "$new" ] && [ ! -e "$output" ]; then
  echo "$*: refused, and removed $output, which it did not make"
  exit 1
fi
[ "${REFUSAL_MAKE_OUTPUT:-0}" = 1 ] && rmdir "$output"
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
