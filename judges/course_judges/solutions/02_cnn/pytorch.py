"""The answers to the exercises of notebooks/02_cnn/pytorch.ipynb.

Each section, headed by its exercise's id, replaces the `...` lines of that exercise's cell: the tests run the
notebook with the answers in place, and `exercises.solution` shows them.
"""

# ruff: noqa: F821 (the notebook's cells above each exercise define its names)

# %% cnn.third_conv
third_features = nn.Sequential(
    nn.Conv2d(1, 32, kernel_size=3), nn.MaxPool2d(2), nn.ReLU(),
    nn.Conv2d(32, 64, kernel_size=3), nn.MaxPool2d(2), nn.ReLU(),
    nn.Conv2d(64, 128, kernel_size=3), nn.ReLU(),
)
third_model = nn.Sequential(third_features, nn.Flatten(), nn.Dropout(DROPOUT), nn.Linear(128 * 3 * 3, 10))
third_shape = tuple(third_features(torch.zeros(1, 1, 28, 28)).shape)
third_params = sum(p.numel() for p in third_model.parameters())

# %% cnn.strides
strided_features = nn.Sequential(
    nn.Conv2d(1, 32, kernel_size=3, stride=2), nn.ReLU(),
    nn.Conv2d(32, 64, kernel_size=3, stride=2), nn.ReLU(),
)
strided_model = nn.Sequential(strided_features, nn.Flatten(), nn.Dropout(DROPOUT), nn.Linear(64 * 6 * 6, 10))
strided_shape = tuple(strided_features(torch.zeros(1, 1, 28, 28)).shape)
strided_params = sum(p.numel() for p in strided_model.parameters())

# %% cnn.dropout
dropped = nn.functional.dropout(ones, DROPOUT, training=True)
