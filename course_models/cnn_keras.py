# Generated from notebooks/02_cnn/keras.ipynb; do not edit, run `course export`.
"""The cells of notebooks/02_cnn/keras.ipynb tagged ``export``, verbatim: running this module runs them.

Edit the notebook, then run `course export` to write this file again.
"""

import course_utils as course

import keras
from keras import layers

# %% code cell 3 (hyperparameters)
BATCH_SIZE = 128
LEARNING_RATE = 1e-3
ADAM_EPSILON = 1e-7
DROPOUT = 0.5
EPOCHS = course.epochs(full=15, fast=6)


# %% code cell 6 (define-model)
model = keras.Sequential(
    [
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, kernel_size=3),
        layers.MaxPooling2D(pool_size=2),
        layers.ReLU(),
        layers.Conv2D(64, kernel_size=3),
        layers.MaxPooling2D(pool_size=2),
        layers.ReLU(),
        layers.Flatten(),
        layers.Dropout(DROPOUT),
        layers.Dense(10),
    ],
    name="cnn",
)
params = model.count_params()
model.summary()


# %% code cell 7 (train-step)
model.compile(
    optimizer=keras.optimizers.Adam(learning_rate=LEARNING_RATE, epsilon=ADAM_EPSILON),
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=["accuracy"],
)
