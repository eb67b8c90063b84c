# The original system's training setup written in plain PyTorch, for the realistic benchmark (bench/train-realistic.ts):
# one epoch over the given tokenized pairs in random batches (seeded), each batch's 2B rows (chosen then rejected)
# padded to its longest row, an HF-style eager Llama (additive float mask, repeat_kv copies, rotary cat, float32
# softmax), a frozen deep copy as the reference, summed completion log-probs, the BFPO loss, backward and AdamW.
# bfloat16 as the original ran it: torch.autocast on float32 weights. Timed: the training loop alone.
# Usage: python3 bench/torch_train_epoch.py JOB.json -> prints one JSON object.
import copy, json, random, sys, time
import torch

from torch_llama import bfpo_loss, make_llama, sequence_logps

job = json.load(open(sys.argv[1]))
torch.set_num_threads(job["threads"])
torch.manual_seed(0)
cfg = job["config"]
BF16 = job["dtype"] == "bfloat16"


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


model = make_llama(cfg, norm_in_float32=True, mask_dtype=torch.bfloat16 if BF16 else torch.float32).train()
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
