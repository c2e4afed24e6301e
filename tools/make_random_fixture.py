#!/usr/bin/env python3
"""Writes the tiny random-weight fixtures the nn tests compare against tools/reference_logits.py.

  models/tiny-random-gpt2   GPT2LMHeadModel: 2 layers, 2 heads, n_embd 32, n_inner 96, vocab 300
                            (256 byte tokens, 43 BPE merges, <|endoftext|>), n_positions 64;
                            saved as save_pretrained does ("transformer." names, tied head)
  models/tiny-random-bert   BertForSequenceClassification: 2 layers, 2 heads, hidden 32,
                            intermediate 48, vocab 128, 64 positions, 2 labels ("bert." names);
                            vocab.txt: BERT's special tokens, punctuation, a..z, ##a..##z and
                            common lower-case words and suffixes (ids 0..127)

Weights are drawn from a seeded torch.Generator, so the output is the same on every run.
Usage: tools/make_random_fixture.py [--out models]
"""
import argparse
import json
import os
import re
from collections import Counter

import torch

from bpe_train import bytes_to_unicode  # GPT-2's byte-to-unicode table
from train_gpt2 import write_safetensors

# Text the toy BPE merges are learned from (any English text would do).
MERGE_TEXT = ("the quick brown fox jumps over the lazy dog and then the dog sleeps in the sun "
              "while the fox runs to the forest to find something to eat in the evening ") * 4


def toy_bpe(n_merges):
    """Byte tokens plus n_merges merges learned greedily on MERGE_TEXT; returns (vocab, merges)."""
    b2u = bytes_to_unicode()[0]
    vocab = [b2u[b] for b in range(256)]
    words = Counter(re.findall(r" ?[A-Za-z]+| ?[^\sA-Za-z]+|\s+", MERGE_TEXT))
    seqs = {w: [b2u[b] for b in w.encode()] for w in words}
    merges = []
    while len(merges) < n_merges:
        pairs = Counter()
        for w, s in seqs.items():
            for a, b in zip(s, s[1:]):
                pairs[(a, b)] += words[w]
        (a, b), _ = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))
        merges.append((a, b))
        vocab.append(a + b)
        for w, s in seqs.items():
            out, i = [], 0
            while i < len(s):
                if i + 1 < len(s) and (s[i], s[i + 1]) == (a, b):
                    out.append(a + b)
                    i += 2
                else:
                    out.append(s[i])
                    i += 1
            seqs[w] = out
    return vocab, merges


# The tiny BERT's WordPiece vocabulary, in id order: exactly vocab_size = 128 tokens.
BERT_VOCAB = (["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + list("!\"'(),-.:;?")
              + [chr(c) for c in range(ord("a"), ord("z") + 1)]
              + ["##" + chr(c) for c in range(ord("a"), ord("z") + 1)]
              + ("the an and or but is was are were be it this that you we they not no very so too of to in on "
                 "for with at movie film story plot acting good great bad love like fun boring best worst really "
                 "well just all un ##ed ##ing ##ly ##er ##able ##ful ##less time one do did have has").split())


class Draw:
    """Seeded random tensors: matrices ~ N(0, std²), norm weights ~ 1 + N(0, 0.1²)."""

    def __init__(self, seed):
        self.g = torch.Generator().manual_seed(seed)

    def normal(self, *shape, std=0.2):
        return torch.randn(*shape, generator=self.g) * std

    def norm(self, prefix, n, out, w="weight", b="bias"):
        out[f"{prefix}{w}"] = 1 + self.normal(n, std=0.1)
        out[f"{prefix}{b}"] = self.normal(n, std=0.1)


def make_gpt2(out_dir):
    n_layer, n_head, c, inner, n_pos = 2, 2, 32, 96, 64
    vocab, merges = toy_bpe(43)
    vocab.append("<|endoftext|>")
    v = len(vocab)
    d, w = Draw(1234), {}
    w["transformer.wte.weight"] = d.normal(v, c, std=0.5)
    w["transformer.wpe.weight"] = d.normal(n_pos, c, std=0.1)
    for i in range(n_layer):
        p = f"transformer.h.{i}."
        d.norm(p + "ln_1.", c, w)
        w[p + "attn.c_attn.weight"] = d.normal(c, 3 * c)
        w[p + "attn.c_attn.bias"] = d.normal(3 * c, std=0.1)
        w[p + "attn.c_proj.weight"] = d.normal(c, c)
        w[p + "attn.c_proj.bias"] = d.normal(c, std=0.1)
        d.norm(p + "ln_2.", c, w)
        w[p + "mlp.c_fc.weight"] = d.normal(c, inner)
        w[p + "mlp.c_fc.bias"] = d.normal(inner, std=0.1)
        w[p + "mlp.c_proj.weight"] = d.normal(inner, c)
        w[p + "mlp.c_proj.bias"] = d.normal(c, std=0.1)
    d.norm("transformer.ln_f.", c, w)
    config = {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": v,
              "n_positions": n_pos, "n_ctx": n_pos, "n_embd": c, "n_layer": n_layer, "n_head": n_head,
              "n_inner": inner, "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5,
              "scale_attn_weights": True, "bos_token_id": v - 1, "eos_token_id": v - 1}
    os.makedirs(out_dir, exist_ok=True)
    write_safetensors(f"{out_dir}/model.safetensors", w)
    with open(f"{out_dir}/config.json", "w") as f:
        json.dump(config, f, indent=2)
    with open(f"{out_dir}/vocab.json", "w") as f:
        json.dump({tok: i for i, tok in enumerate(vocab)}, f, ensure_ascii=False)
    with open(f"{out_dir}/merges.txt", "w") as f:
        f.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))


def make_bert(out_dir):
    n_layer, n_head, h, inner, v, n_pos = 2, 2, 32, 48, 128, 64
    assert len(BERT_VOCAB) == v and len(set(BERT_VOCAB)) == v
    d, w = Draw(5678), {}
    w["bert.embeddings.word_embeddings.weight"] = d.normal(v, h, std=0.5)
    w["bert.embeddings.position_embeddings.weight"] = d.normal(n_pos, h, std=0.1)
    w["bert.embeddings.token_type_embeddings.weight"] = d.normal(2, h, std=0.1)
    d.norm("bert.embeddings.LayerNorm.", h, w)
    for i in range(n_layer):
        p = f"bert.encoder.layer.{i}."
        for name in ("attention.self.query.", "attention.self.key.", "attention.self.value.",
                     "attention.output.dense."):
            w[p + name + "weight"] = d.normal(h, h)
            w[p + name + "bias"] = d.normal(h, std=0.1)
        d.norm(p + "attention.output.LayerNorm.", h, w)
        w[p + "intermediate.dense.weight"] = d.normal(inner, h)
        w[p + "intermediate.dense.bias"] = d.normal(inner, std=0.1)
        w[p + "output.dense.weight"] = d.normal(h, inner)
        w[p + "output.dense.bias"] = d.normal(h, std=0.1)
        d.norm(p + "output.LayerNorm.", h, w)
    w["bert.pooler.dense.weight"] = d.normal(h, h)
    w["bert.pooler.dense.bias"] = d.normal(h, std=0.1)
    w["classifier.weight"] = d.normal(2, h, std=0.5)
    w["classifier.bias"] = d.normal(2, std=0.1)
    config = {"architectures": ["BertForSequenceClassification"], "model_type": "bert", "vocab_size": v,
              "hidden_size": h, "num_hidden_layers": n_layer, "num_attention_heads": n_head,
              "intermediate_size": inner, "hidden_act": "gelu", "max_position_embeddings": n_pos,
              "type_vocab_size": 2, "layer_norm_eps": 1e-12, "id2label": {"0": "NEGATIVE", "1": "POSITIVE"},
              "label2id": {"NEGATIVE": 0, "POSITIVE": 1}}
    os.makedirs(out_dir, exist_ok=True)
    write_safetensors(f"{out_dir}/model.safetensors", w)
    with open(f"{out_dir}/config.json", "w") as f:
        json.dump(config, f, indent=2)
    with open(f"{out_dir}/vocab.txt", "w") as f:
        f.write("".join(t + "\n" for t in BERT_VOCAB))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models"),
                    help="folder that receives tiny-random-gpt2/ and tiny-random-bert/")
    args = ap.parse_args()
    make_gpt2(os.path.join(args.out, "tiny-random-gpt2"))
    make_bert(os.path.join(args.out, "tiny-random-bert"))


if __name__ == "__main__":
    main()
