"""A zoo of real Keras architectures, after the shapes of public Keras examples.

Each case is a model as its example builds it (smaller widths, small images, few
samples) with data as a user holds it: arrays, lists, dicts keyed by input name, a
pandas DataFrame, a batched ``tf.data.Dataset``. Nothing is downloaded: every sample is
made here, and where a label can mean something it does (a mask marks the circle and the
square drawn in the image, a box is where the square is).

>>> case = build("regression")
>>> case.input_kinds, case.output_kinds
(('tabular',), ('regression',))

Sources (keras.io/examples): "Text classification with Transformer", "Bidirectional LSTM
on IMDB", "Timeseries classification from scratch", "Image segmentation with a U-Net-like
architecture", "Variational AutoEncoder", "Structured data classification from
scratch", "Image classification from scratch", "Making new layers and models via
subclassing" (the guide), and ``keras.applications``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
from keras import layers, ops

INPUT_KINDS = ("image", "tokens", "sequence", "tabular", "other")
OUTPUT_KINDS = ("classes", "multilabel", "regression", "segmentation", "image", "other")


@dataclass
class Case:
    """A model, its data as a user holds it, and what each input and output is."""

    name: str
    model: keras.Model
    #: inputs as a user holds them (ndarray, list, dict, DataFrame, tf.data.Dataset, ...)
    x: object
    #: labels as a user holds them (ndarray, list per output, dict by output name) or None
    y: object | None
    #: one of INPUT_KINDS per model input, in ``model.inputs`` order
    input_kinds: tuple[str, ...]
    #: one of OUTPUT_KINDS per model output, in ``model.outputs`` order
    output_kinds: tuple[str, ...]
    #: extra ModelState arguments, e.g. ``class_names=[...]``, ``vocabulary=[...]``
    kwargs: dict = field(default_factory=dict)


# -- drawing: small images whose labels mean something --------------------------
def _grid(size: int):
    return np.mgrid[0:size, 0:size]


def _disc(size: int, cy: float, cx: float, r: float) -> np.ndarray:
    yy, xx = _grid(size)
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r**2


def _square(size: int, y0: int, x0: int, side: int) -> np.ndarray:
    yy, xx = _grid(size)
    return (yy >= y0) & (yy < y0 + side) & (xx >= x0) & (xx < x0 + side)


def _digits_like(rng, n: int, size: int = 28) -> np.ndarray:
    """MNIST-like strokes in [0, 1]: a ring or a bar or both, on black, (n, 28, 28, 1)."""
    yy, xx = _grid(size)
    out = np.zeros((n, size, size, 1), "float32")
    for i in range(n):
        img = np.zeros((size, size), "float32")
        cy, cx = rng.uniform(10, 18, size=2)
        r = rng.uniform(5, 8)
        d = np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2)
        if i % 3 != 1:  # a ring, like a 0
            img = np.maximum(img, np.clip(1.5 - np.abs(d - r), 0, 1))
        if i % 3 != 0:  # a slanted bar, like a 1
            slope = rng.uniform(-0.4, 0.4)
            dist = np.abs((xx - cx) - slope * (yy - cy))
            img = np.maximum(img, np.clip(1.5 - dist, 0, 1) * ((yy > 4) & (yy < 24)))
        out[i, ..., 0] = img
    return out


# -- 1. Text classification with Transformer -----------------------------------
@keras.saving.register_keras_serializable(package="zoo")
class TransformerBlock(layers.Layer):
    def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1, **kwargs):
        super().__init__(**kwargs)
        self.embed_dim, self.num_heads, self.ff_dim, self.rate = embed_dim, num_heads, ff_dim, rate
        self.att = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
        self.ffn = keras.Sequential(
            [layers.Dense(ff_dim, activation="relu"), layers.Dense(embed_dim)]
        )
        self.layernorm1 = layers.LayerNormalization(epsilon=1e-6)
        self.layernorm2 = layers.LayerNormalization(epsilon=1e-6)
        self.dropout1 = layers.Dropout(rate)
        self.dropout2 = layers.Dropout(rate)

    def call(self, inputs, training=None):
        attn_output = self.att(inputs, inputs)
        attn_output = self.dropout1(attn_output, training=training)
        out1 = self.layernorm1(inputs + attn_output)
        ffn_output = self.ffn(out1)
        ffn_output = self.dropout2(ffn_output, training=training)
        return self.layernorm2(out1 + ffn_output)

    def get_config(self):
        return {
            **super().get_config(),
            "embed_dim": self.embed_dim,
            "num_heads": self.num_heads,
            "ff_dim": self.ff_dim,
            "rate": self.rate,
        }


@keras.saving.register_keras_serializable(package="zoo")
class TokenAndPositionEmbedding(layers.Layer):
    def __init__(self, maxlen, vocab_size, embed_dim, **kwargs):
        super().__init__(**kwargs)
        self.maxlen, self.vocab_size, self.embed_dim = maxlen, vocab_size, embed_dim
        self.token_emb = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
        self.pos_emb = layers.Embedding(input_dim=maxlen, output_dim=embed_dim)

    def call(self, x):
        maxlen = ops.shape(x)[-1]
        positions = ops.arange(start=0, stop=maxlen, step=1)
        positions = self.pos_emb(positions)
        x = self.token_emb(x)
        return x + positions

    def get_config(self):
        return {
            **super().get_config(),
            "maxlen": self.maxlen,
            "vocab_size": self.vocab_size,
            "embed_dim": self.embed_dim,
        }


_POSITIVE = (
    "good great fine love best wonderful superb enjoyed brilliant funny moving clever".split()
)
_NEGATIVE = "bad awful boring worst hated dull poor terrible weak silly slow mess".split()
_NEUTRAL = (
    "the a movie film plot actor story it was and is this of to in scenes ending "
    "music cast director script one very really"
).split()
#: 50 words: "[pad]" at 0, "[UNK]" at 1, then words as a TextVectorization layer lists them.
VOCABULARY = ["[pad]", "[UNK]", *_NEUTRAL, *_POSITIVE, *_NEGATIVE]
assert len(VOCABULARY) == 50, len(VOCABULARY)


def _reviews(rng, n: int, maxlen: int) -> tuple[np.ndarray, np.ndarray]:
    """Pre-padded token ids (zeros first, lengths vary) and 0/1 sentiment labels."""
    index = {w: i for i, w in enumerate(VOCABULARY)}
    x = np.zeros((n, maxlen), "int32")
    y = np.arange(n) % 2
    for i in range(n):
        length = int(rng.integers(5, maxlen + 1))
        mood = _POSITIVE if y[i] else _NEGATIVE
        words = rng.choice(_NEUTRAL + mood * 2, size=length)
        ids = [index.get(w, 1) for w in words]
        if length > 6:  # an out-of-vocabulary word now and then
            ids[int(rng.integers(length))] = 1
        x[i, maxlen - length :] = ids
    return x, y.astype("int64")


def _text_transformer(rng) -> Case:
    maxlen, vocab_size, embed_dim, num_heads, ff_dim = 20, 50, 16, 2, 16
    inputs = layers.Input(shape=(maxlen,), dtype="int32")
    x = TokenAndPositionEmbedding(maxlen, vocab_size, embed_dim)(inputs)
    x = TransformerBlock(embed_dim, num_heads, ff_dim)(x)
    x = layers.GlobalAveragePooling1D()(x)
    x = layers.Dropout(0.1)(x)
    x = layers.Dense(8, activation="relu")(x)
    x = layers.Dropout(0.1)(x)
    outputs = layers.Dense(2, activation="softmax")(x)
    model = keras.Model(inputs=inputs, outputs=outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x_data, y_data = _reviews(rng, 16, maxlen)
    return Case(
        "text_transformer",
        model,
        x_data,
        y_data,
        ("tokens",),
        ("classes",),
        {"vocabulary": list(VOCABULARY), "class_names": ["negative", "positive"]},
    )


# -- 2. Bidirectional LSTM on IMDB ---------------------------------------------
def _bilstm(rng) -> Case:
    max_features, maxlen = 100, 30
    # As in the example: any length in, padded to maxlen by keras.utils.pad_sequences.
    inputs = keras.Input(shape=(None,), dtype="int32")
    x = layers.Embedding(max_features, 16)(inputs)
    x = layers.Bidirectional(layers.LSTM(8, return_sequences=True))(x)
    x = layers.Bidirectional(layers.LSTM(8))(x)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    n = 16
    seqs = [rng.integers(2, max_features, size=int(rng.integers(8, 45))).tolist() for _ in range(n)]
    x_data = keras.utils.pad_sequences(seqs, maxlen=maxlen)  # pre-padding and pre-truncating
    y_data = (rng.random(n) < 0.5).astype("int64")
    return Case("bilstm", model, x_data.astype("int32"), y_data, ("tokens",), ("classes",))


# -- 3. Timeseries classification from scratch (FCN) --------------------------
def _timeseries_fcn(rng) -> Case:
    n, steps, num_classes = 16, 100, 2
    input_layer = keras.layers.Input((steps, 1))
    x = input_layer
    for _ in range(3):
        x = keras.layers.Conv1D(filters=16, kernel_size=3, padding="same")(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.ReLU()(x)
    gap = keras.layers.GlobalAveragePooling1D()(x)
    output_layer = keras.layers.Dense(num_classes, activation="softmax")(gap)
    model = keras.Model(inputs=input_layer, outputs=output_layer)
    model.compile(
        optimizer="adam",
        loss="sparse_categorical_crossentropy",
        metrics=["sparse_categorical_accuracy"],
    )
    y_data = np.arange(n) % num_classes  # class 0 a slow sine, class 1 a fast one
    t = np.linspace(0, 1, steps)
    freq = np.where(y_data == 0, 2.0, 5.0)[:, None] * rng.uniform(0.8, 1.2, size=(n, 1))
    phase = rng.uniform(0, 2 * np.pi, size=(n, 1))
    wave = np.sin(2 * np.pi * freq * t + phase) + rng.normal(0, 0.3, size=(n, steps))
    x_data = wave[..., None].astype("float32")
    return Case("timeseries_fcn", model, x_data, y_data, ("sequence",), ("classes",))


# -- 4. Image segmentation with a U-Net-like architecture ----------------------
def _shapes_and_masks(rng, n: int, size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Images with a disc and a square on noise; masks 0 background, 1 circle, 2 square."""
    x = rng.uniform(0, 0.3, size=(n, size, size, 3)).astype("float32")
    masks = np.zeros((n, size, size, 1), "uint8")
    for i in range(n):
        side = int(rng.integers(6, 12))
        sq = _square(size, *rng.integers(0, size - side, size=2), side)
        disc = _disc(size, *rng.uniform(7, size - 7, size=2), rng.uniform(4, 7))
        masks[i, sq, 0] = 2
        masks[i, disc, 0] = 1  # the disc is drawn over the square
        x[i][sq] = rng.uniform(0.4, 1.0, size=3)
        x[i][disc] = rng.uniform(0.4, 1.0, size=3)
    return x, masks


def _unet(rng) -> Case:
    img_size, num_classes = (32, 32), 3
    inputs = keras.Input(shape=img_size + (3,))
    # [First half of the network: downsampling inputs]
    x = layers.Conv2D(8, 3, strides=2, padding="same")(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    stem = x  # 16 x 16, kept for a U-Net skip across the U
    previous_block_activation = x  # Set aside residual
    for filters in [16, 32]:
        x = layers.Activation("relu")(x)
        x = layers.SeparableConv2D(filters, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
        x = layers.SeparableConv2D(filters, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)
        x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
        residual = layers.Conv2D(filters, 1, strides=2, padding="same")(previous_block_activation)
        x = layers.add([x, residual])  # Add back residual
        previous_block_activation = x  # Set aside next residual
    # [Second half of the network: upsampling inputs]
    for filters in [32, 16, 8]:
        x = layers.Activation("relu")(x)
        x = layers.Conv2DTranspose(filters, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
        x = layers.Conv2DTranspose(filters, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)
        x = layers.UpSampling2D(2)(x)
        residual = layers.UpSampling2D(2)(previous_block_activation)
        residual = layers.Conv2D(filters, 1, padding="same")(residual)
        x = layers.add([x, residual])  # Add back residual
        if x.shape[1] == stem.shape[1]:
            x = layers.Concatenate(name="skip_concat")([x, stem])
        previous_block_activation = x  # Set aside next residual
    # Add a per-pixel classification layer
    outputs = layers.Conv2D(num_classes, 3, activation="softmax", padding="same")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="sparse_categorical_crossentropy")
    x_data, masks = _shapes_and_masks(rng, 16)
    return Case(
        "unet",
        model,
        x_data,
        masks,
        ("image",),
        ("segmentation",),
        {"class_names": ["background", "circle", "square"]},
    )


# -- 5, 6. Variational AutoEncoder -------------------------------------------
@keras.saving.register_keras_serializable(package="zoo")
class Sampling(layers.Layer):
    """Uses (z_mean, z_log_var) to sample z, the vector encoding a digit."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(1337)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        batch = ops.shape(z_mean)[0]
        dim = ops.shape(z_mean)[1]
        epsilon = keras.random.normal(shape=(batch, dim), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon


LATENT_DIM = 2


def _vae_encoder_model() -> keras.Model:
    encoder_inputs = keras.Input(shape=(28, 28, 1))
    x = layers.Conv2D(8, 3, activation="relu", strides=2, padding="same")(encoder_inputs)
    x = layers.Conv2D(16, 3, activation="relu", strides=2, padding="same")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(16, activation="relu")(x)
    z_mean = layers.Dense(LATENT_DIM, name="z_mean")(x)
    z_log_var = layers.Dense(LATENT_DIM, name="z_log_var")(x)
    z = Sampling(name="z")([z_mean, z_log_var])
    return keras.Model(encoder_inputs, [z_mean, z_log_var, z], name="encoder")


def _vae_decoder_model() -> keras.Model:
    latent_inputs = keras.Input(shape=(LATENT_DIM,))
    x = layers.Dense(7 * 7 * 64, activation="relu")(latent_inputs)
    x = layers.Reshape((7, 7, 64))(x)
    x = layers.Conv2DTranspose(16, 3, activation="relu", strides=2, padding="same")(x)
    x = layers.Conv2DTranspose(8, 3, activation="relu", strides=2, padding="same")(x)
    decoder_outputs = layers.Conv2DTranspose(1, 3, activation="sigmoid", padding="same")(x)
    return keras.Model(latent_inputs, decoder_outputs, name="decoder")


@keras.saving.register_keras_serializable(package="zoo")
class VAE(keras.Model):
    def __init__(self, encoder, decoder, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.total_loss_tracker = keras.metrics.Mean(name="total_loss")
        self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")

    @property
    def metrics(self):
        return [self.total_loss_tracker, self.reconstruction_loss_tracker, self.kl_loss_tracker]

    def call(self, x):
        return self.decoder(self.encoder(x)[2])

    def train_step(self, data):
        import tensorflow as tf  # the example's train_step is the TensorFlow one

        if isinstance(data, tuple):
            data = data[0]
        with tf.GradientTape() as tape:
            z_mean, z_log_var, z = self.encoder(data)
            reconstruction = self.decoder(z)
            reconstruction_loss = ops.mean(
                ops.sum(keras.losses.binary_crossentropy(data, reconstruction), axis=(1, 2))
            )
            kl_loss = -0.5 * (1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))
            kl_loss = ops.mean(ops.sum(kl_loss, axis=1))
            total_loss = reconstruction_loss + kl_loss
        grads = tape.gradient(total_loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights, strict=True))
        self.total_loss_tracker.update_state(total_loss)
        self.reconstruction_loss_tracker.update_state(reconstruction_loss)
        self.kl_loss_tracker.update_state(kl_loss)
        return {
            "loss": self.total_loss_tracker.result(),
            "reconstruction_loss": self.reconstruction_loss_tracker.result(),
            "kl_loss": self.kl_loss_tracker.result(),
        }


def _vae_encoder(rng) -> Case:
    # Not compiled: in the example only the VAE wrapping it is.
    model = _vae_encoder_model()
    x_data = _digits_like(rng, 16)
    return Case("vae_encoder", model, x_data, None, ("image",), ("other", "other", "other"))


def _vae_decoder(rng) -> Case:
    # Not compiled: in the example only the VAE wrapping it is. Inputs: latent points.
    model = _vae_decoder_model()
    x_data = rng.normal(size=(16, LATENT_DIM)).astype("float32")
    return Case("vae_decoder", model, x_data, None, ("tabular",), ("image",))


def _vae_subclassed(rng) -> Case:
    model = VAE(_vae_encoder_model(), _vae_decoder_model())
    model.compile(optimizer=keras.optimizers.Adam())
    x_data = _digits_like(rng, 16)
    model(x_data[:2])  # builds it, as a user does by calling it (or fitting it)
    return Case("vae_subclassed", model, x_data, None, ("image",), ("image",))


# -- 7. A detector-like model: a class head and a box head -----------------------
def _two_output(rng) -> Case:
    n, size = 16, 32
    image = keras.Input(shape=(size, size, 3), name="image")
    x = layers.Conv2D(8, 3, activation="relu", padding="same")(image)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(16, 3, activation="relu", padding="same")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(16, activation="relu")(x)
    cls = layers.Dense(4, activation="softmax", name="class")(x)
    box = layers.Dense(4, name="box")(x)
    model = keras.Model(image, [cls, box])
    model.compile(
        optimizer="adam",
        loss={"class": "sparse_categorical_crossentropy", "box": "mse"},
        metrics={"class": ["accuracy"]},
    )
    # One square per image; its colour is the class, its corners the box (0..1).
    colours = np.array([[1, 0.2, 0.2], [0.2, 1, 0.2], [0.2, 0.2, 1], [1, 1, 0.2]], "float32")
    x_data = rng.uniform(0, 0.2, size=(n, size, size, 3)).astype("float32")
    classes = (np.arange(n) % 4).astype("int64")
    boxes = np.zeros((n, 4), "float32")
    for i in range(n):
        side = int(rng.integers(6, 16))
        y0, x0 = rng.integers(0, size - side, size=2)
        x_data[i][_square(size, y0, x0, side)] = colours[classes[i]]
        boxes[i] = np.array([y0, x0, y0 + side, x0 + side]) / size
    return Case(
        "two_output",
        model,
        x_data,
        {"class": classes, "box": boxes},
        ("image",),
        ("classes", "regression"),
        {"class_names": ["cat", "dog", "car", "tree"]},
    )


# -- 8. Structured data classification: named inputs ----------------------------
def _dict_tabular(rng) -> Case:
    n = 16
    num = keras.Input(shape=(4,), name="num", dtype="float32")
    cat = keras.Input(shape=(1,), name="cat", dtype="int32")
    c = layers.Flatten()(layers.Embedding(10, 3)(cat))
    x = layers.concatenate([num, c])
    x = layers.Dense(8, activation="relu")(x)
    output = layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model([num, cat], output)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    x_num = rng.normal(size=(n, 4)).astype("float32")
    x_cat = rng.integers(0, 10, size=(n, 1)).astype("int32")
    y_data = ((x_num[:, 0] + (x_cat[:, 0] > 4)) > 0.5).astype("int64")
    return Case(
        "dict_tabular",
        model,
        {"num": x_num, "cat": x_cat},
        y_data,
        ("tabular", "tabular"),
        ("classes",),
    )


def _dataframe_tabular(rng) -> Case:
    import pandas as pd

    n = 16
    names = ("age", "fare", "pclass")
    inputs = [keras.Input(shape=(1,), name=name) for name in names]
    x = layers.concatenate(inputs)
    x = layers.Dense(8, activation="relu")(x)
    output = layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs, output)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    # Titanic-like passengers: columns as read by pandas.read_csv (float, float, int).
    pclass = rng.integers(1, 4, size=n)
    frame = pd.DataFrame(
        {
            "age": rng.uniform(1, 70, size=n).round(0),
            "fare": (100 / pclass * rng.uniform(0.5, 1.5, size=n)).round(2),
            "pclass": pclass,
        }
    )
    survived = ((frame["pclass"] == 1) | (frame["age"] < 12)).to_numpy().astype("int64")
    return Case(
        "dataframe_tabular",
        model,
        frame,
        survived,
        ("tabular", "tabular", "tabular"),
        ("classes",),
    )


# -- 9. Custom layers with sublayers, and a nested Sequential ----------------------
@keras.saving.register_keras_serializable(package="zoo")
class ResidualBlock(layers.Layer):
    """conv-bn-relu-conv plus the input (projected by a 1x1 conv when widths differ)."""

    def __init__(self, filters, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.conv1 = layers.Conv2D(filters, 3, padding="same", name="conv1")
        self.bn = layers.BatchNormalization(name="bn")
        self.conv2 = layers.Conv2D(filters, 3, padding="same", name="conv2")
        self.project = None

    def build(self, input_shape):
        if input_shape[-1] != self.filters:
            self.project = layers.Conv2D(self.filters, 1, name="project")
            self.project.build(input_shape)
        self.conv1.build(input_shape)
        shape = (*input_shape[:-1], self.filters)
        self.bn.build(shape)
        self.conv2.build(shape)

    def call(self, inputs, training=None):
        h = self.conv1(inputs)
        h = self.bn(h, training=training)
        h = ops.relu(h)
        h = self.conv2(h)
        skip = inputs if self.project is None else self.project(inputs)
        return ops.relu(h + skip)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters}


def _custom_layers(rng) -> Case:
    n = 16
    stem = keras.Sequential(
        [keras.Input((16, 16, 3)), layers.Conv2D(8, 3, activation="relu")], name="stem"
    )
    inputs = keras.Input((16, 16, 3))
    x = stem(inputs)
    x = ResidualBlock(8, name="res1")(x)
    x = ResidualBlock(12, name="res2")(x)
    x = layers.GlobalAveragePooling2D()(x)
    logits = layers.Dense(5, name="logits")(x)
    model = keras.Model(inputs, logits)
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    x_data = rng.random((n, 16, 16, 3)).astype("float32")
    y_data = (np.arange(n) % 5).astype("int64")
    return Case("custom_layers", model, x_data, y_data, ("image",), ("classes",))


# -- 10. Data in a tf.data.Dataset ---------------------------------------------
def _tf_data(rng) -> Case:
    import tensorflow as tf

    n = 16
    model = keras.Sequential(
        [
            keras.Input((16, 16, 1)),
            layers.Conv2D(4, 3, activation="relu"),
            layers.Flatten(),
            layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    labels = (np.arange(n) % 3).astype("int64")
    images = rng.uniform(0, 0.3, size=(n, 16, 16, 1)).astype("float32")
    for i in range(n):  # a bright third of the image: top, middle or bottom
        images[i, labels[i] * 5 : labels[i] * 5 + 6] += 0.6
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(4)
    return Case("tf_data", model, dataset, None, ("image",), ("classes",))


# -- 11. Tabular regression -------------------------------------------------------
def _regression(rng) -> Case:
    n = 32
    model = keras.Sequential(
        [keras.Input((8,)), layers.Dense(16, activation="relu"), layers.Dense(1)]
    )
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    x_data = rng.normal(size=(n, 8)).astype("float32")
    weights = rng.normal(size=8)
    y_data = (x_data @ weights + 3.0 + rng.normal(0, 0.1, size=n)).astype("float32")
    return Case("regression", model, x_data, y_data, ("tabular",), ("regression",))


# -- 12. Multi-label image tagging ---------------------------------------------
def _multilabel(rng) -> Case:
    n, size, tags = 16, 16, 5
    model = keras.Sequential(
        [
            keras.Input((size, size, 3)),
            layers.Conv2D(8, 3, activation="relu", padding="same"),
            layers.MaxPooling2D(2),
            layers.Conv2D(8, 3, activation="relu", padding="same"),
            layers.GlobalAveragePooling2D(),
            layers.Dense(tags, activation="sigmoid"),
        ]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["binary_accuracy"])
    # Tag j: a patch in spot j (four corners and the centre).
    spots = [(0, 0), (0, 10), (10, 0), (10, 10), (5, 5)]
    y_data = (rng.random((n, tags)) < 0.4).astype("float32")
    x_data = rng.uniform(0, 0.2, size=(n, size, size, 3)).astype("float32")
    for i in range(n):
        for j, (y0, x0) in enumerate(spots):
            if y_data[i, j]:
                x_data[i, y0 : y0 + 6, x0 : x0 + 6] = rng.uniform(0.5, 1, size=3)
    return Case("multilabel", model, x_data, y_data, ("image",), ("multilabel",))


# -- 13. Dense autoencoder -------------------------------------------------------
def _autoencoder(rng) -> Case:
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Flatten(),
            layers.Dense(16, activation="relu", name="code"),
            layers.Dense(28 * 28, activation="sigmoid"),
            layers.Reshape((28, 28, 1)),
        ]
    )
    model.compile(optimizer="adam", loss="mse")
    x_data = _digits_like(rng, 16)
    return Case("autoencoder", model, x_data, x_data, ("image",), ("image",))


# -- 14. keras.applications, untrained -------------------------------------------
_APPLICATION_CLASSES = {
    "resnet50": "ResNet50",
    "efficientnetb0": "EfficientNetB0",
    "convnexttiny": "ConvNeXtTiny",
    "densenet121": "DenseNet121",
}


def _application(name: str):
    def make(rng) -> Case:
        # Every one of these takes 64 x 64 with weights=None (their minimum is 32).
        cls = getattr(keras.applications, _APPLICATION_CLASSES[name])
        model = cls(weights=None, input_shape=(64, 64, 3), classes=10)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        x_data = rng.random((4, 64, 64, 3)).astype("float32")
        y_data = rng.integers(0, 10, size=4).astype("int64")
        return Case(name, model, x_data, y_data, ("image",), ("classes",))

    return make


# -- 15. Image classification from scratch (Xception-like) ----------------------
def xception_model(input_shape=(180, 180, 3)) -> keras.Model:
    """keras-io's "Image classification from scratch" ``make_model`` (its widths; two
    classes as one sigmoid unit, the example's first version), not compiled."""
    inputs = keras.Input(shape=input_shape)
    # Entry block
    x = layers.Rescaling(1.0 / 255)(inputs)
    x = layers.Conv2D(128, 3, strides=2, padding="same")(x)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    previous_block_activation = x  # Set aside residual
    for size in [256, 512, 728]:
        x = layers.Activation("relu")(x)
        x = layers.SeparableConv2D(size, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
        x = layers.SeparableConv2D(size, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)
        x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
        # Project residual
        residual = layers.Conv2D(size, 1, strides=2, padding="same")(previous_block_activation)
        x = layers.add([x, residual])  # Add back residual
        previous_block_activation = x  # Set aside next residual
    x = layers.SeparableConv2D(1024, 3, padding="same")(x)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    x = layers.GlobalAveragePooling2D()(x)
    # Two classes: one sigmoid unit (the example's first version; it now emits a logit).
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    return keras.Model(inputs, outputs)


def _xception_like(rng) -> Case:
    # The example's widths, at its 180 x 180: a real model for the benchmarks.
    input_shape = (180, 180, 3)
    model = xception_model(input_shape)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy", metrics=["accuracy"]
    )
    # As image_dataset_from_directory yields them: float32 in 0..255.
    x_data = (rng.random((16, *input_shape)) * 255).astype("float32")
    y_data = (np.arange(16) % 2).astype("int64")
    return Case(
        "xception_like",
        model,
        x_data,
        y_data,
        ("image",),
        ("classes",),
        {"class_names": ["cat", "dog"]},
    )


_BUILDERS = {
    "text_transformer": _text_transformer,
    "bilstm": _bilstm,
    "timeseries_fcn": _timeseries_fcn,
    "unet": _unet,
    "vae_encoder": _vae_encoder,
    "vae_decoder": _vae_decoder,
    "vae_subclassed": _vae_subclassed,
    "two_output": _two_output,
    "dict_tabular": _dict_tabular,
    "dataframe_tabular": _dataframe_tabular,
    "custom_layers": _custom_layers,
    "tf_data": _tf_data,
    "regression": _regression,
    "multilabel": _multilabel,
    "autoencoder": _autoencoder,
    **{name: _application(name) for name in _APPLICATION_CLASSES},
    "xception_like": _xception_like,
}

#: Quick cases: each builds in well under two seconds.
SMALL: tuple[str, ...] = (
    "text_transformer",
    "bilstm",
    "timeseries_fcn",
    "unet",
    "vae_encoder",
    "vae_decoder",
    "vae_subclassed",
    "two_output",
    "dict_tabular",
    "dataframe_tabular",
    "custom_layers",
    "tf_data",
    "regression",
    "multilabel",
    "autoencoder",
)
#: Untrained keras.applications at 64 x 64 with 10 classes (seconds each to build).
APPLICATIONS: tuple[str, ...] = tuple(_APPLICATION_CLASSES)
#: Real-size models for the benchmarks (not quick).
LARGE: tuple[str, ...] = ("xception_like",)
#: Every case.
ALL: tuple[str, ...] = SMALL + APPLICATIONS + LARGE


def build(name: str) -> Case:
    """Build case ``name`` afresh, seeded with ``keras.utils.set_random_seed(0)``."""
    try:
        make = _BUILDERS[name]
    except KeyError:
        raise KeyError(f"no zoo case {name!r}; there are {', '.join(ALL)}") from None
    keras.utils.set_random_seed(0)
    return make(np.random.default_rng(0))
