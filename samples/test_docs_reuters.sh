#!/bin/sh
# docs_reuters end to end on Reuters-21578 with a small net and vocabulary:
# it prints its results, the fine-tuned codes retrieve better than chance
# (the relevant share of the whole database), and so do the semantic
# hashing stack's binary codes and their shortlists re-ranked by tf-idf, it
# looks them up by address and draws the 2-D map, it writes its metrics
# and curves, and a resumed run adds the epochs asked for, each once,
# leaving the earlier rows untouched; with constrained Poisson units in the
# first RBM it retrieves better than chance as well, a resume that
# changes the units is refused naming --word-units, and a --hash-shortlist
# or --ais-stories beyond the stories there are is refused.
# Usage: test_docs_reuters.sh DOCS_REUTERS DATA_DIR. Exit 77 (skipped) without the stories.
# shellcheck source=samples/test_lib.sh
. "$(dirname "$0")/test_lib.sh"
bin=$1
data=$2
skip_unless "$data/reut2-000.sgm" "Reuters-21578 is not in $data (../shared/data/reuters21578)"
args="--data $data --output $out --vocabulary 500 --hidden 100,10 --hash-hidden 100 --hash-bits 16 --map --pretrain-epochs 3"
first="--ais-stories 3 --ais-scale 0.01"
"$bin" $args $first --finetune-epochs 3 > "$out/log" 2>&1 || fail "the run failed"
chance=$(value chance_precision)
lsa=$(value lsa_precision_at_15)
tuned=$(value autoencoder_precision_at_15)
hash=$(value hash_precision_at_15)
filtered=$(value hash_tfidf_precision_at_15)
ball=$(value hash_ball1_retrieved)
map=$(value map_precision_at_15)
rbm_ppl=$(value rbm_test_perplexity)
uni_ppl=$(value unigram_test_perplexity)
# a uniform guess over the 500 words scores 500: both models must do better (here about 384 and 393)
awk -v r="$rbm_ppl" -v u="$uni_ppl" 'BEGIN { exit !(r > 1 && r < 500 && u > 1 && u < 500) }' ||
  fail "perplexities out of range: count RBM '$rbm_ppl', unigram '$uni_ppl' (expected above 1, below a uniform guess's 500)"
[ -n "$chance" ] && [ -n "$lsa" ] && [ -n "$tuned" ] && [ -n "$hash" ] && [ -n "$filtered" ] && [ -n "$ball" ] &&
  [ -n "$map" ] ||
  fail "missing result lines"
awk -v a="$tuned" -v c="$chance" 'BEGIN { exit !(a > c + 0.1) }' ||
  fail "the fine-tuned codes retrieve no better than chance: $tuned against $chance"
awk -v a="$hash" -v c="$chance" 'BEGIN { exit !(a > c + 0.1) }' ||
  fail "the 16-bit hash codes retrieve no better than chance: $hash against $chance"
awk -v a="$filtered" -v c="$chance" 'BEGIN { exit !(a > c + 0.1) }' ||
  fail "the hash's shortlists re-ranked by tf-idf retrieve no better than chance: $filtered against $chance"
for f in retrieval.csv retrieval.svg hash_lookup.csv map.svg map/map_finetune.csv finetune.csv pretrain_layer1.csv pretrain_layer2.csv \
    hash/hash_finetune.csv hash/pretrain_layer2.csv; do
  [ -s "$out/$f" ] || fail "no $f"
done
for f in finetune.csv hash/hash_finetune.csv map/map_finetune.csv; do cp "$out/$f" "$out/$(basename "$f").before"; done
"$bin" $args --finetune-epochs 4 --resume > "$out/log" 2>&1 || fail "the resumed run failed"
# epochs 1-3 kept as they were, their seconds too: a run that ignored --resume would write them again
for f in finetune.csv hash/hash_finetune.csv map/map_finetune.csv; do
  head -n 4 "$out/$f" | cmp -s - "$out/$(basename "$f").before" ||
    fail "$f: the resumed run changed the rows of epochs 1-3 (was --resume ignored?)"
done
rows=$(cut -d, -f1 "$out/finetune.csv" | tail -n +2 | tr '\n' ' ')
[ "$rows" = "1 2 3 4 " ] || fail "finetune.csv after the resume holds epochs '$rows'; expected 1 2 3 4"
rows=$(cut -d, -f1 "$out/hash/hash_finetune.csv" | tail -n +2 | tr '\n' ' ')
[ "$rows" = "1 2 3 4 " ] || fail "hash/hash_finetune.csv after the resume holds epochs '$rows'; expected 1 2 3 4"
rows=$(cut -d, -f1 "$out/map/map_finetune.csv" | tail -n +2 | tr '\n' ' ')
[ "$rows" = "1 2 3 4 " ] || fail "map/map_finetune.csv after the resume holds epochs '$rows'; expected 1 2 3 4"
# counts beyond the sets are refused once the stories are read, not cut down to them
for flag in "--hash-shortlist 100000" "--ais-stories 100000"; do
  code=0
  # shellcheck disable=SC2086
  "$bin" --data "$data" --output "$out/beyond" $flag > "$out/log" 2>&1 || code=$?
  [ "$code" -eq 2 ] && grep -q -- "$flag: more than the [0-9]* t[a-z]* stories" "$out/log" ||
    fail "$flag exited with $code; expected 2, naming the stories there are"
done
# the constrained Poisson model in the first RBM: resuming the run above with it is refused, naming the units,
# and a run of its own retrieves better than chance too
code=0
"$bin" $args --finetune-epochs 4 --resume --word-units poisson --ais-stories 0 > "$out/log" 2>&1 || code=$?
[ "$code" -eq 2 ] && grep -q -- "visible_unit = count; this run has poisson (set by --word-units)" "$out/log" ||
  fail "a resume with --word-units poisson exited with $code; expected 2, naming the checkpoint's count units"
# (sampled reconstructions, so that the Poisson sampler runs in training too)
"$bin" --data "$data" --output "$out/poisson" --vocabulary 500 --hidden 100,10 --hash-bits 0 --pretrain-epochs 3 \
  --finetune-epochs 3 --word-units poisson --mean-field false > "$out/log" 2>&1 ||
  fail "the run with --word-units poisson failed"
poisson=$(value autoencoder_precision_at_15)
awk -v a="$poisson" -v c="$chance" 'BEGIN { exit !(a > c + 0.1) }' ||
  fail "with poisson units the fine-tuned codes retrieve no better than chance: '$poisson' against $chance"
echo "chance $chance, LSA $lsa, fine-tuned $tuned (poisson units $poisson), 16-bit hash $hash, re-ranked by tf-idf $filtered (precision at 15)"
