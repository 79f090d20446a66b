"""The benchmarked models, each in a small notebook of its own, and what to click in it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Case:
    """One model in its own notebook, and what to click."""

    key: str
    title: str
    setup: str  # notebook code defining model, x, y
    layers: list[str]  # layer switches cycle over these
    input_layer: str  # selected while stepping through inputs
    goal_ms: float
    load_timeout_s: float = 300.0


def cases(n_inputs: int) -> dict[str, Case]:
    return {
        "cnn": Case(
            key="cnn",
            title="digits CNN",
            setup=(
                "x, y = nw.datasets.load_digits()\n"  # all 1797 digits
                "model = nw.datasets.demo_model()\n"
            ),
            layers=["conv1", "conv2", "pool", "flatten", "dense", "dropout", "probs"],
            input_layer="conv2",
            goal_ms=100.0,
        ),
        "mobilenet": Case(
            key="mobilenet",
            title="MobileNetV2 96",
            setup=(
                "import keras\n"
                "import numpy as np\n"
                "model = keras.applications.MobileNetV2(input_shape=(96, 96, 3), weights=None)\n"
                f"x = np.random.default_rng(0).random(({n_inputs}, 96, 96, 3), dtype=np.float32)\n"
                "y = None\n"
            ),
            layers=[
                "Conv1",  # conv, 48x48x32 output
                "bn_Conv1",  # batch norm: vectors as weights
                "block_1_expand_relu",  # no weights, 48x48x96 output
                "block_1_depthwise",  # depthwise conv
                "block_1_pad",  # zero padding, 49x49x96
                "block_2_add",  # add
                "block_16_project",  # 1x1 conv 960 -> 320
                "Conv_1",  # 1x1 conv 320 -> 1280
                "global_average_pooling2d",  # pooling to a 1280-vector (a line)
                "predictions",  # dense 1280 x 1000
            ],
            input_layer="block_1_expand",
            goal_ms=250.0,
        ),
        "densenet": Case(
            key="densenet",
            title="DenseNet121 64 (428 layers)",
            setup=(
                "import keras\n"
                "import numpy as np\n"
                "model = keras.applications.DenseNet121(\n"
                "    input_shape=(64, 64, 3), weights=None, classes=10\n"
                ")\n"
                f"x = np.random.default_rng(0).random(({n_inputs}, 64, 64, 3), dtype=np.float32)\n"
                "y = None\n"
            ),
            layers=[
                "conv1_conv",  # 7x7 conv, 32x32x64
                "conv2_block1_concat",  # a dense block's concatenation
                "conv3_block12_1_conv",  # 1x1 conv deep in the list
                "conv4_block24_concat",  # 1024 channels
                "pool4_conv",  # transition 1x1 conv
                "conv5_block16_2_conv",  # the last 3x3 conv, 2x2 maps
                "relu",  # final relu, 1024 channels
                "avg_pool",  # pooled vector
                "predictions",  # dense 1024 x 10
            ],
            input_layer="conv2_block1_concat",
            goal_ms=250.0,
        ),
    }


def notebook(setup: str) -> dict:
    code = (
        "import os\n"
        'os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"\n'
        "import nnwidgets as nw\n"
        f"{setup}"
        "app = nw.explore(model, x, y)\n"
        "display(app)\n"
    )
    return {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": "bench",
                "metadata": {},
                "outputs": [],
                "source": code,
            }
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
