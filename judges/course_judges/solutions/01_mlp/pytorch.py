"""The answers to the exercises of notebooks/01_mlp/pytorch.ipynb.

Each section, headed by its exercise's id, replaces the `...` lines of that exercise's cell: the tests run the
notebook with the answers in place, and `exercises.solution` shows them.
"""

# ruff: noqa: F821 (the notebook's cells above each exercise define its names)

# %% mlp.wider
wide = nn.Sequential(nn.Linear(28 * 28, 256), nn.ReLU(), nn.Dropout(DROPOUT), nn.Linear(256, 10))
wide_params = sum(p.numel() for p in wide.parameters() if p.requires_grad)

# %% mlp.softmax
exponentials = torch.exp(first_logits)
by_hand = exponentials / exponentials.sum(dim=1, keepdim=True)

# %% mlp.momentum
sgd = torch.optim.SGD([w], lr=0.1, momentum=0.9)
for _ in range(2):
    sgd.zero_grad()
    (w**2).sum().backward()
    sgd.step()
w_after = w.detach().numpy()
