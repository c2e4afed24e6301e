#!/usr/bin/python3
"""Train veil's tiny GPT-2 fixture on tinyshakespeare + synthetic passkey retrieval.

Modes (run with Debian's /usr/bin/python3, which has python3-torch):
  train (default)   learn a byte-level BPE, train, checkpoint to --work, export best to --export
  --export-from CK  export a checkpoint (.pt) as a Hugging Face GPT-2 folder (--export DIR)
  --eval DIR        reload an exported HF folder (own safetensors reader + functional GPT-2
                    forward in HF's Conv1D layout) and report held-out perplexity and
                    retrieval accuracy on freshly generated held-out-filler samples
  --make-retrieval-samples N --seed S --context L --model DIR [--out F.jsonl]
                    write retrieval samples (held-out filler) as JSONL
  --trial --params JSON --checkpoint-dir DIR --epochs N
                    one hyper-parameter tuning trial (`veil tune`'s trial contract): language
                    modelling only, one JSON line per epoch after that epoch's checkpoint,
                    resumes from DIR/ckpt.pt when restarted (see trial() below)

Runs on the GPU when torch sees one (--device auto), else on --threads CPU threads.

Retrieval task (see retrieval.json written next to the model):
  prompt = <filler A> "The passkey is {K}. Remember it.\n" <filler B> "What is the passkey? The passkey is"
  answer = " {K}"  with K a uniformly random 5-digit number 10000..99999
  Filler A ends on a line boundary and may start mid-line; filler B is whole lines; the
  needle is placed after a fraction `depth` of the filler tokens. prompt+answer is exactly
  L tokens. Correct = greedy decoding of len(answer_ids) tokens reproduces answer_ids exactly.
"""
import argparse
import json
import math
import os
import random
import struct
import sys
import time

# OpenBLAS keeps its own worker threads (spinning in sched_yield) unless told otherwise;
# torch.set_num_threads does not cap them.  Honour --threads before torch is imported.
_thr = next((a.split("=", 1)[1] if "=" in a else sys.argv[i + 2]
             for i, a in enumerate(sys.argv[1:]) if a.split("=")[0] == "--threads"), "1")
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_v, _thr)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpe_train  # noqa: E402

NEEDLE = "The passkey is {key}. Remember it.\n"
QUESTION = "What is the passkey? The passkey is"
ANSWER = " {key}"
EVAL_DEPTH = (0.0, 0.25)   # "planted early": needle after 0-25% of filler tokens
TRAIN_DEPTH = (0.0, 0.9)   # training uses a wider range of distances


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ----------------------------------------------------------------------------- data
def split_corpus(text, heldout_frac=0.1):
    cut = int(len(text) * (1 - heldout_frac))
    nl = text.find("\n", cut)
    cut = len(text) if nl < 0 else nl + 1
    return text[:cut], text[cut:]


class Lines:
    """Text as a list of lines (each ending in '\\n'), tokenized line by line."""

    def __init__(self, tok, text):
        lines = text.splitlines(keepends=True)
        self.ids = [tok.encode(ln) for ln in lines]
        self.stream = [t for l in self.ids for t in l]
        # offset of each line in the stream
        self.off, o = [], 0
        for l in self.ids:
            self.off.append(o)
            o += len(l)


def make_retrieval(tok, lines, total_len, rng, depth_range):
    """Return dict with ids (prompt+answer, exactly total_len tokens) and metadata."""
    key = str(rng.randint(10000, 99999))
    n = tok.encode(NEEDLE.format(key=key))
    q = tok.encode(QUESTION)
    a = tok.encode(ANSWER.format(key=key))
    budget = total_len - len(n) - len(q) - len(a)
    assert budget > 8, "context too short for a retrieval sample"
    depth = rng.uniform(*depth_range)
    want_b = int(round(budget * (1 - depth)))
    nl = len(lines.ids)
    while True:
        j = rng.randrange(1, nl)  # needle goes before line j
        b, k = [], j
        while k < nl and len(b) + len(lines.ids[k]) <= want_b:
            b += lines.ids[k]
            k += 1
        if want_b - len(b) > 64 and k < nl:
            continue  # a very long line; try elsewhere
        a_len = budget - len(b)
        start = lines.off[j] - a_len
        if start < 0:
            continue
        fa = lines.stream[start:lines.off[j]]
        break
    ids = fa + n + b + q + a
    assert len(ids) == total_len
    return {"ids": ids, "key": key, "n_answer": len(a), "needle_pos": len(fa),
            "answer_ids": a}


def lm_rows(stream, n_rows, length, rng):
    import torch
    starts = [rng.randrange(0, len(stream) - length - 1) for _ in range(n_rows)]
    return torch.tensor([stream[s:s + length + 1] for s in starts], dtype=torch.long)


# ----------------------------------------------------------------------------- model
def build_model(cfg):
    import torch
    import torch.nn as nn

    def gelu_new(x):
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))

    class Block(nn.Module):
        def __init__(self, d, h, p):
            super().__init__()
            self.h = h
            self.ln_1 = nn.LayerNorm(d, eps=1e-5)
            self.c_attn = nn.Linear(d, 3 * d)
            self.attn_c_proj = nn.Linear(d, d)
            self.ln_2 = nn.LayerNorm(d, eps=1e-5)
            self.c_fc = nn.Linear(d, 4 * d)
            self.mlp_c_proj = nn.Linear(4 * d, d)
            self.attn_drop = nn.Dropout(p)
            self.resid_drop = nn.Dropout(p)

        def forward(self, x, mask):
            B, T, D = x.shape
            hd = D // self.h
            q, k, v = self.c_attn(self.ln_1(x)).split(D, dim=2)
            q = q.view(B, T, self.h, hd).transpose(1, 2)
            k = k.view(B, T, self.h, hd).transpose(1, 2)
            v = v.view(B, T, self.h, hd).transpose(1, 2)
            att = (q @ k.transpose(-2, -1)) / math.sqrt(hd)
            att = att.masked_fill(mask[:T, :T], float("-inf"))
            att = self.attn_drop(torch.softmax(att, dim=-1))
            y = (att @ v).transpose(1, 2).reshape(B, T, D)
            x = x + self.resid_drop(self.attn_c_proj(y))
            x = x + self.resid_drop(self.mlp_c_proj(gelu_new(self.c_fc(self.ln_2(x)))))
            return x

    class GPT2(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.c = c
            d = c["n_embd"]
            self.wte = nn.Embedding(c["vocab_size"], d)
            self.wpe = nn.Embedding(c["n_positions"], d)
            self.drop = nn.Dropout(c["dropout"])
            self.h = nn.ModuleList([Block(d, c["n_head"], c["dropout"]) for _ in range(c["n_layer"])])
            self.ln_f = nn.LayerNorm(d, eps=1e-5)
            self.register_buffer("mask", torch.triu(torch.ones(c["n_positions"], c["n_positions"],
                                                               dtype=torch.bool), 1), persistent=False)
            for name, p in self.named_parameters():
                if name.endswith("bias"):
                    nn.init.zeros_(p)
                elif "ln" in name:
                    nn.init.ones_(p)
                elif "c_proj" in name:
                    nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * c["n_layer"]))
                else:
                    nn.init.normal_(p, 0.0, 0.02)

        def forward(self, idx):
            T = idx.shape[1]
            pos = torch.arange(T, device=idx.device)
            x = self.drop(self.wte(idx) + self.wpe(pos))
            for blk in self.h:
                x = blk(x, self.mask)
            return self.ln_f(x) @ self.wte.weight.t()  # tied LM head

    return GPT2(cfg)


def hf_state(model):
    """Module state -> dict of HF GPT-2 names (Hub layout, Conv1D [in, out]) -> float32 tensors."""
    sd = {k: v.detach().float().contiguous() for k, v in model.state_dict().items() if k != "mask"}
    out = {"wte.weight": sd["wte.weight"], "wpe.weight": sd["wpe.weight"],
           "ln_f.weight": sd["ln_f.weight"], "ln_f.bias": sd["ln_f.bias"]}
    for i in range(model.c["n_layer"]):
        p = f"h.{i}."
        for ours, hf, conv in [("ln_1", "ln_1", False), ("ln_2", "ln_2", False),
                               ("c_attn", "attn.c_attn", True), ("attn_c_proj", "attn.c_proj", True),
                               ("c_fc", "mlp.c_fc", True), ("mlp_c_proj", "mlp.c_proj", True)]:
            w = sd[p + ours + ".weight"]
            out[p + hf + ".weight"] = w.t().contiguous() if conv else w
            out[p + hf + ".bias"] = sd[p + ours + ".bias"]
    return out


# ----------------------------------------------------------------------------- safetensors
def write_safetensors(path, tensors):
    import torch
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().to(torch.float32).contiguous()
        data = t.numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    import numpy as np
    import torch
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        assert meta["dtype"] == "F32", meta
        a, b = meta["data_offsets"]
        arr = np.frombuffer(data[a:b], dtype="<f4").reshape(meta["shape"])
        out[name] = torch.from_numpy(arr.copy())
    return out


def export_hf(model, tok, out_dir, extra_meta=None):
    os.makedirs(out_dir, exist_ok=True)
    c = model.c
    cfg = {
        "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2",
        "vocab_size": c["vocab_size"], "n_positions": c["n_positions"], "n_ctx": c["n_positions"],
        "n_embd": c["n_embd"], "n_layer": c["n_layer"], "n_head": c["n_head"], "n_inner": None,
        "activation_function": "gelu_new", "resid_pdrop": c["dropout"], "embd_pdrop": c["dropout"],
        "attn_pdrop": c["dropout"], "layer_norm_epsilon": 1e-5, "initializer_range": 0.02,
        "scale_attn_weights": True, "scale_attn_by_inverse_layer_idx": False,
        "reorder_and_upcast_attn": False, "tie_word_embeddings": True, "use_cache": True,
        "bos_token_id": tok.eot_id, "eos_token_id": tok.eot_id, "torch_dtype": "float32",
    }
    with open(f"{out_dir}/config.json", "w") as f:
        json.dump(cfg, f, indent=2)
    write_safetensors(f"{out_dir}/model.safetensors", hf_state(model))
    tok.save(out_dir)
    meta = {
        "description": "Passkey retrieval task used to train/evaluate this model.",
        "prompt_template": "{filler_a}" + NEEDLE + "{filler_b}" + QUESTION,
        "needle": NEEDLE, "question": QUESTION, "answer_template": ANSWER,
        "key": "uniformly random integer 10000..99999 written as 5 decimal digits",
        "filler": "tinyshakespeare held-out split (last 10% of characters, cut at the next line start); "
                  "filler_a = tokens ending on a line boundary (may start mid-line), filler_b = whole lines",
        "eval_needle_depth": list(EVAL_DEPTH),
        "needle_depth_meaning": "fraction of filler tokens placed before the needle",
        "train_needle_depth": list(TRAIN_DEPTH),
        "length": "len(prompt_ids) + len(answer_ids) == context",
        "scoring": "exact match: greedy decoding of len(answer_ids) tokens after prompt_ids equals answer_ids",
        "generator": "tools/train_gpt2.py --make-retrieval-samples N --seed S --context L --model DIR",
    }
    if extra_meta:
        meta.update(extra_meta)
    with open(f"{out_dir}/retrieval.json", "w") as f:
        json.dump(meta, f, indent=2)


# ----------------------------------------------------------------------------- HF-layout forward
def hf_forward(W, cfg, idx):
    """GPT2LMHeadModel forward from exported tensors (Conv1D: y = x @ W + b)."""
    import torch
    import torch.nn.functional as F
    T = idx.shape[-1]
    D, H = cfg["n_embd"], cfg["n_head"]
    hd = D // H
    eps = cfg["layer_norm_epsilon"]
    x = W["wte.weight"][idx] + W["wpe.weight"][:T]
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool, device=x.device), 1)
    for i in range(cfg["n_layer"]):
        p = f"h.{i}."
        h = F.layer_norm(x, (D,), W[p + "ln_1.weight"], W[p + "ln_1.bias"], eps)
        qkv = h @ W[p + "attn.c_attn.weight"] + W[p + "attn.c_attn.bias"]
        q, k, v = [t.reshape(T, H, hd).transpose(0, 1) for t in qkv.split(D, dim=-1)]
        att = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
        att = torch.softmax(att.masked_fill(mask, float("-inf")), dim=-1)
        y = (att @ v).transpose(0, 1).reshape(T, D)
        x = x + y @ W[p + "attn.c_proj.weight"] + W[p + "attn.c_proj.bias"]
        h = F.layer_norm(x, (D,), W[p + "ln_2.weight"], W[p + "ln_2.bias"], eps)
        h = h @ W[p + "mlp.c_fc.weight"] + W[p + "mlp.c_fc.bias"]
        h = 0.5 * h * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (h + 0.044715 * torch.pow(h, 3.0))))
        x = x + h @ W[p + "mlp.c_proj.weight"] + W[p + "mlp.c_proj.bias"]
    x = F.layer_norm(x, (D,), W["ln_f.weight"], W["ln_f.bias"], eps)
    return x @ W["wte.weight"].t()


def load_hf(d):
    with open(f"{d}/config.json") as f:
        cfg = json.load(f)
    return cfg, read_safetensors(f"{d}/model.safetensors"), bpe_train.Tokenizer.load(d)


# ----------------------------------------------------------------------------- evaluation
def heldout_loss(fwd, stream, ctx, max_windows=None):
    """Mean next-token NLL over non-overlapping ctx windows of the held-out stream."""
    import torch
    tot, n = 0.0, 0
    starts = list(range(0, len(stream) - 1, ctx))
    if max_windows:
        starts = starts[:max_windows]
    for s in starts:
        w = stream[s:s + ctx + 1]
        if len(w) < 2:
            continue
        x = torch.tensor(w[:-1])
        y = torch.tensor(w[1:])
        logits = fwd(x)
        tot += torch.nn.functional.cross_entropy(logits, y, reduction="sum").item()
        n += len(y)
    return tot / n


def retrieval_acc(fwd, samples):
    import torch
    ok = 0
    for s in samples:
        ids = s["ids"]
        x = torch.tensor(ids[:-1])
        logits = fwd(x)
        na = s["n_answer"]
        pred = logits[-na:].argmax(-1).tolist()
        ok += int(pred == ids[-na:])  # teacher-forced argmax == exact greedy decode
    return ok / len(samples)


def gen_samples(tok, lines, n, seed, ctx, depth=EVAL_DEPTH):
    rng = random.Random(seed)
    return [make_retrieval(tok, lines, ctx, rng, depth) for _ in range(n)]


# ----------------------------------------------------------------------------- training
def pick_device(name):
    import torch
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def load_or_learn_tokenizer(args, tr_text):
    if args.tokenizer:
        tok = bpe_train.Tokenizer.load(args.tokenizer)
        log(f"tokenizer: {len(tok.vocab)} tokens from {args.tokenizer}")
        return tok
    t0 = time.time()
    vocab, merges = bpe_train.train_bpe(tr_text, args.vocab_size, log=log)
    log(f"bpe: vocab {len(vocab)} in {time.time() - t0:.1f}s")
    return bpe_train.Tokenizer(vocab, merges)


def train(args):
    import torch
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    dev = pick_device(args.device)
    rng = random.Random(args.seed)
    os.makedirs(args.work, exist_ok=True)
    text = open(args.corpus, encoding="utf-8").read()
    if args.corpus_chars:
        text = text[:args.corpus_chars]
    tr_text, ho_text = split_corpus(text)
    log(f"corpus {len(text)} chars: train {len(tr_text)}, held-out {len(ho_text)}; regex={bpe_train.PAT_KIND}")
    tok = load_or_learn_tokenizer(args, tr_text)
    vocab, merges = tok.vocab, tok.merges
    tr, ho = Lines(tok, tr_text), Lines(tok, ho_text)
    log(f"tokens: train {len(tr.stream)}, held-out {len(ho.stream)}")
    curriculum = [int(c) for c in args.curriculum.split(",")]
    ctx_max = curriculum[-1]
    cfg = {"vocab_size": len(vocab), "n_positions": ctx_max, "n_embd": args.n_embd,
           "n_layer": args.n_layer, "n_head": args.n_head, "dropout": args.dropout}
    model = build_model(cfg).to(dev)
    log(f"model params {sum(p.numel() for p in model.parameters())} on {dev}")
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    nodecay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": nodecay, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.95))
    ho_eval_samples = {c: gen_samples(tok, ho, args.eval_samples, 1000 + c, c) for c in curriculum}
    csv = open(f"{args.work}/loss.csv", "w")
    csv.write("step,elapsed_s,ctx,train_loss,train_answer_loss,heldout_loss,retr_acc_ctx,retr_acc_max\n")
    budget = args.minutes * 60.0
    stage, stage_t0 = 0, 0.0
    best = None
    bad_evals = 0
    step = 0
    t_start = time.time()
    run_lm, run_ans = None, None

    def elapsed():
        return time.time() - t_start

    def fwd_eval(x):
        return model(x[None].to(dev))[0].float().cpu()

    while True:
        el = elapsed()
        frac = el / budget
        if frac >= 1.0 or (args.max_steps and step >= args.max_steps):
            break
        # curriculum: advance when the current stage retrieves well or its time share is used up
        ctx = curriculum[stage]
        # learning rate: warmup then cosine to 10% over the time budget
        lr = args.lr * min(1.0, (step + 1) / args.warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
        for g in opt.param_groups:
            g["lr"] = lr
        n_rows = max(2, args.tokens_per_step // ctx)
        n_ret = max(1, int(round(n_rows * args.retrieval_frac)))
        n_lm = max(1, n_rows - n_ret)
        model.train()
        lm = lm_rows(tr.stream, n_lm, ctx, rng)
        # Retrieval rows: a sample of random length Ls <= ctx+1 followed by training text, so the
        # answer does not sit at a fixed absolute position (with fixed-length rows the model
        # learns "emit the answer at position ctx-6" instead of attending to the needle).
        rt, amask = [], torch.zeros(n_ret, ctx, dtype=torch.bool)
        for r in range(n_ret):
            ls = ctx + 1 if rng.random() < 0.25 else rng.randint(min(ctx + 1, max(48, (ctx + 1) // 2)), ctx + 1)
            smp = make_retrieval(tok, tr, ls, rng, TRAIN_DEPTH)
            ids = smp["ids"]
            if ls < ctx + 1:
                st = rng.randrange(0, len(tr.stream) - ctx)
                ids = ids + tr.stream[st:st + ctx + 1 - ls]
            amask[r, ls - smp["n_answer"] - 1:ls - 1] = True
            rt.append(ids)
        rt = torch.tensor(rt, dtype=torch.long)
        batch = torch.cat([lm, rt], 0).to(dev)
        amask = amask.to(dev)
        logits = model(batch[:, :-1])
        V = logits.shape[-1]
        lm_loss = torch.nn.functional.cross_entropy(logits[:n_lm].reshape(-1, V), batch[:n_lm, 1:].reshape(-1))
        rl, rtgt = logits[n_lm:], batch[n_lm:, 1:]
        ans_loss = torch.nn.functional.cross_entropy(rl[amask], rtgt[amask])
        # filler of retrieval rows also carries (down-weighted) LM loss
        fill_loss = torch.nn.functional.cross_entropy(rl[~amask], rtgt[~amask])
        loss = lm_loss + args.answer_weight * ans_loss + 0.25 * fill_loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        run_lm = lm_loss.item() if run_lm is None else 0.95 * run_lm + 0.05 * lm_loss.item()
        run_ans = ans_loss.item() if run_ans is None else 0.95 * run_ans + 0.05 * ans_loss.item()
        if step % args.log_every == 0:
            log(f"step {step} ctx {ctx} rows {n_lm}+{n_ret} lr {lr:.2e} lm {run_lm:.3f} ans {run_ans:.3f} "
                f"({elapsed() / step:.2f}s/step)")
        last = elapsed() / budget >= 1.0 or (args.max_steps and step >= args.max_steps)
        if step % args.eval_every == 0 or last:
            model.eval()
            with torch.no_grad():
                hl = heldout_loss(fwd_eval, ho.stream, ctx_max, args.eval_windows)
                acc_ctx = retrieval_acc(fwd_eval, ho_eval_samples[ctx])
                acc_max = acc_ctx if ctx == ctx_max else retrieval_acc(fwd_eval, ho_eval_samples[ctx_max])
            csv.write(f"{step},{elapsed():.0f},{ctx},{run_lm:.4f},{run_ans:.4f},{hl:.4f},{acc_ctx:.3f},{acc_max:.3f}\n")
            csv.flush()
            log(f"EVAL step {step} ctx {ctx}: heldout {hl:.4f} (ppl {math.exp(hl):.1f}) "
                f"retr@{ctx} {acc_ctx:.2f} retr@{ctx_max} {acc_max:.2f}")
            ok = acc_max >= args.target_acc
            score = (1, -hl) if ok else (0, acc_max, -hl)
            ck = {"model": model.state_dict(), "cfg": cfg, "vocab": vocab, "merges": merges, "step": step,
                  "heldout_loss": hl, "retr_acc_max": acc_max, "args": vars(args)}
            torch.save(ck, f"{args.work}/last.pt")
            if best is None or score > best:
                if best is not None and best[0] == 1 and score[0] == 1:
                    bad_evals = 0
                best = score
                torch.save(ck, f"{args.work}/best.pt")
                log(f"  new best {score}")
            elif ok:
                bad_evals += 1
            if ok and bad_evals >= args.patience:
                log("early stop: held-out loss stopped improving")
                break
            # curriculum advance
            stage_frac_cap = args.stage_time * (stage + 1)
            if stage + 1 < len(curriculum) and (acc_ctx >= args.advance_acc or elapsed() / budget >= stage_frac_cap):
                stage += 1
                log(f"curriculum: ctx -> {curriculum[stage]}")
    csv.close()
    log(f"training done: {step} steps in {elapsed():.0f}s; best {best}")
    if args.export:
        ck = torch.load(f"{args.work}/best.pt", map_location="cpu", weights_only=False)
        export_from_ckpt(ck, args.export)


# ----------------------------------------------------------------------------- tuning trial
TRIAL_PARAMS = {  # name: (default, lowest, highest)
    "lr": (1e-3, 1e-6, 1.0),
    "batch_size": (16, 1, 4096),      # rows of --trial-context tokens per step
    "warmup": (0.0, 0.0, 1000.0),     # epochs of linear learning-rate warm-up
    "weight_decay": (0.1, 0.0, 10.0),  # AdamW, on matrices only
    "dropout": (0.1, 0.0, 0.9),
}


def trial_params(text):
    try:
        p = json.loads(text)
    except json.JSONDecodeError as e:
        sys.exit(f"--params is not JSON: {e}")
    if not isinstance(p, dict):
        sys.exit("--params must be a JSON object")
    unknown = sorted(set(p) - set(TRIAL_PARAMS))
    if unknown:
        sys.exit(f"--params: unknown hyper-parameter(s) {unknown}; known: {sorted(TRIAL_PARAMS)}")
    out = {}
    for k, (default, lo, hi) in TRIAL_PARAMS.items():
        v = float(p.get(k, default))
        if not lo <= v <= hi:
            sys.exit(f"--params: {k} = {v} is outside [{lo}, {hi}]")
        out[k] = v
    out["batch_size"] = int(out["batch_size"])
    return out


def trial(args):
    """One hyper-parameter tuning trial (the contract of `veil tune`, docs/TUNING.md).

    Language modelling only, at a fixed context (--trial-context), on the training 90% of the
    corpus; an epoch is len(train tokens) / (batch_size * context) steps on random windows, so
    every config sees the same number of tokens per epoch. Learning rate: linear warm-up over
    `warmup` epochs, then cosine to 10% at the last epoch. After each epoch: held-out loss
    over non-overlapping context windows of the held-out 10% (val_loss), then DIR/ckpt.pt is
    written atomically, then one JSON line is printed. Restarted on the same DIR, the trial
    resumes after its last checkpoint with the same data order and dropout RNG."""
    import torch
    hp = trial_params(args.params)
    torch.set_num_threads(args.threads)
    dev = pick_device(args.device)
    text = open(args.corpus, encoding="utf-8").read()
    if args.corpus_chars:
        text = text[:args.corpus_chars]
    tr_text, ho_text = split_corpus(text)
    tok = bpe_train.Tokenizer.load(args.tokenizer)
    tr, ho = Lines(tok, tr_text).stream, Lines(tok, ho_text).stream
    ctx, rows, epochs = args.trial_context, hp["batch_size"], args.epochs
    steps = max(1, len(tr) // (rows * ctx))
    cfg = {"vocab_size": len(tok.vocab), "n_positions": ctx, "n_embd": args.n_embd,
           "n_layer": args.n_layer, "n_head": args.n_head, "dropout": hp["dropout"]}
    torch.manual_seed(args.seed)
    model = build_model(cfg).to(dev)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    nodecay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": hp["weight_decay"]},
                             {"params": nodecay, "weight_decay": 0.0}], lr=hp["lr"], betas=(0.9, 0.95))
    rng = random.Random(args.seed)
    os.makedirs(args.checkpoint_dir, exist_ok=True)
    ck_path = os.path.join(args.checkpoint_dir, "ckpt.pt")
    start = 1
    if os.path.exists(ck_path):
        ck = torch.load(ck_path, map_location=dev, weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        rng.setstate(ck["py_rng"])
        torch.set_rng_state(ck["torch_rng"])
        if dev.type == "cuda" and ck.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(ck["cuda_rng"])
        start = ck["epoch"] + 1
        print(f"resuming after epoch {ck['epoch']} from {ck_path}", file=sys.stderr, flush=True)

    def fwd_eval(x):
        return model(x[None].to(dev))[0].float().cpu()

    for epoch in range(start, epochs + 1):
        t0 = time.time()
        model.train()
        tot = 0.0
        for i in range(steps):
            done = (epoch - 1) * steps + i
            warm = min(1.0, (done + 1) / (hp["warmup"] * steps)) if hp["warmup"] > 0 else 1.0
            cos = 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * done / (epochs * steps)))
            for g in opt.param_groups:
                g["lr"] = hp["lr"] * warm * cos
            batch = lm_rows(tr, rows, ctx, rng).to(dev)
            logits = model(batch[:, :-1])
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            tot += loss.item()
        model.eval()
        with torch.no_grad():
            vl = heldout_loss(fwd_eval, ho, ctx)  # every held-out window
        if not math.isfinite(vl):
            vl = 10.0  # diverged: a large finite loss keeps the curve usable
        tmp = ck_path + ".tmp"
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "py_rng": rng.getstate(),
                    "torch_rng": torch.get_rng_state(),
                    "cuda_rng": torch.cuda.get_rng_state() if dev.type == "cuda" else None,
                    "epoch": epoch, "params": hp}, tmp)
        os.replace(tmp, ck_path)
        print(json.dumps({"epoch": epoch, "val_loss": round(min(vl, 10.0), 5), "train_loss": round(tot / steps, 5),
                          "seconds": round(time.time() - t0, 3)}), flush=True)


def export_from_ckpt(ck, out_dir):
    m = build_model(ck["cfg"])
    m.load_state_dict(ck["model"])
    m.eval()
    tok = bpe_train.Tokenizer(ck["vocab"], ck["merges"])
    export_hf(m, tok, out_dir, {"trained_step": ck["step"]})
    # self-check: HF-layout forward reproduces the training module's logits
    import torch
    cfg, W, _ = load_hf(out_dir)
    x = torch.randint(0, cfg["vocab_size"], (min(64, cfg["n_positions"]),))
    with torch.no_grad():
        a = m(x[None])[0]
        b = hf_forward(W, cfg, x)
    diff = (a - b).abs().max().item()
    log(f"exported step {ck['step']} to {out_dir}; max |logit diff| module vs HF layout = {diff:.2e}")
    assert diff < 1e-3


def evaluate(args):
    import torch
    torch.set_num_threads(args.threads)
    cfg, W, tok = load_hf(args.eval)
    ctx = args.context or cfg["n_positions"]
    text = open(args.corpus, encoding="utf-8").read()
    if args.corpus_chars:
        text = text[:args.corpus_chars]
    _, ho_text = split_corpus(text)
    ho = Lines(tok, ho_text)
    dev = pick_device(args.device)
    W = {k: v.to(dev) for k, v in W.items()}
    fwd = lambda x: hf_forward(W, cfg, x.to(dev)).cpu()  # noqa: E731
    with torch.no_grad():
        hl = heldout_loss(fwd, ho.stream, cfg["n_positions"], args.eval_windows or None)
        samples = gen_samples(tok, ho, args.samples, args.seed, ctx)
        acc = retrieval_acc(fwd, samples)
    print(f"model: {args.eval}  (n_layer={cfg['n_layer']} n_head={cfg['n_head']} n_embd={cfg['n_embd']} "
          f"n_positions={cfg['n_positions']} vocab={cfg['vocab_size']})")
    print(f"held-out: {len(ho.stream)} tokens, windows of {cfg['n_positions']}: "
          f"loss {hl:.4f} nats/token, perplexity {math.exp(hl):.2f}")
    print(f"retrieval: {args.samples} fresh samples (seed {args.seed}, context {ctx}, held-out filler, "
          f"needle depth {EVAL_DEPTH}): exact-match accuracy {acc:.3f}")
    return hl, acc


def make_samples(args):
    cfg, _, tok = load_hf(args.model)
    ctx = args.context or cfg["n_positions"]
    text = open(args.corpus, encoding="utf-8").read()
    _, ho_text = split_corpus(text)
    ho = Lines(tok, ho_text)
    out = open(args.out, "w") if args.out else sys.stdout
    for i, s in enumerate(gen_samples(tok, ho, args.make_retrieval_samples, args.seed, ctx)):
        na = s["n_answer"]
        rec = {"id": i, "context": ctx, "seed": args.seed, "passkey": s["key"],
               "prompt": tok.decode(s["ids"][:-na]), "answer": ANSWER.format(key=s["key"]),
               "prompt_ids": s["ids"][:-na], "answer_ids": s["ids"][-na:],
               "needle_token_pos": s["needle_pos"]}
        out.write(json.dumps(rec) + "\n")
    if args.out:
        out.close()


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=os.path.join(root, "../shared/data/text/tinyshakespeare.txt"))
    ap.add_argument("--corpus-chars", type=int, default=0, help="use only the first N chars (smoke tests)")
    ap.add_argument("--work", default="/tmp/veil-train-gpt2", help="checkpoints + loss.csv")
    ap.add_argument("--export", default=None, help="export best checkpoint here as an HF folder")
    ap.add_argument("--export-from", default=None, help="checkpoint .pt to export (with --export)")
    ap.add_argument("--eval", default=None, help="HF folder to evaluate")
    ap.add_argument("--make-retrieval-samples", type=int, default=0, metavar="N")
    ap.add_argument("--model", default=None, help="HF folder (tokenizer) for --make-retrieval-samples")
    ap.add_argument("--out", default=None, help="JSONL output for --make-retrieval-samples (default stdout)")
    ap.add_argument("--context", type=int, default=0, help="retrieval context (default n_positions)")
    ap.add_argument("--samples", type=int, default=200, help="retrieval samples for --eval")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="auto", help="auto (cuda when available, else cpu), cpu, cuda")
    ap.add_argument("--tokenizer", default=None,
                    help="HF folder whose vocab.json/merges.txt to use instead of learning a BPE "
                         "(--trial default: models/tiny-gpt2)")
    ap.add_argument("--trial", action="store_true", help="run one tuning trial (see trial contract above)")
    ap.add_argument("--params", default="{}", help="--trial: hyper-parameters as a JSON object: "
                    + ", ".join(f"{k} (default {v[0]})" for k, v in TRIAL_PARAMS.items()))
    ap.add_argument("--checkpoint-dir", default=None, help="--trial: checkpoint directory (ckpt.pt)")
    ap.add_argument("--epochs", type=int, default=12, help="--trial: total epochs")
    ap.add_argument("--trial-context", type=int, default=256, help="--trial: tokens per training row")
    ap.add_argument("--vocab-size", type=int, default=2048)
    ap.add_argument("--n-layer", type=int, default=4)
    ap.add_argument("--n-head", type=int, default=4)
    ap.add_argument("--n-embd", type=int, default=128)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--curriculum", default="64,128,256,512", help="context lengths, last = n_positions")
    ap.add_argument("--tokens-per-step", type=int, default=4096)
    ap.add_argument("--retrieval-frac", type=float, default=0.5)
    ap.add_argument("--answer-weight", type=float, default=1.0)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--minutes", type=float, default=60.0, help="training time budget")
    ap.add_argument("--max-steps", type=int, default=0)
    ap.add_argument("--stage-time", type=float, default=0.15, help="max time share per non-final stage")
    ap.add_argument("--advance-acc", type=float, default=0.9)
    ap.add_argument("--target-acc", type=float, default=0.9)
    ap.add_argument("--patience", type=int, default=6)
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--eval-samples", type=int, default=40)
    ap.add_argument("--eval-windows", type=int, default=16, help="held-out windows per eval (0 = all)")
    ap.add_argument("--log-every", type=int, default=10)
    args = ap.parse_args()
    if args.trial:
        if not args.checkpoint_dir:
            ap.error("--trial needs --checkpoint-dir")
        args.tokenizer = args.tokenizer or os.path.join(root, "models/tiny-gpt2")
        trial(args)
    elif args.eval:
        evaluate(args)
    elif args.make_retrieval_samples:
        make_samples(args)
    elif args.export_from:
        import torch
        torch.set_num_threads(args.threads)
        export_from_ckpt(torch.load(args.export_from, map_location="cpu", weights_only=False), args.export)
    else:
        train(args)


if __name__ == "__main__":
    main()
