# What the sample tests share (POSIX sh; each sources it first):
#   skip_unless FILE MESSAGE  exit 77 (ctest: skipped) saying MESSAGE when FILE is missing
#   $out                      a folder of its own, removed on exit
#   fail MESSAGE              say MESSAGE, then the run's log ($out/log), and exit 1
#   value KEY [LOG]           the value of LOG's last `KEY=value` line ($out/log by default)
set -e
skip_unless() {
  if [ ! -f "$1" ]; then
    echo "$2: skipped"
    exit 77
  fi
}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
trap 'exit 1' HUP INT TERM
fail() {
  echo "$1"
  if [ -f "$out/log" ]; then cat "$out/log"; fi
  exit 1
}
value() { sed -n "s/^$1=//p" "${2:-$out/log}" | tail -n 1; }
