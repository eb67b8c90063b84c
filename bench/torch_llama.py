# The plain PyTorch Llama the CPU benchmarks compare bfpo with (bench/torch_train.py, bench/torch_train_epoch.py):
# embedding, RMSNorm, rotary, grouped-query attention with an additive causal mask, SwiGLU MLP, lm_head, written the
# way Hugging Face's eager Llama runs it (repeat_kv copies, rotary cat, float32 softmax), plus the summed completion
# log-probs and the BFPO loss.
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

EPS, THETA = 1e-5, 10000.0


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2 :]
    return torch.cat((-x2, x1), dim=-1)


def make_llama(cfg, norm_in_float32=False, mask_dtype=torch.float32):
    """A Llama of the HF config `cfg`, with weights drawn from N(0, 0.02). `norm_in_float32` computes RMSNorm in
    float32 and casts back (as HF does for bfloat16); `mask_dtype` is the dtype of the additive attention mask."""
    H, I, L = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    NH, NKV, V = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["vocab_size"]
    HD = H // NH

    class RMSNorm(nn.Module):
        def __init__(self, n):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(n))

        def forward(self, x):
            if not norm_in_float32:
                return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS))
            dtype = x.dtype
            x = x.float()
            return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS)).to(dtype)

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
            mask = torch.zeros(blocked.shape, dtype=mask_dtype).masked_fill(blocked, torch.finfo(mask_dtype).min)
            x = self.embed_tokens(ids)
            for layer in self.layers:
                x = layer(x, cos, sin, mask)
            return self.lm_head(self.norm(x))

    return Llama()


def sequence_logps(logits, labels):
    """Summed log-probs of the labelled tokens (-100 is ignored), computed in float32."""
    logits, labels = logits[:, :-1].float(), labels[:, 1:]
    mask = labels != -100
    per_token = torch.gather(logits.log_softmax(-1), 2, labels.masked_fill(~mask, 0).unsqueeze(2)).squeeze(2)
    return (per_token * mask).sum(-1)


def bfpo_loss(pc, pr, rc, rr, safe_c, safe_r, beta, b1, alpha):
    h = (pc - rc) - (pr - rr)
    b3 = 1 / (b1 - 1)
    target = (safe_c * b1 * b3 - safe_r * b3 - alpha) / beta
    return (h - target).square()
