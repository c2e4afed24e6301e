#!/usr/bin/python3
"""Quantization-aware distillation for veil's precision plans (Ditto, arXiv:2405.05525).

Modes (run with Debian's /usr/bin/python3, which has python3-torch):
  distill (default)  --teacher DIR --plan ditto|fp64|FILE --out DIR
        The student has the teacher's architecture and weights, the plan's GeLU (--gelu overrides)
        and the plan's fake quantization (straight-through estimator). Calibration picks a
        power-of-two scale per FM32 weight tensor and checks every activation and accumulator
        against its ring; stage 1 distils hidden states and attention probabilities (MSE), stage 2
        the logits (KL at --temperature, plus --lm-weight x LM loss). The best student on held-out
        loss is exported as an HF folder with its weights on their dyadic grids, plan.json (the
        plan with scales and calibration records) and distill.json (command, losses, perplexities).
  --eval DIR [--plan P] [--gelu G]
        Held-out perplexity of an HF GPT-2 folder (all non-overlapping n_positions windows of the
        held-out 10% of the corpus), in float and with the plan's fake quantization (P defaults to
        DIR/plan.json when present; a plan without scales is calibrated first on training text).
        For a BERT folder: float vs fake-quant logits on random token sequences.

GPT-2 (GPT2LMHeadModel) teachers train on LM windows of the training 90% of tinyshakespeare (never
the held-out 10%, which only scores checkpoints). BERT (BertForSequenceClassification) teachers
have no tokenizer here: both stages run on uniformly random token-id sequences.

Exit status: 0 ok, 2 usage or plan error, 3 the plan overflows a ring (activations or
accumulators out of range; the message names the layer and the numbers).
See docs/DITTO.md for the plan format and the quantization scheme.
"""
import argparse
import copy
import json
import math
import os
import random
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_gpt2  # noqa: E402  (sets OPENBLAS/OMP threads from --threads before torch loads)
import quant_plan as qp  # noqa: E402
from quant_plan import fake_quant as fq  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
T0 = time.time()


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')} +{time.time() - T0:5.0f}s] {msg}", file=sys.stderr, flush=True)


class PlanOverflow(Exception):
    def __init__(self, failures):
        self.failures = failures
        super().__init__("\n".join(f["message"] for f in failures))


# ----------------------------------------------------------------------------- model I/O
class Model:
    """An HF folder: kind ('gpt2' | 'bert'), config, tensors (GPT-2 names without 'transformer.')."""

    def __init__(self, d):
        with open(os.path.join(d, "config.json")) as f:
            self.cfg = json.load(f)
        self.dir = d
        self.kind = self.cfg.get("model_type")
        if self.kind not in ("gpt2", "bert"):
            raise SystemExit(f"{d}: model_type {self.kind!r} is not supported (gpt2, bert)")
        W = train_gpt2.read_safetensors(os.path.join(d, "model.safetensors"))
        self.prefix = ""
        if self.kind == "gpt2" and any(k.startswith("transformer.") for k in W):
            self.prefix = "transformer."
            W = {(k[len(self.prefix):] if k.startswith(self.prefix) else k): v for k, v in W.items()}
        self.W = W
        self.n_layer = self.cfg["n_layer"] if self.kind == "gpt2" else self.cfg["num_hidden_layers"]
        if self.kind == "bert" and "classifier.weight" not in W:
            raise SystemExit(f"{d}: a BERT teacher needs the pooler and classifier (BertForSequenceClassification)")

    def exact_gelu(self):
        act = self.cfg.get("activation_function" if self.kind == "gpt2" else "hidden_act",
                           "gelu_new" if self.kind == "gpt2" else "gelu")
        if act in ("gelu_new", "gelu_pytorch_tanh", "gelu_fast"):
            return qp.gelu_exact_tanh
        if act == "gelu":
            return qp.gelu_exact_erf
        raise SystemExit(f"{self.dir}: activation {act!r} is not a GeLU; nothing to distil")

    def export_names(self, W):
        return {(self.prefix + k if self.prefix and k != "lm_head.weight" else k): v for k, v in W.items()}


# ----------------------------------------------------------------------------- fake-quantizing ops
class Q:
    """Evaluates the ops of a forward pass in float (plan None: the teacher; quant False: float with
    the plan's GeLU) or with the plan's fake quantization. With .stats a dict, records per-op maxima
    (calibration); .uses records which op consumes every tensor."""

    def __init__(self, W, plan=None, quant=True, exact_gelu=None, float_weights=False):
        self.W = W
        self.r = qp.Resolved(plan) if plan is not None else None
        self.quant = bool(quant and plan is not None)
        self.exact = exact_gelu or qp.gelu_exact_tanh
        self.float_weights = float_weights
        self.scales = dict(self.r.scales) if self.r else {}
        self.stats = None
        self.meta = {}
        self.uses = {}

    def spec(self, op, layer=None):
        return self.r.spec(op, layer)

    def rec(self, name, op, spec, layer, **metrics):
        if self.stats is None:
            return
        d = self.stats.setdefault(name, {})
        for k, v in metrics.items():
            v = float(v.detach().abs().max()) if hasattr(v, "detach") else float(v)
            d[k] = max(d.get(k, 0.0), v)
        if name not in self.meta:
            self.meta[name] = {"op": op, "ring": spec["ring"], "frac_bits": spec["frac_bits"], "layer": layer}

    def t(self, name, op, spec, role, layout=None, mod=None):
        """Tensor `name` as op `op` sees it: on its dyadic grid when quantizing."""
        w = self.W[name]
        if self.stats is not None:
            u = self.uses.setdefault(name, [])
            key = (op, mod)
            if all((x["op"], x["mod"]) != key for x in u):
                u.append({"op": op, "mod": mod, "ring": spec["ring"], "frac_bits": spec["frac_bits"],
                          "role": role, "layout": layout})
        if not self.quant or self.float_weights:
            return w
        ring, f = spec["ring"], spec["frac_bits"]
        if role == "weight" and op in qp.WEIGHT_OPS and ring == "FM32":
            return fq(w, ring, self.scales.get(name, f), clamp_bits=self.r.weight_bits)
        return fq(w, ring, self.scales.get(name, f))

    # -- ops
    def embed(self, names_idx, name="embedding"):
        """Sum of table lookups [(tensor name, index tensor or slice)], then the residual cast."""
        if self.r is None:
            return sum(self.W[n][i] for n, i in names_idx)
        spec = self.spec("embedding")
        out = 0
        for n, i in names_idx:
            w = self.t(n, "embedding", spec, "weight", mod=name)
            out = out + (fq(w[i], spec["ring"], spec["frac_bits"]) if self.quant else w[i])
        if self.quant:
            self.rec(name, "embedding", spec, None, out_max=out)
        return out

    def residual(self, x, layer, name):
        if not self.quant:
            return x
        spec = self.spec("residual", layer)
        y = fq(x, spec["ring"], spec["frac_bits"])
        self.rec(name, "residual", spec, layer, out_max=y)
        return y

    def linear(self, x, mod, layer, op="linear", layout="io", wname=None, bias=True):
        wn = wname or mod + ".weight"
        bn = mod + ".bias" if bias and (mod + ".bias") in self.W else None
        if self.r is None:
            w, b = self.W[wn], (self.W[bn] if bn else None)
        else:
            spec = self.spec(op, layer)
            w = self.t(wn, op, spec, "weight", layout, mod)
            b = self.t(bn, op, spec, "bias", mod=mod) if bn else None
        wm = w if layout == "io" else w.t()
        if not self.quant:
            y = x @ wm
            return y + b if b is not None else y
        ring, f = spec["ring"], spec["frac_bits"]
        xq = fq(x, ring, f)
        acc = xq @ wm                      # integers at f + fb fraction bits in the ring
        y = fq(acc, ring, f)               # shift right by fb (rounding)
        if b is not None:
            y = y + b                      # bias on the 2^-f grid: an exact add
        if self.stats is not None:
            self.rec(mod, op, spec, layer, in_max=xq, acc_max=acc, out_max=y)
            self.meta[mod].update(weight=wn, layout=layout, in_features=int(wm.shape[0]))
        return y

    def layernorm(self, x, mod, eps, layer):
        import torch.nn.functional as F
        D = x.shape[-1]
        if self.r is None:
            return F.layer_norm(x, (D,), self.W[mod + ".weight"], self.W[mod + ".bias"], eps)
        spec = self.spec("layernorm", layer)
        g = self.t(mod + ".weight", "layernorm", spec, "layernorm", mod=mod)
        b = self.t(mod + ".bias", "layernorm", spec, "layernorm", mod=mod)
        if not self.quant:
            return F.layer_norm(x, (D,), g, b, eps)
        ring, f = spec["ring"], spec["frac_bits"]
        xq = fq(x, ring, f)                # ring cast (FM32/8 -> FM64/18 is exact)
        y = fq(F.layer_norm(xq, (D,), g, b, eps), ring, f)
        if self.stats is not None:
            mu = xq.mean(-1, keepdim=True)
            self.rec(mod, "layernorm", spec, layer, in_max=xq, mean_max=mu,
                     sumsq_max=((xq - mu) ** 2).sum(-1), out_max=y)
        return y

    def attention(self, q, k, v, mask, layer, name, scale):
        """q, k, v: [B, H, T, hd]. Returns (probs . v, probs)."""
        import torch
        if not self.quant:
            s = (q @ k.transpose(-1, -2)) * scale
            if mask is not None:
                s = s.masked_fill(mask, float("-inf"))
            p = torch.softmax(s, dim=-1)
            return p @ v, p
        spec, sm = self.spec("attention", layer), self.spec("softmax", layer)
        ring, f = spec["ring"], spec["frac_bits"]
        qq, kq, vq = fq(q, ring, f), fq(k, ring, f), fq(v, ring, f)
        raw = qq @ kq.transpose(-1, -2)    # at 2f fraction bits
        s = fq(raw * scale, ring, f)
        s = fq(s, sm["ring"], sm["frac_bits"])  # cast to the softmax ring
        sm_in = s
        if mask is not None:
            s = s.masked_fill(mask, float("-inf"))
        p = fq(torch.softmax(s, dim=-1), sm["ring"], sm["frac_bits"])
        pa = fq(p, ring, f)                # cast back to the attention ring
        yraw = pa @ vq                     # at 2f fraction bits
        y = fq(yraw, ring, f)
        if self.stats is not None:
            self.rec(name, "attention", spec, layer, q_max=qq, k_max=kq, v_max=vq, scores_acc_max=raw,
                     pv_acc_max=yraw, out_max=y, head_dim=q.shape[-1], keys=k.shape[-2])
            self.rec(name + ".softmax", "softmax", sm, layer, in_max=sm_in, out_max=p)
        return y, p

    def gelu(self, x, layer, name):
        if self.r is None:
            return self.exact(x)
        spec = self.spec("gelu", layer)
        approx = spec["approx"]
        fn = {"exact": self.exact, "puma": qp.gelu_puma, "quad": qp.gelu_quad}[approx]
        if not self.quant:
            return fn(x)
        ring, f = spec["ring"], spec["frac_bits"]
        xq = fq(x, ring, f)
        if approx == "quad":
            sq = fq(xq * xq, ring, f)      # x^2 at 2f fraction bits, truncated to f
            y = fq(0.125 * sq + 0.25 * xq + 0.5, ring, f)
            self.rec(name, "gelu", spec, layer, in_max=xq, square_max=xq * xq, out_max=y)
        else:
            y = fq(fn(xq), ring, f)
            self.rec(name, "gelu", spec, layer, in_max=xq, out_max=y)
        return y

    def tanh(self, x, name):
        import torch
        if not self.quant:
            return torch.tanh(x)
        spec = self.spec("tanh")
        xq = fq(x, spec["ring"], spec["frac_bits"])
        y = fq(torch.tanh(xq), spec["ring"], spec["frac_bits"])
        self.rec(name, "tanh", spec, None, in_max=xq, out_max=y)
        return y


# ----------------------------------------------------------------------------- forwards
def gpt2_forward(qc, cfg, idx, head=True):
    """idx [B, T] -> (logits [B, T, V], hidden states [L+1 x [B, T, D]], attention probs [L x [B, H, T, T]])."""
    import torch
    B, T = idx.shape
    D, H = cfg["n_embd"], cfg["n_head"]
    hd = D // H
    eps = cfg.get("layer_norm_epsilon", 1e-5)
    scale = 1.0 / math.sqrt(hd) if cfg.get("scale_attn_weights", True) else 1.0
    x = qc.embed([("wte.weight", idx), ("wpe.weight", slice(0, T))])
    x = qc.residual(x, None, "embedding.sum")
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool, device=idx.device), 1)
    hid, atts = [x], []
    for i in range(cfg["n_layer"]):
        p = f"h.{i}."
        h = qc.layernorm(x, p + "ln_1", eps, i)
        qkv = qc.linear(h, p + "attn.c_attn", i)
        q, k, v = [t.reshape(B, T, H, hd).transpose(1, 2) for t in qkv.split(D, dim=-1)]
        y, a = qc.attention(q, k, v, mask, i, p + "attn", scale)
        y = y.transpose(1, 2).reshape(B, T, D)
        x = qc.residual(x + qc.linear(y, p + "attn.c_proj", i), i, p + "residual.attn")
        h = qc.layernorm(x, p + "ln_2", eps, i)
        h = qc.gelu(qc.linear(h, p + "mlp.c_fc", i), i, p + "mlp.gelu")
        x = qc.residual(x + qc.linear(h, p + "mlp.c_proj", i), i, p + "residual.mlp")
        hid.append(x)
        atts.append(a)
    if not head:   # stage 1 needs no logits
        return None, hid, atts
    h = qc.layernorm(x, "ln_f", eps, None)
    wn = "lm_head.weight" if "lm_head.weight" in qc.W else "wte.weight"
    logits = qc.linear(h, "lm_head", None, op="lm_head", layout="oi", wname=wn, bias=False)
    return logits, hid, atts


def bert_forward(qc, cfg, idx, head=True):
    """idx [B, T] -> (classifier logits [B, labels], hidden states, attention probs)."""
    B, T = idx.shape
    D, H = cfg["hidden_size"], cfg["num_attention_heads"]
    hd = D // H
    eps = cfg.get("layer_norm_eps", 1e-12)
    e = "bert.embeddings."
    x = qc.embed([(e + "word_embeddings.weight", idx), (e + "position_embeddings.weight", slice(0, T)),
                  (e + "token_type_embeddings.weight", 0)])
    x = qc.layernorm(x, e + "LayerNorm", eps, None)
    hid, atts = [x], []
    for i in range(cfg["num_hidden_layers"]):
        p = f"bert.encoder.layer.{i}."
        q, k, v = [qc.linear(x, p + "attention.self." + n, i, layout="oi").reshape(B, T, H, hd).transpose(1, 2)
                   for n in ("query", "key", "value")]
        y, a = qc.attention(q, k, v, None, i, p + "attention", 1.0 / math.sqrt(hd))
        y = y.transpose(1, 2).reshape(B, T, D)
        y = qc.linear(y, p + "attention.output.dense", i, layout="oi")
        x = qc.layernorm(qc.residual(x + y, i, p + "residual.attn"), p + "attention.output.LayerNorm", eps, i)
        h = qc.gelu(qc.linear(x, p + "intermediate.dense", i, layout="oi"), i, p + "intermediate.gelu")
        h = qc.linear(h, p + "output.dense", i, layout="oi")
        x = qc.layernorm(qc.residual(x + h, i, p + "residual.mlp"), p + "output.LayerNorm", eps, i)
        hid.append(x)
        atts.append(a)
    if not head:
        return None, hid, atts
    pooled = qc.tanh(qc.linear(x[:, 0], "bert.pooler.dense", None, layout="oi"), "bert.pooler.tanh")
    logits = qc.linear(pooled, "classifier", None, op="lm_head", layout="oi")
    return logits, hid, atts


def forward(model, qc, idx, head=True):
    return (gpt2_forward if model.kind == "gpt2" else bert_forward)(qc, model.cfg, idx, head)


# ----------------------------------------------------------------------------- calibration
def col_l1_max(w, layout, fb=None, wbits=None):
    """max over output units of sum_i |w_i,out| (of w on its 2^-fb grid when fb is given): with
    |x_i| <= X, every accumulator is <= X times it."""
    w = w.detach()
    if fb is not None:
        w = fq(w, "FM32", fb, clamp_bits=wbits)
    return float(w.abs().sum(0 if layout == "io" else 1).max())


def choose_scales(qc, plan, args):
    """Per-tensor frac bits from qc's calibration stats. Returns (scales dict, failures)."""
    rz = qp.Resolved(plan)
    wbits = rz.weight_bits
    scales, failures = {}, []
    for name, uses in qc.uses.items():
        w = qc.W[name]
        wmax = float(w.detach().abs().max())
        cal = [u for u in uses if u["role"] == "weight" and u["op"] in qp.WEIGHT_OPS and u["ring"] == "FM32"]
        if not cal:
            u = uses[0]
            scales[name] = {"frac_bits": min(x["frac_bits"] for x in uses), "ring": u["ring"], "op": u["op"],
                            "role": u["role"], "max_abs": round(wmax, 6)}
            continue
        cands = [(qp.frac_bits_below(wmax, wbits - 1), None)]
        for u in cal:
            st = qc.stats.get(u["mod"]) if u["op"] != "embedding" else None
            if not st:
                continue
            f = u["frac_bits"]
            lim = qp.USABLE_BITS["FM32"] - args.margin_bits
            l1 = col_l1_max(w, u["layout"])
            if args.acc_rule == "bound":
                accr = st["in_max"] * l1
                how = f"bound max|x| * max_j sum_i |w_ij| = {st['in_max']:.4g} * {l1:.4g}"
            else:
                accr = st["acc_max"]
                lim -= args.observed_margin_bits
                how = f"observed max |sum_i x_i w_ij| {accr:.4g}, +{args.observed_margin_bits} bits margin"
            fbc = qp.frac_bits_below(accr, lim - f)
            if args.acc_rule == "bound":   # the bound of the rounded weights must hold too
                while fbc >= args.min_weight_frac_bits and qp.bits_needed(
                        st["in_max"] * col_l1_max(w, u["layout"], min(fbc, args.max_weight_frac_bits), wbits),
                        f + min(fbc, args.max_weight_frac_bits)) >= lim:
                    fbc -= 1
            cands.append((fbc, (u, accr, how, lim)))
        fb, why = min(cands, key=lambda c: c[0])
        fb = min(fb, args.max_weight_frac_bits)
        if fb < args.min_weight_frac_bits:
            fm = args.min_weight_frac_bits
            if why is None:
                msg = (f"{name}: max |w| = {wmax:.6g} does not fit {wbits}-bit weights with "
                       f"{fm} fraction bits (--min-weight-frac-bits)")
                u = cal[0]
            else:
                u, accr, how, lim = why
                msg = (f"{u['mod']} ({u['op']}, FM32 with {u['frac_bits']} fraction bits): accumulator "
                       f"sum_i x_i w_ij over K = {int(w.shape[0] if u['layout'] == 'io' else w.shape[1])} inputs "
                       f"needs {qp.bits_needed(accr, u['frac_bits'] + fm):.2f} magnitude bits at "
                       f"{u['frac_bits']}+{fm} fraction bits ({how}) even with the minimum {fm} weight "
                       f"fraction bits (--min-weight-frac-bits); limit {lim} (FM32: "
                       f"{qp.USABLE_BITS['FM32']} usable bits - {qp.USABLE_BITS['FM32'] - lim} margin)")
            failures.append({"name": u["mod"] or name, "op": u["op"], "what": "accumulator", "ring": "FM32",
                             "excess": fm - fb, "message": msg})
            fb = fm
        scales[name] = {"frac_bits": int(fb), "ring": "FM32", "op": cal[0]["op"], "role": "weight",
                        "max_abs": round(wmax, 6), "bits": wbits}
    return scales, failures


def run_checks(qc, scales, args):
    """Every activation / accumulator maximum against its ring. Returns (checks, linear records)."""
    checks, layers = [], {}
    for name, st in qc.stats.items():
        m = qc.meta[name]
        op, ring, f = m["op"], m["ring"], m["frac_bits"]
        usable = qp.USABLE_BITS[ring]

        def add(what, value, scale_bits, extra_margin=0, on_ring=None):
            lim = qp.USABLE_BITS[on_ring or ring] - args.margin_bits - extra_margin
            b = qp.bits_needed(value, scale_bits)
            rec = {"name": name, "op": op, "what": what, "ring": on_ring or ring, "frac_bits": f, "max_abs": value,
                   "scale_bits": scale_bits, "bits": b, "limit_bits": lim, "ok": b < lim}
            checks.append(rec)
            return rec

        if op in ("linear", "lm_head"):
            wn = m["weight"]
            fb = scales[wn]["frac_bits"]
            add("input", st["in_max"], f)
            add("output", st["out_max"], f)
            bound = st["in_max"] * col_l1_max(qc.W[wn], m["layout"], fb, qc.r.weight_bits)
            if args.acc_rule == "bound":
                acc = add("accumulator (bound: max|x| * max_j sum_i |w_ij|)", bound, f + fb)
            else:
                acc = add("accumulator (observed max, +%d bits margin)" % args.observed_margin_bits,
                          st["acc_max"], f + fb, args.observed_margin_bits)
            layers[name] = {"op": op, "ring": ring, "frac_bits": f, "weight": wn, "weight_frac_bits": fb,
                            "in_features": m["in_features"], "in_max": round(st["in_max"], 6),
                            "out_max": round(st["out_max"], 6), "acc_frac_bits": f + fb,
                            "acc_bits_bound": round(qp.bits_needed(bound, f + fb), 3),
                            "acc_bits_observed": round(qp.bits_needed(st["acc_max"], f + fb), 3),
                            "acc_bits_limit": acc["limit_bits"], "ring_usable_bits": usable, "ok": acc["ok"]}
        elif op in ("embedding", "residual"):
            add("output", st["out_max"], f)
        elif op == "layernorm":
            add("input", st["in_max"], f)
            add("sum of squares (x - mean)^2", st["sumsq_max"], 2 * f)
            add("output", st["out_max"], f)
        elif op == "attention":
            add("input q, k, v", max(st["q_max"], st["k_max"], st["v_max"]), f)
            # on FM64 the MPC backend may normalise after the product, (e.v).r, formed at up to 44
            # fraction bits before its truncation (fxp/softmax.h, kNormaliseProductBits)
            pv_bits = max(2 * f, 44) if ring == "FM64" else 2 * f
            if args.acc_rule == "bound":
                add("scores accumulator q.k (bound: head_dim * max|q| * max|k|)",
                    st["head_dim"] * st["q_max"] * st["k_max"], 2 * f)
                add("probs.v accumulator (bound: max|v|)", st["v_max"], pv_bits)
            else:
                add("scores accumulator q.k (observed)", st["scores_acc_max"], 2 * f, args.observed_margin_bits)
                add("probs.v accumulator (observed)", st["pv_acc_max"], pv_bits, args.observed_margin_bits)
            lin = qc.spec("linear", m["layer"])
            if ring == "FM64" and lin["ring"] == "FM32":
                # the MPC backend multiplies q by k on FM32 at the linear layers' fraction bits
                # (nn/ditto_backend.h): the scores must fit there, and up-cast from there
                fl = lin["frac_bits"]
                if args.acc_rule == "bound":
                    add("scores q.k on the linear ring (bound: head_dim * max|q| * max|k|)",
                        st["head_dim"] * st["q_max"] * st["k_max"], 2 * fl, on_ring="FM32")
                else:
                    add("scores q.k on the linear ring (observed)", st["scores_acc_max"], 2 * fl,
                        args.observed_margin_bits, on_ring="FM32")
            add("output", st["out_max"], f)
        elif op == "softmax":
            add("input x - rowmax (bound: 2 max|x|)", 2 * st["in_max"], f)
        elif op == "gelu":
            add("input", st["in_max"], f)
            if "square_max" in st:
                add("x^2 before truncation", st["square_max"], 2 * f)
            add("output", st["out_max"], f)
        elif op == "tanh":
            add("input", st["in_max"], f)
    return checks, layers


def overflow_message(c):
    return (f"{c['name']} ({c['op']}, {c['ring']} with {c['frac_bits']} fraction bits): {c['what']} "
            f"max {c['max_abs']:.6g} at 2^-{c['scale_bits']} needs {c['bits']:.2f} magnitude bits, "
            f"limit {c['limit_bits']} ({c['ring']}: {qp.USABLE_BITS[c['ring']]} usable bits - "
            f"{qp.USABLE_BITS[c['ring']] - c['limit_bits']} margin)")


def calibrate(model, W, plan, batches, args, what="calibration", scales=None):
    """Returns the plan with scales and calibration records; raises PlanOverflow. With `scales`
    (per-tensor entries) given, only checks them: no scale is chosen."""
    import torch
    exact = model.exact_gelu()
    failures = []
    if scales is None:
        qc = Q(W, plan, quant=True, exact_gelu=exact, float_weights=True)   # pass 1: float weights
        qc.stats = {}
        with torch.no_grad():
            for b in batches:
                forward(model, qc, b)
        scales, _ = choose_scales(qc, plan, args)
        fixed = False
    else:
        fixed = True
    for _ in range(4):   # passes with quantized weights until the chosen scales reproduce themselves
        qc = Q(W, dict(plan, scales=scales), quant=True, exact_gelu=exact)
        qc.stats = {}
        with torch.no_grad():
            for b in batches:
                forward(model, qc, b)
        if fixed:
            break
        new, failures = choose_scales(qc, plan, args)
        same = all(new[k]["frac_bits"] == scales[k]["frac_bits"] for k in new)
        scales = new
        if same:
            break
    checks, layers = run_checks(qc, scales, args)
    bad = [dict(c, message=overflow_message(c)) for c in checks if not c["ok"]]
    scale_fail = {f["name"] for f in failures}
    bad = [c for c in bad if not (c["name"] in scale_fail and c["what"].startswith("accumulator"))]
    for c in bad:
        c["excess"] = c["bits"] - c["limit_bits"]
    failures = sorted(failures + bad, key=lambda c: -c["excess"])
    worst = min(checks, key=lambda c: c["limit_bits"] - c["bits"])
    out = dict(plan, scales=scales)
    out["calibration"] = {
        "tool": "tools/distill.py", "data": what, "batches": len(batches),
        "tokens": int(sum(b.numel() for b in batches)),
        "acc_rule": args.acc_rule, "margin_bits": args.margin_bits,
        "observed_margin_bits": args.observed_margin_bits if args.acc_rule == "observed" else 0,
        "weight_bits": qp.Resolved(plan).weight_bits,
        "min_weight_frac_bits": args.min_weight_frac_bits, "max_weight_frac_bits": args.max_weight_frac_bits,
        "usable_bits": dict(qp.USABLE_BITS),
        "worst_headroom_bits": round(worst["limit_bits"] - worst["bits"], 3),
        "worst": f"{worst['name']}: {worst['what']}",
        "layers": layers,
        "checks": [{k: (round(v, 6) if isinstance(v, float) else v) for k, v in c.items()} for c in checks],
    }
    if failures:
        raise PlanOverflow(failures)
    return out


# ----------------------------------------------------------------------------- data
class GptData:
    def __init__(self, model, args):
        text = open(args.corpus, encoding="utf-8").read()
        if args.corpus_chars:
            text = text[:args.corpus_chars]
        tr_text, ho_text = train_gpt2.split_corpus(text)
        tok = train_gpt2.bpe_train.Tokenizer.load(model.dir)
        t = time.time()
        self.train = train_gpt2.Lines(tok, tr_text).stream
        self.heldout = train_gpt2.Lines(tok, ho_text).stream
        log(f"corpus {args.corpus}: {len(text)} chars; tokens: train {len(self.train)}, held-out "
            f"{len(self.heldout)} ({time.time() - t:.1f}s)")
        self.ctx = model.cfg["n_positions"]

    def batch(self, rng, rows, length):
        length = min(length, self.ctx, len(self.train) - 2)
        return train_gpt2.lm_rows(self.train, rows, length, rng)


def gpt2_heldout(model, W, plan, quant, dev, windows=0, dtype=None):
    """Held-out loss (nats/token) over non-overlapping n_positions windows (train_gpt2.heldout_loss)."""
    import torch
    Wd = {k: v.to(dev, dtype or v.dtype) for k, v in W.items()}
    qc = Q(Wd, plan, quant=quant, exact_gelu=model.exact_gelu())

    def fwd(x):
        return forward(model, qc, x[None].to(dev))[0][0].float().cpu()

    with torch.no_grad():
        return train_gpt2.heldout_loss(fwd, model.data.heldout, model.cfg["n_positions"], windows or None)


def bert_batch(model, rng_t, rows, length):
    import torch
    return torch.randint(0, model.cfg["vocab_size"], (rows, length), generator=rng_t)


def bert_eval(model, Wt, W, plan, quant, dev, n=64, length=32, seed=999):
    """Teacher vs student on n fixed random sequences: mean KL(teacher || student), argmax agreement."""
    import torch
    import torch.nn.functional as F
    g = torch.Generator().manual_seed(seed)
    idx = bert_batch(model, g, n, length).to(dev)
    with torch.no_grad():
        t = forward(model, Q(Wt, None, exact_gelu=model.exact_gelu()), idx)[0]
        s = forward(model, Q(W, plan, quant=quant, exact_gelu=model.exact_gelu()), idx)[0]
        kl = F.kl_div(F.log_softmax(s, -1), F.log_softmax(t, -1), log_target=True, reduction="batchmean").item()
        agree = (s.argmax(-1) == t.argmax(-1)).float().mean().item()
        maxdiff = (s - t).abs().max().item()
    return kl, agree, maxdiff


# ----------------------------------------------------------------------------- training
def stage_loss(stage, model, t_out, s_out, batch, args):
    import torch.nn.functional as F
    tl, th, ta = t_out
    sl, sh, sa = s_out
    if stage == 1:
        hs = sum(((a - b) ** 2).mean() / (b ** 2).mean().clamp_min(1e-6) for a, b in zip(sh, th)) / len(th)
        at = sum(((a - b) ** 2).sum(-1).mean() for a, b in zip(sa, ta)) / len(ta)
        return hs + args.attn_weight * at, {"hidden": hs.item(), "attn": at.item()}
    T = args.temperature
    V = tl.shape[-1]
    kl = F.kl_div(F.log_softmax(sl.reshape(-1, V) / T, -1), F.log_softmax(tl.reshape(-1, V) / T, -1),
                  log_target=True, reduction="batchmean") * T * T
    parts = {"kl": kl.item()}
    loss = kl
    if model.kind == "gpt2" and args.lm_weight > 0:
        ce = F.cross_entropy(sl.reshape(-1, V), batch[:, 1:].reshape(-1))
        loss = loss + args.lm_weight * ce
        parts["lm"] = ce.item()
    return loss, parts


def distill(args):
    import torch
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    dev = train_gpt2.pick_device(args.device)
    model = Model(args.teacher)
    try:
        plan = qp.load(args.plan, model.n_layer)
        if args.gelu:
            plan = qp.with_gelu(plan, args.gelu)
    except qp.PlanError as e:
        print(f"distill: {e}", file=sys.stderr)
        return 2
    plan.pop("scales", None)
    plan.pop("calibration", None)
    log(f"teacher {args.teacher} ({model.kind}, {model.n_layer} layers), plan {plan.get('name', args.plan)}, "
        f"gelu {plan['ops']['gelu']['approx']}, device {dev}")
    rng = random.Random(args.seed)
    g = torch.Generator().manual_seed(args.seed)
    Wt = {k: v.to(dev) for k, v in model.W.items()}
    if model.kind == "gpt2":
        model.data = GptData(model, args)
        ctx = min(args.context, model.cfg["n_positions"])
        calib_len = min(args.calib_context or model.cfg["n_positions"], model.cfg["n_positions"])

        def next_batch():
            return model.data.batch(rng, args.batch, ctx + 1).to(dev)

        def model_input(b):
            return b[:, :-1]
        calib = [model.data.batch(random.Random(args.seed + 7 + i), 1, calib_len)[:, :-1].to(dev)
                 for i in range(args.calib_batches)]
        calib_what = f"{args.calib_batches} random windows of {calib_len} tokens of the training text"
    else:
        ctx = min(args.bert_seq, model.cfg["max_position_embeddings"])

        def next_batch():
            return bert_batch(model, g, args.batch, ctx).to(dev)

        def model_input(b):
            return b
        gc = torch.Generator().manual_seed(args.seed + 7)
        calib = [bert_batch(model, gc, 8, ctx).to(dev) for _ in range(args.calib_batches)]
        calib_what = f"{args.calib_batches} x 8 uniformly random token sequences of length {ctx}"

    # -- calibration of the teacher's weights under the plan (the no-distillation baseline)
    try:
        cplan = calibrate(model, Wt, plan, calib, args, calib_what)
    except PlanOverflow as e:
        print("distill: the plan overflows on the teacher's weights:", file=sys.stderr)
        for f in e.failures[:12]:
            print("  overflow: " + f["message"], file=sys.stderr)
        if len(e.failures) > 12:
            print(f"  ... and {len(e.failures) - 12} more", file=sys.stderr)
        return 3
    c = cplan["calibration"]
    log(f"calibrated: {len(cplan['scales'])} tensors, worst headroom {c['worst_headroom_bits']} bits ({c['worst']})")
    for name, r in c["layers"].items():
        if name.startswith("h.0.") or name.startswith("bert.encoder.layer.0.") or r["op"] == "lm_head":
            log(f"  {name}: in max {r['in_max']:.3g}, out max {r['out_max']:.3g}, weight frac bits "
                f"{r['weight_frac_bits']}, accumulator {r['acc_bits_bound']:.1f} bits (bound) / "
                f"{r['acc_bits_observed']:.1f} (observed) of {r['acc_bits_limit']}")

    report = {"teacher": args.teacher, "plan": plan.get("name", args.plan), "gelu": plan["ops"]["gelu"]["approx"]}
    f64 = torch.float64

    def evaluate_all(W, p, tag):
        if model.kind == "gpt2":
            lf = gpt2_heldout(model, W, p, False, dev, args.final_windows, f64)
            lq = gpt2_heldout(model, W, p, True, dev, args.final_windows, f64)
            log(f"{tag}: held-out loss float {lf:.4f} (ppl {math.exp(lf):.2f}), fake-quant {lq:.4f} "
                f"(ppl {math.exp(lq):.2f})")
            return {"loss_float": round(lf, 5), "ppl_float": round(math.exp(lf), 3),
                    "loss_fake_quant": round(lq, 5), "ppl_fake_quant": round(math.exp(lq), 3)}
        r = {}
        for quant in (False, True):
            kl, agree, md = bert_eval(model, Wt, W, p, quant, dev, length=ctx)
            k = "fake_quant" if quant else "float"
            r.update({f"kl_{k}": round(kl, 6), f"agree_{k}": round(agree, 4), f"max_logit_diff_{k}": round(md, 5)})
        log(f"{tag}: vs teacher on 64 random sequences: KL float {r['kl_float']:.5f} (agree {r['agree_float']:.3f}), "
            f"fake-quant {r['kl_fake_quant']:.5f} (agree {r['agree_fake_quant']:.3f})")
        return r

    if model.kind == "gpt2":
        lt = gpt2_heldout(model, Wt, None, False, dev, args.final_windows, f64)
        report["teacher_float"] = {"loss": round(lt, 5), "ppl": round(math.exp(lt), 3)}
        log(f"teacher float: held-out loss {lt:.4f} (ppl {math.exp(lt):.2f})")
    report["teacher_with_plan"] = evaluate_all(Wt, cplan, "teacher + plan (no distillation)")
    if args.ablation and plan["ops"]["gelu"]["approx"] != "exact":
        try:
            ep = qp.with_gelu(plan, "exact")
            report["teacher_with_plan_exact_gelu"] = evaluate_all(
                Wt, calibrate(model, Wt, ep, calib, args, calib_what), "teacher + plan with exact GeLU")
        except PlanOverflow as e:
            log(f"ablation skipped: {e}")

    # -- student
    Ws = {k: v.detach().clone().requires_grad_(True) for k, v in Wt.items()}
    params = list(Ws.values())
    cur = cplan
    history = []
    best = {"score": None}
    budget = args.minutes * 60.0
    t_train = time.time()

    def score_now(p):
        if model.kind == "gpt2":
            return gpt2_heldout(model, {k: v.detach() for k, v in Ws.items()}, p, True, dev, args.eval_windows)
        return bert_eval(model, Wt, {k: v.detach() for k, v in Ws.items()}, p, True, dev, length=ctx)[0]

    def recalibrate():
        nonlocal cur
        try:
            cur = calibrate(model, {k: v.detach() for k, v in Ws.items()}, plan, calib, args, calib_what)
        except PlanOverflow as e:
            log(f"warning: recalibration overflows ({e.failures[0]['message']}); keeping the previous scales")

    stages = [(1, args.steps_stage1, args.stage1_frac), (2, args.steps_stage2, 1.0 - args.stage1_frac)]
    s0 = score_now(cur)
    best = {"score": s0, "W": {k: v.detach().clone() for k, v in Ws.items()}, "plan": cur, "stage": 0, "step": 0}
    history.append({"stage": 0, "step": 0, "elapsed_s": 0, "train_loss": None, "heldout": round(s0, 5)})
    log("start: fake-quant student, " + (f"held-out loss on {args.eval_windows or 'all'} windows"
        if model.kind == "gpt2" else "KL to the teacher on 64 random sequences") + f": {s0:.4f}")
    total_steps = 0
    for stage, cap, frac in stages:
        if cap == 0 and args.minutes <= 0:
            continue
        if cap < 0:
            continue
        seconds = budget * frac if args.minutes > 0 else float("inf")
        if cap == 0 and seconds <= 0:
            continue
        for k, v in best["W"].items():   # every stage starts from the best so far
            Ws[k].data.copy_(v)
        cur = best["plan"]
        opt = torch.optim.AdamW(params, lr=args.lr, betas=(0.9, 0.95), weight_decay=0.0)
        st0 = time.time()
        step, bad, run = 0, 0, None
        qs = Q(Ws, cur, quant=True, exact_gelu=model.exact_gelu())
        qt = Q(Wt, None, exact_gelu=model.exact_gelu())
        while True:
            el = time.time() - st0
            prog = max(step / cap if cap else 0.0, el / seconds if seconds != float("inf") else 0.0)
            if prog >= 1.0:
                break
            lr = args.lr * min(1.0, (step + 1) / args.warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * prog)))
            for gr in opt.param_groups:
                gr["lr"] = lr
            b = next_batch()
            x = model_input(b)
            with torch.no_grad():
                t_out = forward(model, qt, x, head=stage == 2)
            qs.scales = dict(qp.Resolved(cur).scales)
            s_out = forward(model, qs, x, head=stage == 2)
            loss, parts = stage_loss(stage, model, t_out, s_out, b, args)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            step += 1
            total_steps += 1
            run = loss.item() if run is None else 0.9 * run + 0.1 * loss.item()
            if step % args.log_every == 0:
                log(f"stage {stage} step {step} lr {lr:.2e} loss {run:.4f} "
                    + " ".join(f"{k} {v:.4f}" for k, v in parts.items())
                    + f" ({(time.time() - st0) / step:.2f}s/step)")
            last = (cap and step >= cap) or (seconds != float("inf") and time.time() - st0 >= seconds)
            if step % args.eval_every == 0 or last:
                recalibrate()
                qs.scales = dict(qp.Resolved(cur).scales)
                sc = score_now(cur)
                history.append({"stage": stage, "step": step, "elapsed_s": round(time.time() - t_train, 1),
                                "train_loss": round(run, 5), "heldout": round(sc, 5), **{k: round(v, 5) for k, v in parts.items()}})
                improved = sc < best["score"]
                log(f"EVAL stage {stage} step {step}: held-out {sc:.4f}"
                    + (f" (ppl {math.exp(sc):.2f})" if model.kind == "gpt2" else "")
                    + (" new best" if improved else ""))
                if improved:
                    best = {"score": sc, "W": {k: v.detach().clone() for k, v in Ws.items()}, "plan": cur,
                            "stage": stage, "step": step}
                    bad = 0
                else:
                    bad += 1
                    if args.patience and bad >= args.patience:
                        log(f"stage {stage}: early stop after {bad} evaluations without improvement")
                        break
        log(f"stage {stage}: {step} steps in {time.time() - st0:.0f}s")
        report[f"steps_stage{stage}"] = step
    report["train_seconds"] = round(time.time() - t_train, 1)

    # -- final: best weights, recalibrated, rounded onto their grids, checked, exported
    Wb = best["W"]
    try:
        final = calibrate(model, Wb, plan, calib, args, calib_what)
    except PlanOverflow as e:
        final = best["plan"]
        log(f"warning: final recalibration overflows ({e.failures[0]['message']}); using the scales of the best step")
    Wr = round_to_grids(Wb, final)
    try:
        final = calibrate_check(model, Wr, final, calib, args, calib_what)
    except PlanOverflow as e:
        os.makedirs(args.out, exist_ok=True)
        torch.save({k: v.cpu() for k, v in Wr.items()}, os.path.join(args.out, "rejected_student.pt"))
        print("distill: the distilled student overflows the plan (weights saved as rejected_student.pt):",
              file=sys.stderr)
        for f in e.failures[:12]:
            print("  overflow: " + f["message"], file=sys.stderr)
        return 3
    report["student"] = evaluate_all(Wr, final, "distilled student")
    report["best"] = {"stage": best["stage"], "step": best["step"], "heldout_during_training": round(best["score"], 5)}
    report["history"] = history
    export(model, Wr, final, report, args)
    print(json.dumps({k: v for k, v in report.items() if k != "history"}, indent=1))
    return 0


def round_to_grids(W, plan):
    """Every tensor onto its dyadic grid (what the MPC parties encode), as float32."""
    import torch
    rz = qp.Resolved(plan)
    out = {}
    for k, v in W.items():
        s = plan["scales"].get(k)
        v = v.detach().float()
        if s is None:
            out[k] = v.clone()
        elif s.get("role") == "weight" and s["ring"] == "FM32":
            out[k] = fq(v, "FM32", s["frac_bits"], clamp_bits=rz.weight_bits)
        else:
            out[k] = fq(v, s["ring"], s["frac_bits"])
        assert out[k].dtype == torch.float32
    return out


def calibrate_check(model, Wr, plan, calib, args, what):
    """Checks the rounded weights under the plan's own scales (the exported plan's records)."""
    return calibrate(model, Wr, plan, calib, args, what, scales=plan["scales"])


def export(model, Wr, plan, report, args):
    import torch
    out = args.out
    os.makedirs(out, exist_ok=True)
    shutil.copyfile(os.path.join(model.dir, "config.json"), os.path.join(out, "config.json"))
    for f in ("vocab.json", "merges.txt", "vocab.txt", "tokenizer.json", "tokenizer_config.json",
              "special_tokens_map.json"):   # whatever tokenizer files the teacher has
        if os.path.exists(os.path.join(model.dir, f)):
            shutil.copyfile(os.path.join(model.dir, f), os.path.join(out, f))
    train_gpt2.write_safetensors(os.path.join(out, "model.safetensors"),
                                 model.export_names({k: v.cpu() for k, v in Wr.items()}))
    p = copy.deepcopy(plan)
    if model.prefix:
        p["scales"] = {model.prefix + k if k != "lm_head.weight" else k: v for k, v in p["scales"].items()}
    p["model"] = {"model_type": model.kind, "teacher": args.teacher, "distilled_by": "tools/distill.py",
                  "gelu": plan["ops"]["gelu"]["approx"],
                  "note": "config.json is the teacher's; the GeLU the weights were distilled for is ops.gelu.approx"}
    with open(os.path.join(out, "plan.json"), "w") as f:
        json.dump(p, f, indent=1)
        f.write("\n")
    report = dict(report, command=" ".join([os.path.relpath(sys.argv[0], ROOT) if sys.argv[0].startswith(ROOT)
                                            else sys.argv[0]] + sys.argv[1:]),
                  args={k: os.path.relpath(v, ROOT) if isinstance(v, str) and os.path.isabs(v) else v
                        for k, v in vars(args).items()},  # no paths of this machine in the record
                  device=str(train_gpt2.pick_device(args.device)), torch=torch.__version__)
    with open(os.path.join(out, "distill.json"), "w") as f:
        json.dump(report, f, indent=1)
        f.write("\n")
    with open(os.path.join(out, "loss.csv"), "w") as f:
        f.write("stage,step,elapsed_s,train_loss,heldout\n")
        for h in report["history"]:
            f.write(f"{h['stage']},{h['step']},{h['elapsed_s']},{'' if h['train_loss'] is None else h['train_loss']},"
                    f"{h['heldout']}\n")
    # self-check: the exported folder, reloaded, gives the in-memory student's fake-quant logits
    m2 = Model(out)
    p2 = qp.load(os.path.join(out, "plan.json"), m2.n_layer)
    x = (torch.arange(16) * 7 % min(m2.cfg["vocab_size"], 97))[None]
    dev = train_gpt2.pick_device(args.device)
    with torch.no_grad():
        a = forward(model, Q({k: v.to(dev) for k, v in Wr.items()}, plan, exact_gelu=model.exact_gelu()), x.to(dev))[0]
        b = forward(m2, Q({k: v.to(dev) for k, v in m2.W.items()}, p2, exact_gelu=m2.exact_gelu()), x.to(dev))[0]
    diff = (a - b).abs().max().item()
    log(f"exported to {out}; reloaded fake-quant logits differ by {diff:.2e}")
    assert diff < 1e-4, diff


# ----------------------------------------------------------------------------- --eval
def eval_mode(args):
    import torch
    torch.set_num_threads(args.threads)
    dev = train_gpt2.pick_device(args.device)
    model = Model(args.eval)
    pa = args.plan or (os.path.join(args.eval, "plan.json") if os.path.exists(os.path.join(args.eval, "plan.json"))
                       else None)
    try:
        plan = qp.load(pa, model.n_layer) if pa else None
        if plan is not None and args.gelu:
            plan = qp.with_gelu(plan, args.gelu)
    except qp.PlanError as e:
        print(f"distill --eval: {e}", file=sys.stderr)
        return 2
    f64 = torch.float64
    W = {k: v.to(dev) for k, v in model.W.items()}
    print(f"model: {args.eval}  ({model.kind}, {model.n_layer} layers)")
    if model.kind == "bert":
        if plan is None:
            print("no plan: nothing to compare for a BERT folder (give --plan)")
            return 0
        gc = torch.Generator().manual_seed(args.seed + 7)
        calib = [bert_batch(model, gc, 8, args.bert_seq).to(dev) for _ in range(args.calib_batches)]
        if not plan.get("scales"):
            plan = calibrate(model, W, plan, calib, args, "random sequences")
        kl, agree, md = bert_eval(model, W, W, plan, True, dev, length=args.bert_seq)
        print(f"fake-quant ({plan.get('name')}, gelu {plan['ops']['gelu']['approx']}) vs float "
              f"({model.cfg.get('hidden_act')}) on 64 random sequences: KL {kl:.6f}, argmax agreement {agree:.3f}, "
              f"max |logit diff| {md:.4f}")
        return 0
    model.data = GptData(model, args)
    n = args.final_windows or None
    ctx = model.cfg["n_positions"]
    nwin = len(range(0, len(model.data.heldout) - 1, ctx)) if not n else n
    lf = gpt2_heldout(model, W, plan, False, dev, args.final_windows, f64)
    g = plan["ops"]["gelu"]["approx"] if plan else "exact"
    act = model.cfg.get("activation_function", "gelu_new")
    print(f"held-out: {len(model.data.heldout)} tokens, {nwin} windows of {ctx}")
    print(f"float ({act if g == 'exact' else g + ' GeLU'}): loss {lf:.4f} nats/token, perplexity {math.exp(lf):.2f}")
    if plan is None:
        return 0
    if not plan.get("scales"):
        calib = [model.data.batch(random.Random(args.seed + 7 + i), 1, args.calib_context or ctx)[:, :-1].to(dev)
                 for i in range(args.calib_batches)]
        try:
            plan = calibrate(model, W, plan, calib, args, f"{len(calib)} training windows")
        except PlanOverflow as e:
            for f in e.failures[:12]:
                print("overflow: " + f["message"], file=sys.stderr)
            return 3
        print(f"calibrated {len(plan['scales'])} tensors on {len(calib)} training windows "
              f"(worst headroom {plan['calibration']['worst_headroom_bits']} bits: {plan['calibration']['worst']})")
    lq = gpt2_heldout(model, W, plan, True, dev, args.final_windows, f64)
    print(f"fake-quant ({plan.get('name', pa)}, gelu {g}): loss {lq:.4f} nats/token, perplexity {math.exp(lq):.2f}")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--teacher", help="HF folder (GPT2LMHeadModel or BertForSequenceClassification)")
    ap.add_argument("--plan", default=None, help="ditto | fp64 | a plan JSON file (default ditto; --eval: DIR/plan.json)")
    ap.add_argument("--gelu", choices=qp.GELU_APPROX, default=None, help="override the plan's GeLU approximation")
    ap.add_argument("--out", help="output HF folder")
    ap.add_argument("--eval", default=None, metavar="DIR", help="evaluate a folder (see above)")
    ap.add_argument("--corpus", default=os.path.join(ROOT, "../shared/data/text/tinyshakespeare.txt"))
    ap.add_argument("--corpus-chars", type=int, default=0, help="use only the first N chars (smoke tests)")
    ap.add_argument("--device", default="auto", help="auto (cuda when available, else cpu), cpu, cuda")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--minutes", type=float, default=10.0, help="time budget of both stages (0: step caps only)")
    ap.add_argument("--stage1-frac", type=float, default=0.3, help="share of --minutes for stage 1")
    ap.add_argument("--steps-stage1", type=int, default=0, help="step cap of stage 1 (0: time only; -1: skip)")
    ap.add_argument("--steps-stage2", type=int, default=0, help="step cap of stage 2 (0: time only; -1: skip)")
    ap.add_argument("--context", type=int, default=512, help="GPT-2: tokens per training row")
    ap.add_argument("--batch", type=int, default=4, help="rows per step")
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--attn-weight", type=float, default=1.0, help="stage 1: weight of the attention-probability MSE")
    ap.add_argument("--temperature", type=float, default=2.0, help="stage 2: KL temperature")
    ap.add_argument("--lm-weight", type=float, default=0.5, help="stage 2 (GPT-2): weight of the LM loss")
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--eval-windows", type=int, default=8, help="held-out windows per evaluation during training")
    ap.add_argument("--final-windows", type=int, default=0, help="held-out windows of the final numbers (0 = all)")
    ap.add_argument("--patience", type=int, default=6, help="evaluations without improvement before a stage stops")
    ap.add_argument("--log-every", type=int, default=10)
    ap.add_argument("--no-ablation", dest="ablation", action="store_false",
                    help="skip the 'teacher + plan with exact GeLU' baseline")
    ap.add_argument("--calib-batches", type=int, default=4)
    ap.add_argument("--calib-context", type=int, default=0, help="GPT-2: calibration window (default n_positions)")
    ap.add_argument("--acc-rule", choices=("bound", "observed"), default="bound",
                    help="accumulator constraint: bound = max|x| * max_j sum_i |w_ij| (holds for every input "
                         "within the calibrated max|x|), observed = largest accumulator seen (+ margin)")
    ap.add_argument("--margin-bits", type=int, default=1, help="headroom below every ring's usable bits")
    ap.add_argument("--observed-margin-bits", type=int, default=2, help="extra headroom with --acc-rule observed")
    ap.add_argument("--min-weight-frac-bits", type=int, default=2)
    ap.add_argument("--max-weight-frac-bits", type=int, default=20)
    ap.add_argument("--bert-seq", type=int, default=32, help="BERT: random sequence length")
    args = ap.parse_args()
    if args.eval:
        return eval_mode(args)
    if not args.teacher or not args.out:
        ap.error("distillation needs --teacher DIR and --out DIR (or --eval DIR)")
    args.plan = args.plan or "ditto"
    if os.path.abspath(args.out) == os.path.abspath(args.teacher):
        ap.error("--out must differ from --teacher")
    return distill(args)


if __name__ == "__main__":
    sys.exit(main())
