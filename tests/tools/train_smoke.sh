#!/usr/bin/env bash
# Smoke test for tools/train_gpt2.py: a few training steps on a slice of tinyshakespeare,
# export to a Hugging Face GPT-2 folder, reload it and evaluate.  Exit 77 = skipped.
# Usage: tests/tools/train_smoke.sh [REPO_ROOT]
set -euo pipefail
root=$(cd "${1:-$(dirname "$0")/../..}" && pwd)
py=/usr/bin/python3
data="$root/../shared/data/text"
corpus="$data/tinyshakespeare.txt"
if ! [ -x "$py" ] || ! "$py" -c 'import torch' 2>/dev/null; then
  echo "SKIP: $py cannot import torch (install python3-torch: scripts/bootstrap)"; exit 77
fi
if ! [ -d "$data" ] || ! [ -f "$corpus" ]; then
  echo "SKIP: $data (tinyshakespeare.txt) is absent"; exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/veil-train-smoke.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
script="$root/tools/train_gpt2.py"
common=(--corpus "$corpus" --corpus-chars 200000 --threads 1)

"$py" "$script" "${common[@]}" --work "$tmp/work" --export "$tmp/hf" \
  --vocab-size 512 --n-layer 2 --n-head 2 --n-embd 64 --curriculum 128,192 \
  --tokens-per-step 1024 --max-steps 12 --eval-every 6 --log-every 6 \
  --eval-samples 4 --eval-windows 2 --minutes 5

for f in config.json model.safetensors vocab.json merges.txt retrieval.json; do
  [ -s "$tmp/hf/$f" ] || { echo "FAIL: missing $tmp/hf/$f"; exit 1; }
done
[ "$(head -n1 "$tmp/hf/merges.txt")" = "#version: 0.2" ] || { echo "FAIL: merges.txt header"; exit 1; }

# config + safetensors layout checks (Hub GPT-2 names, Conv1D [in, out], tied head)
"$py" - "$tmp/hf" <<'PY'
import json, struct, sys
d = sys.argv[1]
c = json.load(open(f"{d}/config.json"))
assert c["model_type"] == "gpt2" and c["architectures"] == ["GPT2LMHeadModel"], c
assert c["activation_function"] == "gelu_new" and c["n_inner"] is None
v = json.load(open(f"{d}/vocab.json"))
assert len(v) == c["vocab_size"] == 512, (len(v), c["vocab_size"])
with open(f"{d}/model.safetensors", "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    h = json.loads(f.read(n))
E = c["n_embd"]
assert h["h.0.attn.c_attn.weight"]["shape"] == [E, 3 * E]
assert h["h.0.mlp.c_fc.weight"]["shape"] == [E, 4 * E]
assert h["wte.weight"]["shape"] == [c["vocab_size"], E]
assert h["wpe.weight"]["shape"] == [c["n_positions"], E]
assert "lm_head.weight" not in h and "ln_f.weight" in h
assert all(m["dtype"] == "F32" for k, m in h.items() if k != "__metadata__")
print("layout ok:", len(h) - 1, "tensors")
PY

out=$("$py" "$script" "${common[@]}" --eval "$tmp/hf" --samples 4 --eval-windows 2)
echo "$out"
echo "$out" | grep -q "perplexity" || { echo "FAIL: --eval printed no perplexity"; exit 1; }
echo "$out" | grep -q "exact-match accuracy" || { echo "FAIL: --eval printed no accuracy"; exit 1; }

"$py" "$script" --corpus "$corpus" --make-retrieval-samples 2 --seed 7 --context 128 \
  --model "$tmp/hf" --out "$tmp/r.jsonl"
"$py" - "$tmp/r.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 2
for r in rows:
    assert len(r["prompt_ids"]) + len(r["answer_ids"]) == r["context"] == 128, r
    assert r["answer"] == " " + r["passkey"] and r["prompt"].endswith("The passkey is")
print("retrieval samples ok")
PY
# --trial (veil tune's contract): one JSON line per epoch; killed after its first checkpoint and
# restarted, it resumes and reports exactly what an uninterrupted run reports.
trial=("$py" "$script" --trial --corpus "$corpus" --corpus-chars 60000 --tokenizer "$tmp/hf" --epochs 3
       --trial-context 32 --n-layer 1 --n-embd 32 --n-head 2 --params '{"lr": 0.003, "batch_size": 8, "warmup": 1}')
"${trial[@]}" --checkpoint-dir "$tmp/tA" > "$tmp/a.txt"
[ "$(grep -c '"val_loss"' "$tmp/a.txt")" = 3 ] || { echo "FAIL: --trial printed $(cat "$tmp/a.txt")"; exit 1; }
"${trial[@]}" --checkpoint-dir "$tmp/tB" > "$tmp/b1.txt" &
pid=$!
for _ in $(seq 600); do [ -f "$tmp/tB/ckpt.pt" ] && break; sleep 0.1; done
kill "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
"${trial[@]}" --checkpoint-dir "$tmp/tB" > "$tmp/b2.txt"
cut -c1-40 "$tmp/a.txt" > "$tmp/a.cut"
cat "$tmp/b1.txt" "$tmp/b2.txt" | cut -c1-40 | sort -u -t, -k1,1 > "$tmp/b.cut"
# (a kill between an epoch's checkpoint and its line loses that line, never a result)
[ "$(grep -F -x -c -f "$tmp/b.cut" "$tmp/a.cut")" = "$(wc -l < "$tmp/b.cut")" ] && grep -q '"epoch": 3' "$tmp/b.cut" || {
  echo "FAIL: resumed trial differs from the uninterrupted one"; cat "$tmp/a.cut" "$tmp/b.cut"; exit 1; }
"$py" "$script" --trial --params '{"lr": 0.003, "bogus": 1}' --checkpoint-dir "$tmp/tC" 2> "$tmp/err.txt" && {
  echo "FAIL: unknown hyper-parameter accepted"; exit 1; }
grep -q "unknown hyper-parameter" "$tmp/err.txt" || { echo "FAIL: $(cat "$tmp/err.txt")"; exit 1; }
echo "trial resume ok"
echo "PASS"
