#!/usr/bin/env bash
# Smoke test for tools/distill.py (Ditto-style quantization-aware distillation, docs/DITTO.md):
# a few steps of both stages from models/tiny-gpt2 on a slice of tinyshakespeare with the ditto
# plan, checks of the exported folder, plan.json (scales on their grids, calibration records),
# --eval, plan validation errors, the overflow error (exit 3 naming a layer) and the BERT path
# on models/tiny-random-bert. Exit 77 = skipped.
# Usage: tests/tools/distill_smoke.sh [REPO_ROOT]
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
tmp=$(mktemp -d "${TMPDIR:-/tmp}/veil-distill-smoke.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
script="$root/tools/distill.py"
fast=(--threads 1 --device cpu --minutes 0 --steps-stage1 3 --steps-stage2 3 --eval-every 3 --eval-windows 1
      --final-windows 1 --calib-batches 1 --batch 2 --log-every 3 --no-ablation)

# --- GPT-2, ditto plan
"$py" "$script" --teacher "$root/models/tiny-gpt2" --plan ditto --out "$tmp/gpt" \
  --corpus "$corpus" --corpus-chars 200000 --context 64 --calib-context 256 "${fast[@]}" > "$tmp/gpt.json"
for f in config.json model.safetensors vocab.json merges.txt plan.json distill.json loss.csv; do
  [ -s "$tmp/gpt/$f" ] || { echo "FAIL: missing $tmp/gpt/$f"; exit 1; }
done
cmp -s "$root/models/tiny-gpt2/config.json" "$tmp/gpt/config.json" || { echo "FAIL: config.json changed"; exit 1; }
cmp -s "$root/models/tiny-gpt2/vocab.json" "$tmp/gpt/vocab.json" || { echo "FAIL: vocab.json differs"; exit 1; }

"$py" - "$root" "$tmp/gpt" <<'PY'
import json, math, sys
root, d = sys.argv[1], sys.argv[2]
sys.path.insert(0, root + "/tools")
import quant_plan as qp
import train_gpt2
p = json.load(open(f"{d}/plan.json"))
qp.validate(p, "plan.json", 4)
assert p["format"] == "veil-precision-plan/1" and p["name"] == "ditto", p["format"]
assert p["ops"]["gelu"] == {"ring": "FM32", "frac_bits": 8, "approx": "quad"}, p["ops"]["gelu"]
assert p["ops"]["softmax"]["ring"] == "FM64" and p["ops"]["softmax"]["frac_bits"] == 18
W = train_gpt2.read_safetensors(f"{d}/model.safetensors")
assert set(W) == set(p["scales"]), sorted(set(W) ^ set(p["scales"]))
for name, t in W.items():
    s = p["scales"][name]
    k = t.double() * 2.0 ** s["frac_bits"]
    assert (k - k.round()).abs().max().item() == 0, f"{name} is not on its 2^-{s['frac_bits']} grid"
    if s["role"] == "weight" and s["ring"] == "FM32":
        assert 2 <= s["frac_bits"] <= 20, (name, s)
        assert k.abs().max().item() < 2 ** 15, (name, "exceeds 16-bit weights")
    if s["ring"] == "FM64":
        assert s["frac_bits"] == 18, (name, s)
assert p["scales"]["h.0.ln_1.weight"]["ring"] == "FM64"
assert p["scales"]["h.0.mlp.c_fc.bias"]["frac_bits"] == 8
c = p["calibration"]
for name in ("h.0.attn.c_attn", "h.0.attn.c_proj", "h.0.mlp.c_fc", "h.3.mlp.c_proj", "lm_head"):
    r = c["layers"][name]
    assert r["ok"] and r["acc_bits_bound"] < r["acc_bits_limit"] == 29, (name, r)
    assert r["in_max"] > 0 and r["out_max"] > 0 and r["acc_frac_bits"] == 8 + r["weight_frac_bits"], r
assert c["worst_headroom_bits"] >= 0 and all(x["ok"] for x in c["checks"])
assert any(x["op"] == "layernorm" and x["what"].startswith("sum of squares") for x in c["checks"])
r = json.load(open(f"{d}/distill.json"))
assert r["steps_stage1"] == 3 and r["steps_stage2"] == 3, r
for k in ("ppl_float", "ppl_fake_quant"):
    assert math.isfinite(r["student"][k]) and math.isfinite(r["teacher_with_plan"][k]), r
assert r["teacher_float"]["ppl"] < 200 and len(r["history"]) >= 3
assert r["student"]["ppl_fake_quant"] < r["teacher_with_plan"]["ppl_fake_quant"], "distillation did not help"
print(f"gpt2 ok: {len(W)} tensors on their grids; teacher ppl {r['teacher_float']['ppl']}, "
      f"teacher+ditto {r['teacher_with_plan']['ppl_fake_quant']}, student {r['student']['ppl_fake_quant']}")
PY

# --- --eval of the exported folder (its own plan.json) and of the teacher under fp64
out=$("$py" "$script" --eval "$tmp/gpt" --corpus "$corpus" --corpus-chars 200000 --final-windows 1 --threads 1)
echo "$out"
echo "$out" | grep -q "^float (quad GeLU): .*perplexity" || { echo "FAIL: --eval printed no float perplexity"; exit 1; }
echo "$out" | grep -q "^fake-quant (ditto, gelu quad): .*perplexity" || { echo "FAIL: --eval printed no fake-quant perplexity"; exit 1; }
out=$("$py" "$script" --eval "$root/models/tiny-gpt2" --plan fp64 --corpus "$corpus" --corpus-chars 200000 \
  --final-windows 1 --calib-batches 1 --calib-context 256 --threads 1)
echo "$out" | grep -q "^calibrated .* tensors" || { echo "FAIL: --eval --plan fp64 did not calibrate"; exit 1; }
echo "$out" | grep -q "^fake-quant (fp64, gelu puma): " || { echo "FAIL: --eval --plan fp64"; exit 1; }

# --- a per-layer override: layer 1's GeLU exact on FM64/18
"$py" - "$root/data/plans/ditto.json" "$tmp/layers.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
p["layers"] = {"1": {"gelu": {"ring": "FM64", "frac_bits": 18, "approx": "exact"}}}
json.dump(p, open(sys.argv[2], "w"))
PY
"$py" "$script" --eval "$root/models/tiny-gpt2" --plan "$tmp/layers.json" --corpus "$corpus" --corpus-chars 200000 \
  --final-windows 1 --calib-batches 1 --calib-context 256 --threads 1 | grep -q "^fake-quant " \
  || { echo "FAIL: --eval with a per-layer override"; exit 1; }

# --- plan validation errors (exit 2, clear message)
expect_plan_error() {  # $1 = python edit of plan p, $2 = expected message fragment
  "$py" - "$root/data/plans/ditto.json" "$tmp/bad.json" "$1" <<'PY'
import json, sys
p = json.load(open(sys.argv[1])); exec(sys.argv[3]); json.dump(p, open(sys.argv[2], "w"))
PY
  set +e
  msg=$("$py" "$script" --eval "$root/models/tiny-gpt2" --plan "$tmp/bad.json" --corpus "$corpus" \
        --corpus-chars 200000 --final-windows 1 --threads 1 2>&1 >/dev/null)
  rc=$?
  set -e
  [ $rc -eq 2 ] || { echo "FAIL: bad plan ($2) exited $rc"; echo "$msg"; exit 1; }
  echo "$msg" | grep -q "$2" || { echo "FAIL: bad plan message lacks '$2': $msg"; exit 1; }
  echo "plan error ok: $msg"
}
expect_plan_error 'p["ops"]["matmul"] = {"ring": "FM32", "frac_bits": 8}' "ops.matmul: unknown op type"
expect_plan_error 'p["ops"]["linear"]["ring"] = "FM16"' "ops.linear.ring: 'FM16' is not a ring"
expect_plan_error 'p["ops"]["softmax"]["frac_bits"] = 70' "ops.softmax.frac_bits: 70 is out of range"
expect_plan_error 'p["ops"]["gelu"]["approx"] = "cubic"' "ops.gelu.approx: 'cubic' is not one of"
expect_plan_error 'p["layers"] = {"7": {"gelu": {"approx": "exact"}}}' "layers.7: the model has only 4 layers"

# --- a plan that overflows the small ring: linear layers on FM32 with 24 fraction bits
"$py" - "$root/data/plans/ditto.json" "$tmp/overflow.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
p["name"] = "ditto-linear-fm32-f24"
p["ops"]["linear"] = {"ring": "FM32", "frac_bits": 24}
json.dump(p, open(sys.argv[2], "w"), indent=1)
PY
set +e
msg=$("$py" "$script" --teacher "$root/models/tiny-gpt2" --plan "$tmp/overflow.json" --out "$tmp/ovf" \
      --corpus "$corpus" --corpus-chars 200000 --context 64 --calib-context 256 "${fast[@]}" 2>&1)
rc=$?
set -e
[ $rc -eq 3 ] || { echo "FAIL: overflowing plan exited $rc (want 3)"; echo "$msg" | tail -5; exit 1; }
echo "$msg" | grep -q "overflow: h\.[0-9]\.\(attn\|mlp\)\.c_[a-z]* (linear, FM32 with 24 fraction bits)" \
  || { echo "FAIL: overflow message does not name a linear layer"; echo "$msg" | tail -5; exit 1; }
echo "$msg" | grep "overflow:" | head -2
[ ! -e "$tmp/ovf/model.safetensors" ] || { echo "FAIL: an overflowing plan exported a model"; exit 1; }

# --- BERT (random token sequences: there is no BERT tokenizer here)
"$py" "$script" --teacher "$root/models/tiny-random-bert" --plan ditto --out "$tmp/bert" --bert-seq 16 \
  "${fast[@]}" > "$tmp/bert.json"
"$py" - "$root" "$tmp/bert" <<'PY'
import json, sys
root, d = sys.argv[1], sys.argv[2]
sys.path.insert(0, root + "/tools")
import quant_plan as qp
import train_gpt2
p = json.load(open(f"{d}/plan.json"))
qp.validate(p, "plan.json", 2)
assert json.load(open(f"{d}/config.json")) == json.load(open(f"{root}/models/tiny-random-bert/config.json"))
W = train_gpt2.read_safetensors(f"{d}/model.safetensors")
T = train_gpt2.read_safetensors(f"{root}/models/tiny-random-bert/model.safetensors")
assert set(W) == set(T) == set(p["scales"]), sorted(set(W) ^ set(p["scales"]))
s = p["scales"]["bert.encoder.layer.0.intermediate.dense.weight"]
assert s["ring"] == "FM32" and s["role"] == "weight" and 2 <= s["frac_bits"] <= 20, s
assert p["scales"]["bert.embeddings.LayerNorm.weight"]["ring"] == "FM64"
assert p["calibration"]["layers"]["classifier"]["op"] == "lm_head"
r = json.load(open(f"{d}/distill.json"))
assert "kl_fake_quant" in r["student"] and "agree_fake_quant" in r["teacher_with_plan"], r
print(f"bert ok: KL to teacher {r['teacher_with_plan']['kl_fake_quant']} -> {r['student']['kl_fake_quant']}")
PY
echo "PASS"
