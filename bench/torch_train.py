# The BFPO training step of bench/train.ts written directly in PyTorch: a plain Llama (embedding, RMSNorm, rotary,
# grouped-query attention with a causal mask, SwiGLU MLP, lm_head), one concatenated forward of chosen and rejected,
# summed completion log-probs, the BFPO loss, backward and AdamW; timed the same way (median after warm-up).
# Usage: python3 bench/torch_train.py JOB_JSON  -> prints one JSON object {torch, threads, peakGflops, steps}.
import copy, json, sys
import torch

from torch_llama import bfpo_loss, make_llama, sequence_logps
from torch_timing import median_time

job = json.loads(sys.argv[1])
torch.set_num_threads(job["threads"])
torch.manual_seed(0)
cfg = job["config"]
V = cfg["vocab_size"]


def make_step(variant):
    torch.manual_seed(0)
    reference, selection = variant.split("-")
    model = make_llama(cfg).train()
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
