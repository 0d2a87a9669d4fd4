#!/bin/sh
# Bad flags said in the samples' own words, not CLI11's (check_words,
# conversion_message and run_main in samples/common.hpp; a bad-input sweep,
# 2026-12-08): each a test_refusal.sh check, one line each, with --data
# /nonexistent, so that none needs the data. Then what cdbn_mnist's --help
# shows, and, given bench_gemm, its refusal of a repeated --rounds.
# Usage: test_flags.sh BIN_DIR [BENCH_GEMM]
bin=$1
bench=$2
here=$(dirname "$0")
failed=0
check() {  # PATTERN PROGRAM ARGS...
  pattern=$1
  program=$2
  shift 2
  sh "$here/test_refusal.sh" "$pattern" "$bin/$program" "$@" --data /nonexistent || failed=1
}
# a flag given twice, or with an alias
check '^rbm_mnist: --lr: given twice \(or with an alias\); expected once$' rbm_mnist --lr 0.1 --lr 0.2
check '^cdbn_mnist: --pretrain-lr: given twice \(or with an alias\): --lr is the same flag; expected once$' \
  cdbn_mnist --lr 0.1 --pretrain-lr 0.2
check '^docs_reuters: --map and --no-map: expected one or the other$' docs_reuters --map --no-map
# a BOOLEAN flag given something else than a yes or a no
check '^dbn_mnist: --sample-up 10x: expected one of true, false, yes, no, on, off, 1, 0$' dbn_mnist --sample-up 10x
check '^dbn_mnist: --mean-field 0.5: expected one of true' dbn_mnist --mean-field 0.5
check '^docs_reuters: --mean-field -1: expected one of true' docs_reuters --mean-field=-1
# an empty value after '=', which CLI11 gave the next word
check '^rbm_mnist: --lr: an empty value; expected one' rbm_mnist --lr= --epochs 1
check '^rbm_mnist: --method: an empty value; expected one' rbm_mnist --method= --epochs 3
# integers: of the flag's own type, only for integer flags, said with what is expected
check '^rbm_mnist: --batch: expected an integer of at most 64 bits \(-9223372036854775808 to 9223372036854775807\), got 9223372036854775808$' \
  rbm_mnist --batch 9223372036854775808
check 'train-images-idx3-ubyte: file not found' rbm_mnist --lr 99999999999999999999
check '^--epochs 1e3: expected a whole number written in digits \(1000, not 1e3\)$' rbm_mnist --epochs 1e3
check '^rbm_mnist: --batch: 0100 starts with 0, which would read as octal or hex \(0100 as 64\)' rbm_mnist --batch 0100
check '^rbm_mnist: --hidden: 0x10 starts with 0' rbm_mnist --hidden 0x10
check '^rbm_mnist: --batch: 08 starts with 0' rbm_mnist --batch 08
check '^dbn_mnist: --hidden: 08 starts with 0' dbn_mnist --hidden 10,08
# a flag with no value before the next flag, which CLI11 took as the value
check '^rbm_mnist: --method: no value before the next flag, --resume; expected a value' rbm_mnist --method --resume
check '^--ais-runs 3000000000: expected a whole number of at most 2147483647$' rbm_mnist --ais-runs 3000000000
check '^--pool: expected a whole number from 1 to 16, got 2.5$' cdbn_mnist --pool 2.5
check '^--hash-bits: expected a whole number from 0 to 64, got 2.5$' docs_reuters --hash-bits 2.5
check '^--profile-events: expected a whole number from 1 to 134217728 written in digits, got 1e3$' \
  rbm_mnist --profile /nonexistent/t.json --profile-events 1e3
# a malformed method is said as such, before what its kind would do
check "^docs_reuters: method 'pcd0': expected cd1" docs_reuters --method pcd0
check "^docs_reuters: --hidden: a code of 10 units; expected at most 5 .*the inputs, the --vocabulary 5 words" \
  docs_reuters --vocabulary 5 --hidden 20,10
# a method list: the layer named
check "^dbn_mnist: --method, layer 2: method 'bogus': expected cd1" dbn_mnist --hidden 10,10 --method cd1,bogus
# an unknown flag, with the closest one
check '^rbm_mnist: unknown flag --hiden; did you mean --hidden\?$' rbm_mnist --hiden 10
check '^rbm_mnist: unknown flag --no-such-flag; see --help$' rbm_mnist --no-such-flag
check "^cdbn_mnist: --preset 'bogus': expected quick or paper$" cdbn_mnist --preset bogus
# --help: the ranges checked, and no preset's value after '=' for a flag the presets set
help=$("$bin/cdbn_mnist" --help)
for line in '--occluded-rows INT:\[1,27\]=14( |$)' '--pool INT:\[1,16\]=\[2,2\]( |$)' '--svm-c FLOAT:POSITIVE=' \
    '--pretrain-epochs,--epochs INT:NONNEGATIVE( \.\.\.)?( |$)' '--fill-in-sweeps INT:AT_LEAST_2( |$)'; do
  if echo "$help" | grep -Eq -e "$line"; then
    echo "cdbn_mnist --help: $(echo "$help" | grep -E -e "$line" | sed 's/^ *//' | head -n 1)"
  else
    echo "cdbn_mnist --help: no line matches '$line'"
    failed=1
  fi
done
if [ -n "$bench" ]; then
  sh "$here/test_refusal.sh" '--rounds given twice; expected once$' "$bench" --rounds 2 --rounds 3 || failed=1
fi
exit $failed
