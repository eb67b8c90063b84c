# The BFPO training step of bench/train.ts written directly in PyTorch: a plain Llama (embedding, RMSNorm, rotary,
# grouped-query attention with a causal mask, SwiGLU MLP, lm_head), one concatenated forward of chosen and rejected,
# summed completion log-probs, the BFPO loss, backward and AdamW; timed the same way (median after warm-up).
# Usage: python3 bench/torch_train.py JOB_JSON  -> prints one JSON object {torch, threads, peakGflops, steps}.
import copy, json, math, sys
import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_timing import median_time

job = json.loads(sys.argv[1])
torch.set_num_threads(job["threads"])
torch.manual_seed(0)
cfg = job["config"]
H, I, L = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
NH, NKV, V = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["vocab_size"]
HD = H // NH
EPS, THETA = 1e-5, 10000.0


class RMSNorm(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS))


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2 :]
    return torch.cat((-x2, x1), dim=-1)


class Layer(nn.Module):
    def __init__(self):
        super().__init__()
        self.q_proj = nn.Linear(H, NH * HD, bias=False)
        self.k_proj = nn.Linear(H, NKV * HD, bias=False)
        self.v_proj = nn.Linear(H, NKV * HD, bias=False)
        self.o_proj = nn.Linear(NH * HD, H, bias=False)
        self.gate_proj = nn.Linear(H, I, bias=False)
        self.up_proj = nn.Linear(H, I, bias=False)
        self.down_proj = nn.Linear(I, H, bias=False)
        self.input_layernorm = RMSNorm(H)
        self.post_attention_layernorm = RMSNorm(H)

    def attention(self, x, cos, sin, mask):
        b, s, _ = x.shape
        q = self.q_proj(x).view(b, s, NH, HD).transpose(1, 2)  # [b, nh, s, hd]
        k = self.k_proj(x).view(b, s, NKV, HD).transpose(1, 2)  # [b, nkv, s, hd]
        v = self.v_proj(x).view(b, s, NKV, HD).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = NH // NKV
        k = k[:, :, None].expand(b, NKV, rep, s, HD).reshape(b, NH, s, HD)
        v = v[:, :, None].expand(b, NKV, rep, s, HD).reshape(b, NH, s, HD)
        scores = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(HD) + mask  # [b, nh, s, s]
        probs = F.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)
        out = torch.matmul(probs, v).transpose(1, 2).reshape(b, s, NH * HD)
        return self.o_proj(out)

    def forward(self, x, cos, sin, mask):
        h = x + self.attention(self.input_layernorm(x), cos, sin, mask)
        y = self.post_attention_layernorm(h)
        return h + self.down_proj(F.silu(self.gate_proj(y)) * self.up_proj(y))


class Llama(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed_tokens = nn.Embedding(V, H)
        self.layers = nn.ModuleList([Layer() for _ in range(L)])
        self.norm = RMSNorm(H)
        self.lm_head = nn.Linear(H, V, bias=False)
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)
        self.register_buffer("inv_freq", 1.0 / THETA ** (torch.arange(0, HD, 2).float() / HD), persistent=False)

    def forward(self, ids, attention_mask):
        b, s = ids.shape
        pos = (attention_mask.long().cumsum(-1) - 1).masked_fill(attention_mask == 0, 1)  # [b, s]
        freqs = pos[:, :, None].float() * self.inv_freq[None, None, :]  # [b, s, hd/2]
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos()[:, None], emb.sin()[:, None]  # [b, 1, s, hd]
        causal = torch.ones(s, s, dtype=torch.bool).triu(1)[None, None]  # [1, 1, s, s]
        blocked = causal | (attention_mask == 0)[:, None, None, :]
        mask = torch.zeros(blocked.shape).masked_fill(blocked, torch.finfo(torch.float32).min)
        x = self.embed_tokens(ids)
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        return self.lm_head(self.norm(x))


def sequence_logps(logits, labels):
    logits, labels = logits[:, :-1], labels[:, 1:]
    mask = labels != -100
    per_token = torch.gather(logits.log_softmax(-1), 2, labels.masked_fill(~mask, 0).unsqueeze(2)).squeeze(2)
    return (per_token * mask).sum(-1)


def bfpo_loss(pc, pr, rc, rr, safe_c, safe_r, beta, b1, alpha):
    h = (pc - rc) - (pr - rr)
    b3 = 1 / (b1 - 1)
    target = (safe_c * b1 * b3 - safe_r * b3 - alpha) / beta
    return (h - target).square()




def make_step(variant):
    torch.manual_seed(0)
    reference, selection = variant.split("-")
    model = Llama().train()
    ref_model = None
    if reference == "copy":
        ref_model = copy.deepcopy(model).eval()
        for p in ref_model.parameters():
            p.requires_grad_(False)
    if selection == "selective":
        for n, p in model.named_parameters():
            p.requires_grad_("down_proj" in n)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    B, S, P = job["pairs"], job["seq"], job["prompt"]
    ids = torch.randint(0, V, (2 * B, S))
    labels = ids.clone()
    labels[:, :P] = -100
    attention_mask = torch.ones(2 * B, S, dtype=torch.long)
    safe_c, safe_r = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 0.0])
    cached = (torch.randn(B) - 300, torch.randn(B) - 300)
    lo = job["loss"]

    def step():
        logits = model(ids, attention_mask)  # [2B, S, V]
        logps = sequence_logps(logits, labels)
        if ref_model is None:
            rc, rr = cached
        else:
            with torch.no_grad():
                ref = sequence_logps(ref_model(ids, attention_mask), labels)
            rc, rr = ref[:B], ref[B:]
        pc, pr = logps[:B], logps[B:]
        losses = bfpo_loss(pc, pr, rc, rr, safe_c, safe_r, lo["beta"], lo["b1"], lo["alpha"])
        loss = losses.mean()
        with torch.no_grad():  # the metrics the trainer logs
            chosen_rewards, rejected_rewards = lo["beta"] * (pc - rc), lo["beta"] * (pr - rr)
            _ = [chosen_rewards.mean().item(), rejected_rewards.mean().item(),
                 (chosen_rewards > rejected_rewards).float().mean().item(), (chosen_rewards - rejected_rewards).mean().item(),
                 pc.mean().item(), pr.mean().item(), logits[:B].mean().item(), logits[B:].mean().item()]
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    return step


def peak_gflops(n=2048, reps=4):
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = min(median_time(lambda: torch.mm(a, b), 0, 1) for _ in range(reps))
    return 2 * n ** 3 / best / 1e9


out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "peakGflops": peak_gflops(), "steps": {}}
for variant in job["variants"]:
    out["steps"][variant] = median_time(make_step(variant), job["warmup"], job["reps"])
print(json.dumps(out))
