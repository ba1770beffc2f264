"""The answers to the exercises of notebooks/01_mlp/keras.ipynb.

Each section, headed by its exercise's id, replaces the `...` lines of that exercise's cell: the tests run the
notebook with the answers in place, and `exercises.solution` shows them.
"""

# ruff: noqa: F821 (the notebook's cells above each exercise define its names)

# %% mlp.wider
wide = keras.Sequential(
    [keras.Input(shape=(28 * 28,)), layers.Dense(256, activation="relu"), layers.Dropout(DROPOUT), layers.Dense(10)]
)
wide_params = wide.count_params()

# %% mlp.softmax
exponentials = keras.ops.exp(first_logits)
by_hand = exponentials / keras.ops.sum(exponentials, axis=1, keepdims=True)

# %% mlp.momentum
sgd = keras.optimizers.SGD(learning_rate=0.1, momentum=0.9)
for _ in range(2):
    sgd.apply([2 * w], [w])  # the gradient of w₁² + w₂² is 2w
w_after = keras.ops.convert_to_numpy(w)
