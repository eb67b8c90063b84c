# The original system's training setup written in plain PyTorch, for the realistic benchmark (bench/train-realistic.ts):
# one epoch over the given tokenized pairs in random batches (seeded), each batch's 2B rows (chosen then rejected)
# padded to its longest row, an HF-style eager Llama (additive float mask, repeat_kv copies, rotary cat, float32
# softmax), a frozen deep copy as the reference, summed completion log-probs, the BFPO loss, backward and AdamW.
# bfloat16 as the original ran it: torch.autocast on float32 weights. Timed: the training loop alone.
# Usage: python3 bench/torch_train_epoch.py JOB.json -> prints one JSON object.
import copy, json, math, random, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F

job = json.load(open(sys.argv[1]))
torch.set_num_threads(job["threads"])
torch.manual_seed(0)
cfg = job["config"]
H, I, L = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
NH, NKV, V = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["vocab_size"]
HD = H // NH
EPS, THETA = 1e-5, 10000.0
BF16 = job["dtype"] == "bfloat16"


class RMSNorm(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))

    def forward(self, x):
        dtype = x.dtype
        x = x.float()
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS)).to(dtype)


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
        q = self.q_proj(x).view(b, s, NH, HD).transpose(1, 2)
        k = self.k_proj(x).view(b, s, NKV, HD).transpose(1, 2)
        v = self.v_proj(x).view(b, s, NKV, HD).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = NH // NKV
        k = k[:, :, None].expand(b, NKV, rep, s, HD).reshape(b, NH, s, HD)
        v = v[:, :, None].expand(b, NKV, rep, s, HD).reshape(b, NH, s, HD)
        scores = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(HD) + mask
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
        pos = (attention_mask.long().cumsum(-1) - 1).masked_fill(attention_mask == 0, 1)
        freqs = pos[:, :, None].float() * self.inv_freq[None, None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos()[:, None], emb.sin()[:, None]
        causal = torch.ones(s, s, dtype=torch.bool).triu(1)[None, None]
        blocked = causal | (attention_mask == 0)[:, None, None, :]
        x = self.embed_tokens(ids)
        mask = torch.zeros(blocked.shape, dtype=x.dtype if not BF16 else torch.bfloat16).masked_fill(blocked, torch.finfo(torch.bfloat16 if BF16 else torch.float32).min)
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        return self.lm_head(self.norm(x))


def sequence_logps(logits, labels):
    logits, labels = logits[:, :-1].float(), labels[:, 1:]
    mask = labels != -100
    per_token = torch.gather(logits.log_softmax(-1), 2, labels.masked_fill(~mask, 0).unsqueeze(2)).squeeze(2)
    return (per_token * mask).sum(-1)


def bfpo_loss(pc, pr, rc, rr, safe_c, safe_r, beta, b1, alpha):
    h = (pc - rc) - (pr - rr)
    b3 = 1 / (b1 - 1)
    target = (safe_c * b1 * b3 - safe_r * b3 - alpha) / beta
    return (h - target).square()


def collate(items, pad_id):
    rows = [it["c"] for it in items] + [it["r"] for it in items]
    prompts = [it["pc"] for it in items] + [it["pr"] for it in items]
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), -100, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (r, p) in enumerate(zip(rows, prompts)):
        ids[i, : len(r)] = torch.tensor(r)
        labels[i, p : len(r)] = torch.tensor(r[p:])
        mask[i, : len(r)] = 1
    sc = torch.tensor([float(it["sc"]) for it in items])
    sr = torch.tensor([float(it["sr"]) for it in items])
    return ids, mask, labels, sc, sr, len(rows) * width


model = Llama().train()
ref_model = copy.deepcopy(model).eval()
for p in ref_model.parameters():
    p.requires_grad_(False)
opt = torch.optim.AdamW(model.parameters(), lr=job["lr"])
lo = job["loss"]
pairs = job["pairs"]
order = list(range(len(pairs)))
random.Random(job["seed"]).shuffle(order)
B = job["batch"]
ctx = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if BF16 else (lambda: torch.autocast("cpu", enabled=False))
padded = 0
t0 = time.perf_counter()
for start in range(0, len(order), B):
    items = [pairs[i] for i in order[start : start + B]]
    ids, mask, labels, sc, sr, slots = collate(items, job["padTokenId"])
    padded += slots
    b = len(items)
    with ctx():
        logits = model(ids, mask)
    logps = sequence_logps(logits, labels)
    with torch.no_grad(), ctx():
        ref = sequence_logps(ref_model(ids, mask), labels)
    losses = bfpo_loss(logps[:b], logps[b:], ref[:b], ref[b:], sc, sr, lo["beta"], lo["b1"], lo["alpha"])
    loss = losses.mean()
    with torch.no_grad():
        _ = [logps[:b].mean().item(), logps[b:].mean().item(), logits[:b].float().mean().item(), logits[b:].float().mean().item()]
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    opt.zero_grad(set_to_none=True)
seconds = time.perf_counter() - t0
print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "seconds": seconds, "pairs": len(pairs), "paddedSlots": padded}))
