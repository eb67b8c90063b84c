# The GPU BFPO step of bench/train-cuda.ts written directly in PyTorch eager: a Llama (embedding, RMSNorm, rotary,
# grouped-query attention through F.scaled_dot_product_attention with a boolean mask, SwiGLU MLP, lm_head on the
# label positions only) in bfloat16, optionally with LoRA adapters on a frozen base; one concatenated forward of chosen
# and rejected, summed completion log-probs in float32, the BFPO loss against cached reference log-probs, backward,
# fp32 master weights, gradient clipping and AdamW (fused where PyTorch has it); timed the same way (median after
# warm-up, the device synchronised every step).
# Usage: python3 bench/torch_train_cuda.py JOB_JSON -> one JSON line {torch, device, peakTflops, secondsPerStep, ...}.
# It also runs on "cpu" (without the fused paths) so the script itself can be checked on a machine without a GPU.
import json
import math
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_timing import median_time

job = json.loads(sys.argv[1])
device = torch.device(job["device"])
on_cuda = device.type == "cuda"
cfg = job["config"]
H, I, L = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
NH, NKV, V = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["vocab_size"]
HD = H // NH
EPS, THETA = 1e-5, 10000.0
R, ALPHA = 16, 32
DT = torch.bfloat16


def sync():
    if on_cuda:
        torch.cuda.synchronize(device)


class LoraLinear(nn.Module):
    """A frozen base weight plus a trainable low-rank update scaled by alpha / r (B starts at zero, as PEFT)."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_out, n_in, device=device, dtype=DT).normal_(std=0.02), requires_grad=False)
        self.lora_A = nn.Parameter(torch.empty(R, n_in, device=device, dtype=DT).normal_(std=1 / math.sqrt(n_in)))
        self.lora_B = nn.Parameter(torch.zeros(n_out, R, device=device, dtype=DT))

    def forward(self, x):
        return F.linear(x, self.weight) + F.linear(F.linear(x, self.lora_A), self.lora_B) * (ALPHA / R)


def linear(n_in, n_out, name):
    if job["lora"] and name in job["loraTargets"]:
        return LoraLinear(n_in, n_out)
    lin = nn.Linear(n_in, n_out, bias=False, device=device, dtype=DT)
    nn.init.normal_(lin.weight, std=0.02)
    if job["lora"]:
        lin.weight.requires_grad_(False)
    return lin


class RMSNorm(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n, device=device, dtype=DT), requires_grad=not job["lora"])

    def forward(self, x):
        xf = x.float()
        return self.weight * (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + EPS)).to(x.dtype)


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2 :]
    return torch.cat((-x2, x1), dim=-1)


def attention(q, k, v, allowed):
    if hasattr(F, "scaled_dot_product_attention"):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
    scores = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(HD)
    scores = scores.masked_fill(~allowed, torch.finfo(scores.dtype).min)
    return torch.matmul(F.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype), v)


class Layer(nn.Module):
    def __init__(self):
        super().__init__()
        self.q_proj = linear(H, NH * HD, "q_proj")
        self.k_proj = linear(H, NKV * HD, "k_proj")
        self.v_proj = linear(H, NKV * HD, "v_proj")
        self.o_proj = linear(NH * HD, H, "o_proj")
        self.gate_proj = linear(H, I, "gate_proj")
        self.up_proj = linear(H, I, "up_proj")
        self.down_proj = linear(I, H, "down_proj")
        self.input_layernorm = RMSNorm(H)
        self.post_attention_layernorm = RMSNorm(H)

    def forward(self, x, cos, sin, allowed):
        b, s, _ = x.shape
        y = self.input_layernorm(x)
        q = self.q_proj(y).view(b, s, NH, HD).transpose(1, 2)  # [b, nh, s, hd]
        k = self.k_proj(y).view(b, s, NKV, HD).transpose(1, 2)  # [b, nkv, s, hd]
        v = self.v_proj(y).view(b, s, NKV, HD).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = NH // NKV
        k = k[:, :, None].expand(b, NKV, rep, s, HD).reshape(b, NH, s, HD)
        v = v[:, :, None].expand(b, NKV, rep, s, HD).reshape(b, NH, s, HD)
        out = attention(q, k, v, allowed).transpose(1, 2).reshape(b, s, NH * HD)
        h = x + self.o_proj(out)
        z = self.post_attention_layernorm(h)
        return h + self.down_proj(F.silu(self.gate_proj(z)) * self.up_proj(z))


class Llama(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed_tokens = nn.Embedding(V, H, device=device, dtype=DT)
        nn.init.normal_(self.embed_tokens.weight, std=0.02)
        self.embed_tokens.weight.requires_grad_(not job["lora"])
        self.layers = nn.ModuleList([Layer() for _ in range(L)])
        self.norm = RMSNorm(H)
        self.lm_head = linear(H, V, "lm_head")
        self.inv_freq = 1.0 / THETA ** (torch.arange(0, HD, 2, device=device).float() / HD)

    def forward(self, ids, attention_mask, rows):
        b, s = ids.shape
        pos = (attention_mask.long().cumsum(-1) - 1).masked_fill(attention_mask == 0, 1)  # [b, s]
        freqs = pos[:, :, None].float() * self.inv_freq[None, None, :]  # [b, s, hd/2]
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos()[:, None].to(DT), emb.sin()[:, None].to(DT)  # [b, 1, s, hd]
        causal = torch.ones(s, s, dtype=torch.bool, device=device).tril()[None, None]  # [1, 1, s, s] True = may attend
        allowed = causal & (attention_mask != 0)[:, None, None, :]
        x = self.embed_tokens(ids)
        for layer in self.layers:
            x = layer(x, cos, sin, allowed)
        normed = self.norm(x).reshape(b * s, H)
        return self.lm_head(normed.index_select(0, rows))  # [n, V] at the label positions only


def bfpo_loss(h, safe_c, safe_r, lo):
    b3 = 1 / (lo["b1"] - 1)
    target = (safe_c * lo["b1"] * b3 - safe_r * b3 - lo["alpha"]) / lo["beta"]
    return (h - target).square()


def matmul_peak_tflops(n=8192, reps=5):
    if not on_cuda:
        return 0.0
    a = torch.randn(n, n, device=device, dtype=DT)
    b = torch.randn(n, n, device=device, dtype=DT)
    best = math.inf

    def once():
        a @ b
        sync()

    once()
    for _ in range(reps):
        best = min(best, median_time(once, 0, 1))
    return 2 * n**3 / best / 1e12


def main():
    torch.manual_seed(0)
    peak = matmul_peak_tflops()
    model = Llama().train()
    params = [p for p in model.parameters() if p.requires_grad]
    masters = [p.detach().float().requires_grad_(True) for p in params]
    try:
        opt = torch.optim.AdamW(masters, lr=1e-5, weight_decay=0.0, fused=on_cuda)
        fused = on_cuda
    except (TypeError, RuntimeError):
        opt = torch.optim.AdamW(masters, lr=1e-5, weight_decay=0.0)
        fused = False
    B, S = job["pairs"], job["seq"]
    P = S // 4
    ids = torch.randint(0, V, (2 * B, S), device=device)
    labels = ids.clone()
    labels[:, :P] = -100
    mask = torch.ones(2 * B, S, dtype=torch.long, device=device)
    # Position t predicts token t+1: the rows scored are the positions whose next label is a completion token.
    nxt = torch.cat([labels[:, 1:], torch.full((2 * B, 1), -100, device=device)], 1)
    rows = (nxt.reshape(-1) != -100).nonzero().squeeze(1)
    targets = nxt.reshape(-1).index_select(0, rows)
    row_of = rows // S
    safe_c = torch.tensor([i % 2 for i in range(B)], dtype=torch.float32, device=device)
    safe_r = torch.zeros(B, device=device)
    ref_c, ref_r = torch.randn(B, device=device) - 3 * S, torch.randn(B, device=device) - 3 * S
    lo = job["loss"]

    def step():
        logits = model(ids, mask, rows)  # [n, V] bfloat16
        token_logps = torch.gather(logits.float().log_softmax(-1), 1, targets[:, None]).squeeze(1)  # [n]
        logps = torch.zeros(2 * B, device=device).index_add(0, row_of, token_logps)  # [2B]
        h = (logps[:B] - ref_c) - (logps[B:] - ref_r)
        bfpo_loss(h, safe_c, safe_r, lo).mean().backward()
        for m, p in zip(masters, params):
            m.grad = p.grad.float()
            p.grad = None
        torch.nn.utils.clip_grad_norm_(masters, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        with torch.no_grad():
            for m, p in zip(masters, params):
                p.copy_(m)
        sync()

    seconds = median_time(step, job["warmup"], job["reps"])
    used = reserved = 0
    if on_cuda:
        free, total = torch.cuda.mem_get_info(device)
        used, reserved = total - free, torch.cuda.max_memory_reserved(device)
    name = torch.cuda.get_device_name(device) if on_cuda else "cpu"
    print(json.dumps({"torch": torch.__version__, "device": name, "peakTflops": peak, "secondsPerStep": seconds,
                      "memoryUsedBytes": used, "maxReservedBytes": reserved, "fusedAdamW": fused}))


main()
