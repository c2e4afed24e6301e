#!/usr/bin/python3
"""Check an exported GPT-2 folder against the `transformers` library itself.

Loads DIR with transformers' GPT2LMHeadModel and GPT2Tokenizer (vocab.json + merges.txt) and
compares them with this repository's own readers (tools/train_gpt2.py's safetensors reader and
HF-layout forward, tools/bpe_train.py's tokenizer) on held-out text: token ids must be equal and
logits must agree to float32 rounding. Needs `pip install transformers` (Debian 12 does not
package it); prints a one-line verdict per check and exits 1 on a mismatch.

  check_with_transformers.py DIR [--corpus FILE] [--tokens N]
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_gpt2  # noqa: E402


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--corpus", default=os.path.join(here, "../../shared/data/text/tinyshakespeare.txt"))
    ap.add_argument("--tokens", type=int, default=0, help="logit check length (default n_positions)")
    a = ap.parse_args()
    import torch
    import transformers
    cfg, W, tok = train_gpt2.load_hf(a.model)
    _, held = train_gpt2.split_corpus(open(a.corpus, encoding="utf-8").read())
    hf_tok = transformers.GPT2Tokenizer(os.path.join(a.model, "vocab.json"), os.path.join(a.model, "merges.txt"))
    ours, theirs = tok.encode(held), hf_tok.encode(held)
    same_ids = ours == theirs
    print(f"tokenizer: {len(ours)} held-out tokens, ids {'identical' if same_ids else 'DIFFER'} "
          f"(transformers {transformers.__version__})")
    n = a.tokens or cfg["n_positions"]
    ids = torch.tensor(ours[:n])
    model = transformers.GPT2LMHeadModel.from_pretrained(a.model, attn_implementation="eager").eval()
    with torch.no_grad():
        ref = model(ids[None]).logits[0]
        got = train_gpt2.hf_forward(W, cfg, ids)
    diff = (ref - got).abs().max().item()
    scale = ref.abs().max().item()
    ok_logits = diff <= 1e-4 * max(1.0, scale)
    print(f"logits: {n} positions, max |transformers - ours| = {diff:.2e} (max |logit| {scale:.1f}) "
          f"{'ok' if ok_logits else 'MISMATCH'}")
    sys.exit(0 if same_ids and ok_logits else 1)


if __name__ == "__main__":
    main()
