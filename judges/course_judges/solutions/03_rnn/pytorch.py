"""The answers to the exercises of notebooks/03_rnn/pytorch.ipynb.

Each section, headed by its exercise's id, replaces the `...` lines of that exercise's cell: the tests run the
notebook with the answers in place, and `exercises.solution` shows them.
"""

# ruff: noqa: F821 (the notebook's cells above each exercise define its names)

# %% rnn.gru
gru_layers = [nn.GRU(28, HIDDEN_UNITS, batch_first=True), nn.Linear(HIDDEN_UNITS, 10)]
gru_params = sum(p.numel() for layer in gru_layers for p in layer.parameters())

# %% rnn.columns
columns = first_images.transpose(1, 2)

# %% rnn.bidirectional
both_ways = [nn.LSTM(28, HIDDEN_UNITS, batch_first=True, bidirectional=True), nn.Linear(2 * HIDDEN_UNITS, 10)]
bidirectional_params = sum(p.numel() for layer in both_ways for p in layer.parameters())
