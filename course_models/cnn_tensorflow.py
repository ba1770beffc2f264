# Generated from notebooks/02_cnn/tensorflow.ipynb; do not edit, run `course export`.
"""The cells of notebooks/02_cnn/tensorflow.ipynb tagged ``export``, verbatim: running this module runs them.

Edit the notebook, then run `course export` to write this file again.
"""

import course_utils as course

import numpy as np
import tensorflow as tf

# %% code cell 3 (hyperparameters)
BATCH_SIZE = 128
LEARNING_RATE = 1e-3
ADAM_EPSILON = 1e-7
DROPOUT = 0.5
EPOCHS = course.epochs(full=15, fast=6)


# %% code cell 7 (define-model)
def glorot_uniform(shape):
    # A (3, 3, in, out) kernel: 3 × 3 × in inputs, 3 × 3 × out outputs. A dense (in, out) is the 1 × 1 case.
    receptive_field = int(np.prod(shape[:-2]))
    fan_in, fan_out = shape[-2] * receptive_field, shape[-1] * receptive_field
    limit = np.sqrt(6 / (fan_in + fan_out))
    return tf.random.uniform(shape, -limit, limit)


class Conv2D(tf.Module):
    def __init__(self, channels_in, channels_out, size=3, name=None):
        super().__init__(name=name)
        self.kernel = tf.Variable(glorot_uniform((size, size, channels_in, channels_out)), name="kernel")
        self.bias = tf.Variable(tf.zeros([channels_out]), name="bias")

    def __call__(self, x):
        return tf.nn.conv2d(x, self.kernel, strides=1, padding="VALID") + self.bias


class Dense(tf.Module):
    def __init__(self, fan_in, fan_out, name=None):
        super().__init__(name=name)
        self.w = tf.Variable(glorot_uniform((fan_in, fan_out)), name="w")
        self.b = tf.Variable(tf.zeros([fan_out]), name="b")

    def __call__(self, x):
        return x @ self.w + self.b


def max_pool(x):
    return tf.nn.max_pool2d(x, ksize=2, strides=2, padding="VALID")


class CNN(tf.Module):
    def __init__(self):
        super().__init__(name="cnn")
        self.conv1 = Conv2D(1, 32)
        self.conv2 = Conv2D(32, 64)
        self.logits = Dense(5 * 5 * 64, 10)

    def features(self, images):
        x = tf.nn.relu(max_pool(self.conv1(images)))
        return tf.nn.relu(max_pool(self.conv2(x)))

    def __call__(self, images, training=False):
        x = tf.reshape(self.features(images), (-1, 5 * 5 * 64))
        if training:
            x = tf.nn.dropout(x, rate=DROPOUT)
        return self.logits(x)


model = CNN()
params = sum(int(tf.size(variable)) for variable in model.trainable_variables)
print(f"{params:,} trainable parameters in {len(model.trainable_variables)} variables")
print(f"feature maps of one image: {tuple(model.features(tf.zeros([1, 28, 28, 1])).shape)}")


# %% code cell 8 (train-step)
# The Adam written out in the MLP notebook, which `course export` copies to course_models, so that the three
# TensorFlow notebooks share one definition. Open 01_mlp/tensorflow.ipynb to read it.
from course_models.mlp_tensorflow import Adam

# %% code cell 9 (train-step)
optimizer = Adam(model.trainable_variables, LEARNING_RATE)


@tf.function
def train_step(images, labels):
    with tf.GradientTape() as tape:
        logits = model(images, training=True)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
    gradients = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(gradients)
    return loss
