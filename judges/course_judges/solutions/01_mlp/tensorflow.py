"""The answers to the exercises of notebooks/01_mlp/tensorflow.ipynb.

Each section, headed by its exercise's id, replaces the `...` lines of that exercise's cell: the tests run the
notebook with the answers in place, and `exercises.solution` shows them.
"""

# ruff: noqa: F821 (the notebook's cells above each exercise define its names)

# %% mlp.wider
wide_layers = [Dense(28 * 28, 256), Dense(256, 10)]
wide_params = sum(int(tf.size(variable)) for layer in wide_layers for variable in layer.trainable_variables)

# %% mlp.softmax
exponentials = tf.exp(first_logits)
by_hand = exponentials / tf.reduce_sum(exponentials, axis=1, keepdims=True)

# %% mlp.momentum
velocity = tf.Variable(tf.zeros_like(w))
for _ in range(2):
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(w**2)
    velocity.assign(0.9 * velocity + tape.gradient(loss, w))
    w.assign_sub(0.1 * velocity)
w_after = w.numpy()
