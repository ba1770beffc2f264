"""The answers to the exercises of notebooks/02_cnn/tensorflow.ipynb.

Each section, headed by its exercise's id, replaces the `...` lines of that exercise's cell: the tests run the
notebook with the answers in place, and `exercises.solution` shows them.
"""

# ruff: noqa: F821 (the notebook's cells above each exercise define its names)

# %% cnn.third_conv
third_layers = [Conv2D(1, 32), Conv2D(32, 64), Conv2D(64, 128), Dense(3 * 3 * 128, 10)]
x = tf.zeros([1, 28, 28, 1])
x = tf.nn.relu(max_pool(third_layers[0](x)))
x = tf.nn.relu(max_pool(third_layers[1](x)))
third_shape = tuple(tf.nn.relu(third_layers[2](x)).shape)
third_params = sum(int(tf.size(v)) for layer in third_layers for v in layer.trainable_variables)

# %% cnn.strides
strided_layers = [Conv2D(1, 32), Conv2D(32, 64), Dense(6 * 6 * 64, 10)]
x = tf.zeros([1, 28, 28, 1])
for conv in strided_layers[:2]:
    x = tf.nn.relu(tf.nn.conv2d(x, conv.kernel, strides=2, padding="VALID") + conv.bias)
strided_shape = tuple(x.shape)
strided_params = sum(int(tf.size(v)) for layer in strided_layers for v in layer.trainable_variables)

# %% cnn.dropout
dropped = tf.nn.dropout(ones, rate=DROPOUT)
