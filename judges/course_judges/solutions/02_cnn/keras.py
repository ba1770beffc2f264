"""The answers to the exercises of notebooks/02_cnn/keras.ipynb.

Each section, headed by its exercise's id, replaces the `...` lines of that exercise's cell: the tests run the
notebook with the answers in place, and `exercises.solution` shows them.
"""

# ruff: noqa: F821 (the notebook's cells above each exercise define its names)

# %% cnn.third_conv
third_features = keras.Sequential(
    [
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, kernel_size=3),
        layers.MaxPooling2D(pool_size=2),
        layers.ReLU(),
        layers.Conv2D(64, kernel_size=3),
        layers.MaxPooling2D(pool_size=2),
        layers.ReLU(),
        layers.Conv2D(128, kernel_size=3, activation="relu"),
    ]
)
third_model = keras.Sequential([third_features, layers.Flatten(), layers.Dropout(DROPOUT), layers.Dense(10)])
third_shape = tuple(third_features(np.zeros((1, 28, 28, 1), "float32")).shape)
third_params = third_model.count_params()

# %% cnn.strides
strided_features = keras.Sequential(
    [
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, kernel_size=3, strides=2, activation="relu"),
        layers.Conv2D(64, kernel_size=3, strides=2, activation="relu"),
    ]
)
strided_model = keras.Sequential([strided_features, layers.Flatten(), layers.Dropout(DROPOUT), layers.Dense(10)])
strided_shape = tuple(strided_features(np.zeros((1, 28, 28, 1), "float32")).shape)
strided_params = strided_model.count_params()

# %% cnn.dropout
dropped = layers.Dropout(DROPOUT)(ones, training=True)
