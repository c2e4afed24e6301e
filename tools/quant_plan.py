"""veil precision plans ("veil-precision-plan/1"): load, validate, resolve; fake quantization.

A precision plan says, per op type, on which ring (FM32 = Z_2^32, FM64 = Z_2^64) and with how
many fraction bits veil's MPC backend computes it; after calibration (tools/distill.py) it also
holds per-tensor weight scales and the calibration records. The format is documented field by
field in docs/DITTO.md; data/plans/fp64.json and data/plans/ditto.json are the two built-in plans.

This module has no torch dependency at import time (plans can be validated without torch); the
fake-quantization helpers import torch lazily.
"""
import copy
import json
import math
import os

FORMAT = "veil-precision-plan/1"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLAN_DIR = os.path.join(ROOT, "data", "plans")
BUILTIN = ("fp64", "ditto")

RING_BITS = {"FM32": 32, "FM64": 64}
# A value v held in a ring of k bits is usable by truncation (trunc_a) and by the 32 -> 64 up-cast
# only while |v| < 2^(k-2) (docs/PROTOCOLS.md: trunc_a is exact +-1 ulp for x in [-2^(k-2), 2^(k-2))).
USABLE_BITS = {r: b - 2 for r, b in RING_BITS.items()}

# op type -> what it covers (see docs/DITTO.md)
OPS = {
    "embedding": "token (one-hot x table) and position embedding lookups; output frac bits",
    "residual": "the residual stream: embedding sum and the two residual adds of every block",
    "linear": "QKV, attention output, MLP up/down projections (x.W at f+fb, shift by fb, + bias at f)",
    "lm_head": "the output head (GPT-2 tied LM head, BERT classifier)",
    "attention": "q.k^T scores (scaled by 1/sqrt(head_dim)) and probs.v",
    "softmax": "row softmax of the attention scores (input and output)",
    "layernorm": "every LayerNorm (input cast, gamma/beta, output)",
    "gelu": "the MLP activation; field approx = puma | quad | exact",
    "tanh": "BERT pooler activation",
}
REQUIRED_OPS = ("embedding", "linear", "lm_head", "attention", "softmax", "layernorm", "gelu")
LAYER_OPS = ("residual", "linear", "attention", "softmax", "layernorm", "gelu")
GELU_APPROX = ("exact", "puma", "quad")
SPEC_KEYS = {"ring", "frac_bits", "approx", "note"}
TOP_KEYS = {"format", "name", "description", "ops", "layers", "weight_bits", "scales", "calibration",
            "model"}
SCALE_KEYS = {"frac_bits", "ring", "op", "role", "max_abs", "bits"}
WEIGHT_OPS = ("embedding", "linear", "lm_head")  # ops whose FM32 weights get calibrated scales


class PlanError(ValueError):
    pass


def _int(v, what, lo, hi):
    if isinstance(v, bool) or not isinstance(v, int):
        raise PlanError(f"{what}: {v!r} is not an integer")
    if not lo <= v <= hi:
        raise PlanError(f"{what}: {v} is out of range [{lo}, {hi}]")
    return v


def _spec(spec, where, op, partial):
    if not isinstance(spec, dict):
        raise PlanError(f"{where}: must be an object like {{\"ring\": \"FM64\", \"frac_bits\": 18}}")
    bad = sorted(set(spec) - SPEC_KEYS)
    if bad:
        raise PlanError(f"{where}: unknown field(s) {bad}; allowed: {sorted(SPEC_KEYS)}")
    if "ring" in spec:
        if spec["ring"] not in RING_BITS:
            raise PlanError(f"{where}.ring: {spec['ring']!r} is not a ring (use one of {sorted(RING_BITS)})")
    elif not partial:
        raise PlanError(f"{where}: missing \"ring\"")
    if "frac_bits" in spec:
        ring = spec.get("ring")
        hi = USABLE_BITS[ring] if ring else 62
        _int(spec["frac_bits"], f"{where}.frac_bits", 0, hi)
    elif not partial:
        raise PlanError(f"{where}: missing \"frac_bits\"")
    if "approx" in spec:
        if op != "gelu":
            raise PlanError(f"{where}.approx: only the gelu op has an approximation")
        if spec["approx"] not in GELU_APPROX:
            raise PlanError(f"{where}.approx: {spec['approx']!r} is not one of {list(GELU_APPROX)}")
    elif op == "gelu" and not partial:
        raise PlanError(f"{where}: gelu needs \"approx\" (one of {list(GELU_APPROX)})")


def validate(plan, source="plan", n_layer=None):
    """Raise PlanError with a clear message on anything malformed; return the plan."""
    if not isinstance(plan, dict):
        raise PlanError(f"{source}: a plan is a JSON object")
    if plan.get("format") != FORMAT:
        raise PlanError(f"{source}: \"format\" must be \"{FORMAT}\" (got {plan.get('format')!r})")
    bad = sorted(set(plan) - TOP_KEYS)
    if bad:
        raise PlanError(f"{source}: unknown top-level field(s) {bad}; allowed: {sorted(TOP_KEYS)}")
    ops = plan.get("ops")
    if not isinstance(ops, dict):
        raise PlanError(f"{source}: missing \"ops\" object")
    for op in ops:
        if op not in OPS:
            raise PlanError(f"{source}: ops.{op}: unknown op type (known: {', '.join(OPS)})")
    for op in REQUIRED_OPS:
        if op not in ops:
            raise PlanError(f"{source}: ops.{op} is missing (required: {', '.join(REQUIRED_OPS)})")
    for op, spec in ops.items():
        _spec(spec, f"{source}: ops.{op}", op, partial=False)
    if "weight_bits" in plan:
        _int(plan["weight_bits"], f"{source}: weight_bits", 2, 24)
    layers = plan.get("layers", {})
    if not isinstance(layers, dict):
        raise PlanError(f"{source}: \"layers\" must be an object {{\"<layer index>\": {{op: spec}}}}")
    for key, over in layers.items():
        if not (isinstance(key, str) and key.isdigit() and str(int(key)) == key):
            raise PlanError(f"{source}: layers.{key}: a layer key is a decimal index like \"0\"")
        if n_layer is not None and int(key) >= n_layer:
            raise PlanError(f"{source}: layers.{key}: the model has only {n_layer} layers (0..{n_layer - 1})")
        if not isinstance(over, dict):
            raise PlanError(f"{source}: layers.{key} must be an object {{op: spec}}")
        for op, spec in over.items():
            if op not in OPS:
                raise PlanError(f"{source}: layers.{key}.{op}: unknown op type (known: {', '.join(OPS)})")
            if op not in LAYER_OPS:
                raise PlanError(f"{source}: layers.{key}.{op}: not a per-layer op (per-layer: {', '.join(LAYER_OPS)})")
            _spec(spec, f"{source}: layers.{key}.{op}", op, partial=True)
            merged = dict(ops.get(op, {}), **spec)
            _spec(merged, f"{source}: layers.{key}.{op} (merged with ops.{op})", op, partial=False)
    scales = plan.get("scales", {})
    if not isinstance(scales, dict):
        raise PlanError(f"{source}: \"scales\" must be an object {{tensor name: {{\"frac_bits\": n}}}}")
    for name, s in scales.items():
        if not isinstance(s, dict) or "frac_bits" not in s:
            raise PlanError(f"{source}: scales.{name}: must be an object with \"frac_bits\"")
        bad = sorted(set(s) - SCALE_KEYS)
        if bad:
            raise PlanError(f"{source}: scales.{name}: unknown field(s) {bad}; allowed: {sorted(SCALE_KEYS)}")
        ring = s.get("ring", "FM64")
        if ring not in RING_BITS:
            raise PlanError(f"{source}: scales.{name}.ring: {ring!r} is not a ring (use one of {sorted(RING_BITS)})")
        _int(s["frac_bits"], f"{source}: scales.{name}.frac_bits", 0, USABLE_BITS[ring])
    if "calibration" in plan and not isinstance(plan["calibration"], dict):
        raise PlanError(f"{source}: \"calibration\" must be an object")
    return plan


def load(arg, n_layer=None):
    """arg: a built-in name (fp64, ditto) or a JSON file path. Returns a validated plan dict."""
    path = os.path.join(PLAN_DIR, arg + ".json") if arg in BUILTIN else arg
    if not os.path.exists(path):
        raise PlanError(f"plan {arg!r}: no such built-in plan ({', '.join(BUILTIN)}) or file")
    try:
        with open(path, encoding="utf-8") as f:
            plan = json.load(f)
    except json.JSONDecodeError as e:
        raise PlanError(f"{path}: not valid JSON: {e}") from None
    return validate(plan, path, n_layer)


def with_gelu(plan, approx):
    """Copy of the plan whose gelu (global and every layer override) uses `approx`."""
    if approx not in GELU_APPROX:
        raise PlanError(f"--gelu: {approx!r} is not one of {list(GELU_APPROX)}")
    p = copy.deepcopy(plan)
    p["ops"]["gelu"]["approx"] = approx
    for over in p.get("layers", {}).values():
        if "gelu" in over:
            over["gelu"]["approx"] = approx
    return p


class Resolved:
    """Fast (op, layer) -> spec lookup for a validated plan."""

    def __init__(self, plan):
        self.plan = plan
        ops = plan["ops"]
        self.glob = {op: dict(ops[op]) for op in ops}
        lin = self.glob["linear"]
        self.glob.setdefault("residual", {"ring": lin["ring"], "frac_bits": lin["frac_bits"]})
        self.glob.setdefault("tanh", {"ring": "FM64", "frac_bits": 18})
        self.layer = {}
        for key, over in plan.get("layers", {}).items():
            self.layer[int(key)] = {op: dict(self.glob[op], **spec) for op, spec in over.items()}
        self.weight_bits = plan.get("weight_bits", 16)
        self.scales = {k: v["frac_bits"] for k, v in plan.get("scales", {}).items()}

    def spec(self, op, layer=None):
        if layer is not None:
            s = self.layer.get(layer, {}).get(op)
            if s is not None:
                return s
        return self.glob[op]


# ----------------------------------------------------------------------------- numerics
_STE = None


def _ste():
    """torch.autograd.Function: forward rounds (and clamps), backward is the identity."""
    global _STE
    if _STE is None:
        import torch

        class RoundSTE(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x, s, lim):
                y = x.mul(s).round_()
                if lim is not None:
                    y.clamp_(-lim, lim - 1)
                return y.mul_(1.0 / s)

            @staticmethod
            def backward(ctx, g):
                return g, None, None
        _STE = RoundSTE
    return _STE


def fake_quant(x, ring, f, clamp_bits=None):
    """Round to the grid 2^-f and clamp to the ring's signed range (or to clamp_bits signed bits);
    straight-through estimator: the backward pass sees the identity. FM64 values are not clamped
    (2^63 / 2^f is far beyond anything a float32 network holds)."""
    s = float(2.0 ** f)
    b = clamp_bits if clamp_bits is not None else (RING_BITS[ring] if ring == "FM32" else None)
    lim = float(2.0 ** (b - 1)) if b is not None else None
    return _ste().apply(x, s, lim)


def gelu_exact_tanh(x):
    import torch
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def gelu_exact_erf(x):
    import torch
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def gelu_puma(x):
    """PUMA's piecewise GeLU (arXiv:2307.12533) as veil's fxp::f_gelu computes it: the sextic
    piece ends at 2.8 instead of 3 (src/veil/fxp/gelu.h)."""
    import torch
    x2 = x * x
    x3 = x2 * x
    x4 = x2 * x2
    x6 = x3 * x3
    p3 = -0.011034 * x3 - 0.118076 * x2 - 0.422266 * x - 0.505403
    p6 = 0.0018067 * x6 - 0.0376882 * x4 + 0.3603293 * x2 + 0.5 * x + 0.0085263
    zero = torch.zeros_like(x)
    return torch.where(x < -4, zero, torch.where(x < -1.95, p3, torch.where(x <= 2.8, p6, x)))


def gelu_quad(x):
    """MPCFormer's Quad: 0.125 x^2 + 0.25 x + 0.5 (not an approximation of GeLU: the network is
    distilled to it)."""
    return 0.125 * x * x + 0.25 * x + 0.5


def frac_bits_below(value, limit_bits):
    """Largest integer fb with value * 2^fb < 2^limit_bits (value > 0)."""
    if value <= 0:
        return 10 ** 6
    return math.ceil(limit_bits - math.log2(value)) - 1


def bits_needed(value, scale_bits):
    """log2 of |value| * 2^scale_bits, i.e. the magnitude bits of the integer (-inf for 0)."""
    if value <= 0:
        return float("-inf")
    return math.log2(value) + scale_bits
