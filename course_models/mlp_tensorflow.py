# Generated from notebooks/01_mlp/tensorflow.ipynb; do not edit, run `course export`.
"""The cells of notebooks/01_mlp/tensorflow.ipynb tagged ``export``, verbatim: running this module runs them.

Edit the notebook, then run `course export` to write this file again.
"""

import course_utils as course

import tensorflow as tf

# %% code cell 3 (hyperparameters)
BATCH_SIZE = 128
LEARNING_RATE = 1e-3
ADAM_EPSILON = 1e-7
HIDDEN_UNITS = 128
DROPOUT = 0.2
EPOCHS = course.epochs(full=20, fast=8)


# %% code cell 8 (train-step)
class Adam(tf.Module):
    """Adam (Kingma and Ba, 2015), with the same update as keras.optimizers.Adam."""

    def __init__(self, variables, learning_rate, beta_1=0.9, beta_2=0.999, epsilon=ADAM_EPSILON):
        super().__init__(name="adam")
        self.params = list(variables)
        self.learning_rate, self.beta_1, self.beta_2, self.epsilon = learning_rate, beta_1, beta_2, epsilon
        self.step = tf.Variable(0.0)
        self.m = [tf.Variable(tf.zeros_like(v)) for v in self.params]
        self.v = [tf.Variable(tf.zeros_like(v)) for v in self.params]

    def apply_gradients(self, gradients):
        self.step.assign_add(1.0)
        scale = tf.sqrt(1 - self.beta_2**self.step) / (1 - self.beta_1**self.step)
        for variable, gradient, m, v in zip(self.params, gradients, self.m, self.v):
            m.assign(self.beta_1 * m + (1 - self.beta_1) * gradient)
            v.assign(self.beta_2 * v + (1 - self.beta_2) * tf.square(gradient))
            variable.assign_sub(self.learning_rate * scale * m / (tf.sqrt(v) + self.epsilon))
