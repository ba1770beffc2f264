"""The answers to the exercises of notebooks/03_rnn/tensorflow.ipynb.

Each section, headed by its exercise's id, replaces the `...` lines of that exercise's cell: the tests run the
notebook with the answers in place, and `exercises.solution` shows them.
"""

# ruff: noqa: F821 (the notebook's cells above each exercise define its names)

# %% rnn.gru
gru_variables = [
    tf.Variable(glorot_uniform(28, 3 * HIDDEN_UNITS)),  # the input's share of the three gates
    tf.Variable(orthogonal(HIDDEN_UNITS, 3 * HIDDEN_UNITS)),  # the recurrent share
    tf.Variable(tf.zeros([3 * HIDDEN_UNITS])),  # one bias vector
    *Dense(HIDDEN_UNITS, 10).trainable_variables,
]
gru_params = sum(int(tf.size(variable)) for variable in gru_variables)

# %% rnn.columns
columns = tf.transpose(first_images, [0, 2, 1])

# %% rnn.bidirectional
both_ways = [LSTM(28, HIDDEN_UNITS), LSTM(28, HIDDEN_UNITS), Dense(2 * HIDDEN_UNITS, 10)]
bidirectional_params = sum(int(tf.size(v)) for module in both_ways for v in module.trainable_variables)
