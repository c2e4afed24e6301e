#!/usr/bin/python3
"""A small, real, cheap training workload for `veil tune`: a character-level MLP language
model (Bengio et al. 2003 style) on a slice of tinyshakespeare.

Trial contract (see docs/TUNING.md):
  tune_trial_mlp.py --params '<json>' --checkpoint-dir DIR --epochs N [--data FILE]
  prints one JSON line per epoch: {"epoch": e, "val_loss": x, "train_loss": y, "seconds": s}
  writes DIR/ckpt.pt (atomically) *before* printing the epoch's line, and when restarted
  with the same DIR resumes after the last checkpointed epoch (same result as an
  uninterrupted run: the data order and dropout RNG are restored too).

Hyper-parameters (all optional): lr, batch_size, weight_decay, dropout, warmup (epochs of
linear learning-rate warm-up), hidden (width of the hidden layer).
Runs on one thread; an epoch is a fixed number of training characters, so every config
costs the same per epoch whatever its batch size.
"""
import argparse
import json
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import torch  # noqa: E402

CONTEXT = 8
EMBED = 16
SAMPLES_PER_EPOCH = 65536
TRAIN_CHARS = 300_000
VAL_CHARS = 20_000


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--params", required=True, help="hyper-parameters as a JSON object")
    ap.add_argument("--checkpoint-dir", required=True, help="directory for ckpt.pt (created)")
    ap.add_argument("--epochs", type=int, required=True, help="total number of epochs")
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--data", default=os.path.join(here, "..", "..", "shared", "data", "text", "tinyshakespeare.txt"))
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    p = json.loads(a.params)
    lr = float(p.get("lr", 3e-3))
    bs = int(p.get("batch_size", 64))
    wd = float(p.get("weight_decay", 0.0))
    dropout = float(p.get("dropout", 0.0))
    warmup = float(p.get("warmup", 0))
    hidden = int(p.get("hidden", 128))
    torch.set_num_threads(1)

    text = open(a.data, encoding="utf-8").read()[: TRAIN_CHARS + VAL_CHARS]
    vocab = sorted(set(text))
    idx = torch.tensor([vocab.index(c) for c in text], dtype=torch.long)
    train, val = idx[:TRAIN_CHARS], idx[TRAIN_CHARS:]

    def windows(seq):
        x = seq.unfold(0, CONTEXT + 1, 1)
        return x[:, :CONTEXT], x[:, CONTEXT]

    xtr, ytr = windows(train)
    xva, yva = windows(val)

    torch.manual_seed(a.seed)
    model = torch.nn.Sequential(
        torch.nn.Embedding(len(vocab), EMBED), torch.nn.Flatten(),
        torch.nn.Linear(CONTEXT * EMBED, hidden), torch.nn.Tanh(), torch.nn.Dropout(dropout),
        torch.nn.Linear(hidden, len(vocab)))
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=wd)
    gen = torch.Generator().manual_seed(a.seed)
    os.makedirs(a.checkpoint_dir, exist_ok=True)
    ck = os.path.join(a.checkpoint_dir, "ckpt.pt")
    start = 1
    if os.path.exists(ck):
        s = torch.load(ck)
        model.load_state_dict(s["model"])
        opt.load_state_dict(s["opt"])
        gen.set_state(s["gen"])
        torch.set_rng_state(s["rng"])
        start = s["epoch"] + 1
    steps = SAMPLES_PER_EPOCH // bs
    for epoch in range(start, a.epochs + 1):
        t0 = time.time()
        model.train()
        tot = 0.0
        for i in range(steps):
            frac = (epoch - 1) + i / steps
            for g in opt.param_groups:
                g["lr"] = lr * min(1.0, (frac + 1e-9) / warmup) if warmup > 0 else lr
            b = torch.randint(0, len(xtr), (bs,), generator=gen)
            loss = torch.nn.functional.cross_entropy(model(xtr[b]), ytr[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot += loss.item()
        model.eval()
        with torch.no_grad():
            vl = torch.nn.functional.cross_entropy(model(xva), yva).item()
        if vl != vl:  # diverged: report a large finite loss so the curve stays usable
            vl = 10.0
        tmp = ck + ".tmp"
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "gen": gen.get_state(),
                    "rng": torch.get_rng_state(), "epoch": epoch}, tmp)
        os.replace(tmp, ck)
        print(json.dumps({"epoch": epoch, "val_loss": round(min(vl, 10.0), 5),
                          "train_loss": round(tot / steps, 5), "seconds": round(time.time() - t0, 3)}),
              flush=True)


if __name__ == "__main__":
    sys.exit(main())
