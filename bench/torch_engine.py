# The same engine work as bench/engine.ts, written directly in PyTorch, timed the same way.
# Usage: python3 bench/torch_engine.py THREADS  -> prints one JSON object.
import json, sys
import torch

from torch_timing import median_time

threads = int(sys.argv[1])
torch.set_num_threads(threads)
torch.manual_seed(0)


out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "matmul": {}}
for dtype_name, dtype in (("float32", torch.float32), ("bfloat16", torch.bfloat16)):
    for n in (1024, 2048):
        a = torch.randn(n, n).to(dtype)
        b = torch.randn(n, n).to(dtype)
        reps = 10 if n == 1024 else 4
        if dtype is torch.bfloat16:
            reps = max(2, reps // 2)
        t = median_time(lambda: torch.mm(a, b), 1, reps)
        out["matmul"][f"{dtype_name}-{n}"] = 2 * n ** 3 / t / 1e9

batch, dim, hidden = 64, 512, 2048
x = torch.randn(batch, dim)
y = torch.randn(batch, dim)
w1 = (torch.randn(hidden, dim) * 0.02).requires_grad_()
b1 = torch.zeros(hidden).requires_grad_()
w2 = (torch.randn(dim, hidden) * 0.02).requires_grad_()
b2 = torch.zeros(dim).requires_grad_()
opt = torch.optim.AdamW([w1, b1, w2, b2], lr=1e-3)

def mlp_step():
    h = torch.nn.functional.gelu(torch.nn.functional.linear(x, w1, b1))
    pred = torch.nn.functional.linear(h, w2, b2)
    loss = (pred - y).square().mean()
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)

out["mlpStepMs"] = median_time(mlp_step, 3, 30) * 1e3
print(json.dumps(out))
