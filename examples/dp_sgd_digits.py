"""DP-SGD on scikit-learn's handwritten digits with privkit.dp.make_private.

Run:  python examples/dp_sgd_digits.py   (needs torch + opacus: pip install 'privkit[torch]',
and scikit-learn for the dataset, which ships with it: no download)

A 64-32-10 MLP is trained for 20 epochs on 1,400 of the 1,797 8x8 digit images, with the
noise calibrated so that the whole run is (3, 1e-5)-differentially private for each
training image (PRV accounting).  A budget of epsilon = 3 is also set: one step more than
planned would be refused.  The script prints the test accuracy and the epsilon spent, and
exits with status 1 if the accuracy is below ACCURACY_BAR (measured: 0.917-0.937 over
torch seeds 0-7; a few seconds on one CPU core).
"""

from __future__ import annotations

import sys
import time
import warnings

import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from privkit.dp.training import InsecureNoiseWarning, make_private
from privkit.errors import PrivacyBudgetExceededError

TARGET_EPSILON = 3.0
DELTA = 1e-5
EPOCHS = 20
BATCH = 256
LEARNING_RATE = 2.0
ACCURACY_BAR = 0.85
SEED = 0


def load() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Digits scaled to [0, 1]; a fixed 1,400 / 397 train / test split."""
    digits = load_digits()
    x = torch.tensor(digits.data / 16.0, dtype=torch.float32)
    y = torch.tensor(digits.target)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    train, test = perm[:1400], perm[1400:]
    return x[train], y[train], x[test], y[test]


def main() -> float:
    """Train, print accuracy and epsilon, and return the accuracy."""
    # torch warns at every ghost-clipping backward that the input needs no gradient
    warnings.filterwarnings("ignore", message="Full backward hook is firing")
    torch.manual_seed(SEED)
    x_train, y_train, x_test, y_test = load()
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    with warnings.catch_warnings():
        # research run: torch's PRNG is fine here (secure_mode=True needs torchcsprng)
        warnings.simplefilter("ignore", InsecureNoiseWarning)
        model, optimizer, loader, criterion, privacy = make_private(
            model,
            optimizer,
            DataLoader(TensorDataset(x_train, y_train), batch_size=BATCH),
            criterion=nn.CrossEntropyLoss(),
            target_epsilon=TARGET_EPSILON,
            target_delta=DELTA,
            epochs=EPOCHS,
            max_epsilon=TARGET_EPSILON,
        )
    print(
        f"mode {privacy.mode} ({privacy.mode_reason}); noise multiplier "
        f"{privacy.noise_multiplier:.3f}, sample rate {privacy.sample_rate:.4f}, "
        f"{privacy.remaining_steps()} steps allowed by the budget"
    )
    start = time.perf_counter()
    for epoch in range(EPOCHS):
        for x, y in loader:
            optimizer.zero_grad()
            criterion(model(x), y).backward()
            optimizer.step()
        if epoch % 5 == 4:
            print(f"epoch {epoch + 1:2d}: epsilon so far {privacy.epsilon():.3f}")
    elapsed = time.perf_counter() - start
    with torch.no_grad():
        accuracy = (model(x_test).argmax(1) == y_test).float().mean().item()
    print(
        f"test accuracy {accuracy:.3f} after {privacy.steps} steps in {elapsed:.1f} s; "
        f"({privacy.epsilon():.3f}, {DELTA:g})-DP ({privacy.accountant.method} accountant)"
    )
    # one step more than planned: the budget refuses it before touching the model
    x, y = next(iter(loader))
    optimizer.zero_grad()
    criterion(model(x), y).backward()
    try:
        optimizer.step()
    except PrivacyBudgetExceededError as exc:
        print(f"budget enforced: {exc}")
    else:
        print("budget NOT enforced")
        raise SystemExit(1)
    if accuracy < ACCURACY_BAR:
        print(f"FAILED: accuracy {accuracy:.3f} is below the bar {ACCURACY_BAR}")
        raise SystemExit(1)
    print(f"DP-SGD OK (accuracy >= {ACCURACY_BAR})")
    return accuracy


if __name__ == "__main__":
    main()
    sys.exit(0)
