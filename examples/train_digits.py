"""Trains a small classifier on scikit-learn's 8x8 digits twice, from the
same initial weights and the same batches: eagerly on the CPU, and on the
`lazy` device through an ltc-plugins backend (LTC_BACKEND, default ts_cpu).
Prints loss and test accuracy per epoch side by side.

    python3 examples/train_digits.py [--epochs N] [--backend NAME]
"""
import argparse
import time

import torch
import torch._lazy
import torch._lazy.metrics
from sklearn.datasets import load_digits

import ltc_plugins


def make_model():
    return torch.nn.Sequential(
        torch.nn.Linear(64, 128), torch.nn.ReLU(),
        torch.nn.Linear(128, 64), torch.nn.ReLU(),
        torch.nn.Linear(64, 10))


def load_data(seed):
    digits = load_digits()
    x = torch.tensor(digits.data, dtype=torch.float32) / 16.0
    y = torch.tensor(digits.target, dtype=torch.int64)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    x, y = x[order], y[order]
    split = int(0.8 * len(x))
    return (x[:split], y[:split]), (x[split:], y[split:])


class Run:
    """One copy of the model being trained on one device."""

    def __init__(self, device, initial_state, lr):
        self.device = device
        self.model = make_model()
        self.model.load_state_dict(initial_state)
        self.model.to(device)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=lr, momentum=0.9)
        self.seconds = 0.0

    def sync(self):
        if self.device == "lazy":
            # torch._lazy.mark_step(), without keeping the old values of
            # the weights and optimizer state (PyTorch 1.13 would).
            ltc_plugins.mark_step(self.model, self.optimizer)

    def train_epoch(self, batches):
        start = time.perf_counter()
        total = torch.zeros((), device=self.device)
        for xb, yb in batches:
            xb, yb = xb.to(self.device), yb.to(self.device)
            self.optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(self.model(xb), yb)
            loss.backward()
            self.optimizer.step()
            total = total + loss.detach()
            self.sync()
        mean_loss = total.item() / len(batches)
        self.seconds += time.perf_counter() - start
        return mean_loss

    def accuracy(self, x, y):
        with torch.no_grad():
            predicted = self.model(x.to(self.device)).argmax(dim=1)
            correct = (predicted == y.to(self.device)).sum()
            self.sync()
            return correct.item() / len(y)

    def weights(self):
        return [p.detach().cpu() for p in self.model.parameters()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--backend", default=None,
                        help="LTC_BACKEND syntax; default: $LTC_BACKEND or ts_cpu")
    args = parser.parse_args()

    name = ltc_plugins.init(args.backend)
    torch.manual_seed(0)
    (x_train, y_train), (x_test, y_test) = load_data(seed=0)
    batches = list(zip(x_train.split(args.batch_size), y_train.split(args.batch_size)))
    initial_state = make_model().state_dict()

    eager = Run("cpu", initial_state, args.lr)
    lazy = Run("lazy", initial_state, args.lr)
    print(f"digits: {len(x_train)} train / {len(x_test)} test images, "
          f"{len(batches)} batches of {args.batch_size}; lazy backend: {name}")
    print(f"{'epoch':>5}  {'eager loss':>10}  {'lazy loss':>10}  "
          f"{'eager acc':>9}  {'lazy acc':>9}  {'max |w diff|':>12}")
    for epoch in range(1, args.epochs + 1):
        eager_loss = eager.train_epoch(batches)
        lazy_loss = lazy.train_epoch(batches)
        eager_acc = eager.accuracy(x_test, y_test)
        lazy_acc = lazy.accuracy(x_test, y_test)
        drift = max((a - b).abs().max().item()
                    for a, b in zip(eager.weights(), lazy.weights()))
        print(f"{epoch:>5}  {eager_loss:>10.4f}  {lazy_loss:>10.4f}  "
              f"{eager_acc:>9.3f}  {lazy_acc:>9.3f}  {drift:>12.2e}")
    counters = {c: torch._lazy.metrics.counter_value(c)
                for c in ("PluginCompile", "PluginExecute", "PluginToDevice",
                          "PluginFromDevice")}
    print(f"training time: eager {eager.seconds:.2f} s, lazy {lazy.seconds:.2f} s")
    print("plugin calls: " + ", ".join(f"{k} {v}" for k, v in counters.items()))


if __name__ == "__main__":
    main()
