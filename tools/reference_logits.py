#!/usr/bin/env python3
"""Independent float64 reference for the nn tests: GPT-2 and BERT logits of a Hugging Face model
folder (config.json + model.safetensors) for given token ids, written as JSON to stdout.

The maths is written out here from the papers / transformers' modeling files, in torch float64,
and the safetensors file is read by the small reader below: nothing of veil's C++ is used.

  GPT-2  (model_type gpt2)  {"model": "gpt2", "logits": [[V floats] x T]}   every position
  BERT   (model_type bert)  {"model": "bert", "hidden": [[H] x T], "logits": [[labels]]}
                            (logits only for a checkpoint with pooler and classifier)

Usage: tools/reference_logits.py --model DIR --ids 1,2,3 [--token-types 0,0,1]
"""
import argparse
import json
import math
import re
import struct
import sys

import torch

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64}


def read_safetensors(path):
    """name -> float64 tensor. Format: u64 header length, JSON header, data buffer."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        t = torch.frombuffer(bytearray(data[begin:end]), dtype=DTYPES[info["dtype"]])
        out[name] = t.reshape(info["shape"]).to(torch.float64)
    return out


def activation(name):
    tanh_gelu = lambda x: 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    return {
        "gelu": lambda x: 0.5 * x * (1 + torch.erf(x / math.sqrt(2))),
        "gelu_new": tanh_gelu, "gelu_pytorch_tanh": tanh_gelu, "gelu_fast": tanh_gelu,
        "quick_gelu": lambda x: x * torch.sigmoid(1.702 * x),
        "relu": lambda x: torch.clamp(x, min=0),
        "silu": lambda x: x * torch.sigmoid(x), "swish": lambda x: x * torch.sigmoid(x),
    }[name]


def layer_norm(x, w, b, eps):
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * w + b


def attention(q, k, v, heads, causal, scale):
    """q, k, v (T, C) -> (T, C): per-head softmax(q kᵀ · scale) v."""
    t, c = q.shape
    d = c // heads
    q, k, v = (z.reshape(t, heads, d).transpose(0, 1) for z in (q, k, v))  # (H, T, D)
    s = q @ k.transpose(1, 2) * scale
    if causal:
        s = s.masked_fill(torch.ones(t, t, dtype=torch.bool).triu(1), float("-inf"))
    return (torch.softmax(s, -1) @ v).transpose(0, 1).reshape(t, c)


def gpt2(cfg, w, ids):
    w = {re.sub(r"^transformer\.", "", k): x for k, x in w.items()}
    c, heads = cfg["n_embd"], cfg["n_head"]
    eps = cfg.get("layer_norm_epsilon", 1e-5)
    act = activation(cfg.get("activation_function", "gelu_new"))
    scale = 1 / math.sqrt(c // heads) if cfg.get("scale_attn_weights", True) else 1.0
    x = w["wte.weight"][ids] + w["wpe.weight"][: len(ids)]
    for i in range(cfg["n_layer"]):
        p = f"h.{i}."
        a = layer_norm(x, w[p + "ln_1.weight"], w[p + "ln_1.bias"], eps)
        q, k, v = (a @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]).split(c, dim=1)
        x = x + attention(q, k, v, heads, True, scale) @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"]
        m = layer_norm(x, w[p + "ln_2.weight"], w[p + "ln_2.bias"], eps)
        x = x + act(m @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"]) @ w[p + "mlp.c_proj.weight"] \
            + w[p + "mlp.c_proj.bias"]
    x = layer_norm(x, w["ln_f.weight"], w["ln_f.bias"], eps)
    head = w.get("lm_head.weight", w["wte.weight"])
    return {"model": "gpt2", "logits": (x @ head.T).tolist()}


def bert(cfg, w, ids, types):
    w = {re.sub(r"\.gamma$", ".weight", re.sub(r"\.beta$", ".bias", re.sub(r"^bert\.", "", k))): x
         for k, x in w.items()}
    h, heads = cfg["hidden_size"], cfg["num_attention_heads"]
    eps = cfg.get("layer_norm_eps", 1e-12)
    act = activation(cfg.get("hidden_act", "gelu"))
    lin = lambda x, p: x @ w[p + "weight"].T + w[p + "bias"]
    ln = lambda x, p: layer_norm(x, w[p + "weight"], w[p + "bias"], eps)
    e = "embeddings."
    x = w[e + "word_embeddings.weight"][ids] + w[e + "position_embeddings.weight"][: len(ids)] \
        + w[e + "token_type_embeddings.weight"][types]
    x = ln(x, e + "LayerNorm.")
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        s = p + "attention.self."
        y = attention(lin(x, s + "query."), lin(x, s + "key."), lin(x, s + "value."), heads, False,
                      1 / math.sqrt(h // heads))
        a = ln(x + lin(y, p + "attention.output.dense."), p + "attention.output.LayerNorm.")
        x = ln(a + lin(act(lin(a, p + "intermediate.dense.")), p + "output.dense."), p + "output.LayerNorm.")
    out = {"model": "bert", "hidden": x.tolist()}
    if "pooler.dense.weight" in w and "classifier.weight" in w:
        pooled = torch.tanh(lin(x[:1], "pooler.dense."))
        out["logits"] = lin(pooled, "classifier.").tolist()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="folder with config.json and model.safetensors")
    ap.add_argument("--ids", required=True, help="comma-separated token ids")
    ap.add_argument("--token-types", help="comma-separated BERT token type ids (default all 0)")
    args = ap.parse_args()
    with open(f"{args.model}/config.json") as f:
        cfg = json.load(f)
    w = read_safetensors(f"{args.model}/model.safetensors")
    ids = [int(t) for t in args.ids.split(",")]
    if cfg["model_type"] == "gpt2":
        out = gpt2(cfg, w, ids)
    elif cfg["model_type"] == "bert":
        types = [int(t) for t in args.token_types.split(",")] if args.token_types else [0] * len(ids)
        out = bert(cfg, w, ids, types)
    else:
        sys.exit(f"reference_logits.py: model_type {cfg['model_type']!r} is neither gpt2 nor bert")
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
