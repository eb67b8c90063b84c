# Timing shared by the PyTorch reference scripts, the same rule as bench/util.ts's medianSeconds.
import time


def median_time(fn, warmup, reps):
    """Median wall time in seconds of fn over reps runs after warmup runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]
