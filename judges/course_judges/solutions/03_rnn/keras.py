"""The answers to the exercises of notebooks/03_rnn/keras.ipynb.

Each section, headed by its exercise's id, replaces the `...` lines of that exercise's cell: the tests run the
notebook with the answers in place, and `exercises.solution` shows them.
"""

# ruff: noqa: F821 (the notebook's cells above each exercise define its names)

# %% rnn.gru
gru_model = keras.Sequential(
    [keras.Input(shape=(28, 28)), layers.Rescaling(1 / 255), layers.GRU(HIDDEN_UNITS), layers.Dense(10)]
)
gru_params = gru_model.count_params()

# %% rnn.columns
columns = keras.ops.transpose(first_images, (0, 2, 1))

# %% rnn.bidirectional
both_ways = keras.Sequential(
    [
        keras.Input(shape=(28, 28)),
        layers.Rescaling(1 / 255),
        layers.Bidirectional(layers.LSTM(HIDDEN_UNITS)),
        layers.Dense(10),
    ]
)
bidirectional_params = both_ways.count_params()
