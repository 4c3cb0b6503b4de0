"""What every example does with its two runs: train the same network from the same initial
weights with the original library and with the accelerated one, then print the losses side
by side, test accuracies, wall times and the speedup."""
import time
from typing import Callable, Dict, List, Tuple

import torch


def mnist_batches(data, steps: int, batch_size: int):
    """The first ``steps`` batches of a fixed shuffle of MNIST's training split, as (x, y)."""
    order = torch.randperm(len(data.x_train), generator=torch.Generator().manual_seed(0))
    return [(data.x_train[idx], data.y_train[idx])
            for idx in (order[i * batch_size:(i + 1) * batch_size] for i in range(steps))]


def train_both(make_net: Callable[[bool], torch.nn.Module], train_step: Callable, accuracy: Callable, batches,
               names=("original", "accelerated")) -> Dict[str, Tuple[List[float], float, float]]:
    """``make_net(accelerated)`` builds the network (seeded inside: both runs start equal);
    ``train_step(net, optimizer, x, y) -> loss``; ``accuracy(net) -> float``; ``batches``: a
    list of (x, y). Returns name -> (losses, training seconds, test accuracy)."""
    results = {}
    for accelerated, name in zip((False, True), names):
        net, optimizer = make_net(accelerated)
        start = time.perf_counter()
        losses = [train_step(net, optimizer, x, y) for x, y in batches]
        seconds = time.perf_counter() - start
        results[name] = (losses, seconds, accuracy(net))
    return results


def report(results, steps_shown: int = 10, checked_steps: int = 5, tolerance: float = 1e-4) -> int:
    """Prints the comparison; returns 1 if the first ``checked_steps`` losses differ by more
    than ``tolerance`` (relative), else 0. Later steps may drift apart: a rounding difference
    that flips one spike changes the rest of the run."""
    (a_name, (a_loss, a_time, a_acc)), (b_name, (b_loss, b_time, b_acc)) = results.items()
    print(f"{'step':>4} {a_name + ' loss':>24} {b_name + ' loss':>32}")
    for i in range(min(steps_shown, len(a_loss))):
        print(f"{i:>4} {a_loss[i]:>24.6f} {b_loss[i]:>32.6f}")
    print(f"final loss {a_loss[-1]:.6f} vs {b_loss[-1]:.6f}")
    print(f"test accuracy: {a_name} {a_acc:.4f}, {b_name} {b_acc:.4f}")
    print(f"training time ({len(a_loss)} steps, {torch.get_num_threads()} threads): {a_name} {a_time:.1f} s, "
          f"{b_name} {b_time:.1f} s, speedup {a_time / b_time:.2f}x")
    drift = max(abs(p - q) / max(abs(p), 1e-6) for p, q in zip(a_loss[:checked_steps], b_loss[:checked_steps]))
    print(f"largest relative loss difference over the first {checked_steps} steps: {drift:.2e}")
    return 0 if drift < tolerance else 1
