# Generated from notebooks/02_cnn/pytorch.ipynb; do not edit, run `course export`.
"""The cells of notebooks/02_cnn/pytorch.ipynb tagged ``export``, verbatim: running this module runs them.

Edit the notebook, then run `course export` to write this file again.
"""

import course_utils as course

import torch
from torch import nn

# From the notebook's set-up cell:
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")


# %% code cell 3 (hyperparameters)
BATCH_SIZE = 128
LEARNING_RATE = 1e-3
ADAM_EPSILON = 1e-7
DROPOUT = 0.5
EPOCHS = course.epochs(full=15, fast=6)


# %% code cell 7 (define-model)
class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, kernel_size=3)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3)
        self.pool = nn.MaxPool2d(2)
        self.dropout = nn.Dropout(DROPOUT)
        self.logits = nn.Linear(64 * 5 * 5, 10)
        for layer in (self.conv1, self.conv2, self.logits):  # match Keras: Glorot weights, zero biases
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)

    def features(self, images):
        x = torch.relu(self.pool(self.conv1(images)))
        return torch.relu(self.pool(self.conv2(x)))

    def forward(self, images):
        return self.logits(self.dropout(torch.flatten(self.features(images), start_dim=1)))


# Shapes stay NCHW; only the memory order of the weights and activations changes (see below).
model = CNN().to(device, memory_format=torch.channels_last)
params = sum(p.numel() for p in model.parameters() if p.requires_grad)
print(model)
print(f"{params:,} trainable parameters")
print(f"feature maps of one image: {tuple(model.features(torch.zeros(1, 1, 28, 28, device=device)).shape)}")


# %% code cell 8 (train-step)
optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE, eps=ADAM_EPSILON)
loss_fn = nn.CrossEntropyLoss()


def train_step(images, labels):
    optimizer.zero_grad()
    loss = loss_fn(model(images), labels)
    loss.backward()
    optimizer.step()
    return loss
