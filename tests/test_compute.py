"""Pure computation, no widgets: imaging, display matrices, layer table, activations."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from nnwidgets.compute import display as D
from nnwidgets.compute import graph, imaging


def test_png_round_trip_keeps_pixels():
    rgb = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    png = imaging.encode_png(rgb)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    idat = png[png.index(b"IDAT") + 4 : png.index(b"IEND") - 8]
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(2, 1 + 9)
    assert (raw[:, 1:].reshape(2, 3, 3) == rgb).all()


def test_to_rgb_flags_nan_and_inf():
    rgb = imaging.to_rgb(np.array([[0.0, np.nan], [np.inf, 1.0]]), 0, 1)
    assert tuple(rgb[0, 1]) == imaging.BAD_COLOR == tuple(rgb[1, 0])
    assert tuple(rgb[0, 0]) != tuple(rgb[1, 1])


def test_block_reduce_bounds_size_and_absmax_keeps_spike():
    a = np.zeros((4096, 2048))
    a[1234, 777] = -9.0
    small = imaging.block_reduce(a, (384, 512), how="absmax")
    assert small.shape[0] <= 384 and small.shape[1] <= 512
    assert small.min() == -9.0


def test_block_reduce_keep_aspect_uses_one_factor_for_both_axes():
    a = np.ones((327, 647))
    assert imaging.block_reduce(a, (416, 352)).shape == (327, 324)  # a matrix: x only
    assert imaging.block_reduce(a, (416, 352), keep_aspect=True).shape == (164, 324)
    assert imaging.reduction_factors((416, 352), (416, 352), keep_aspect=True) == (1, 1)
    small = imaging.block_reduce(a, (416, 352), how="absmax", keep_aspect=True)
    assert small.shape == (164, 324)


def test_reduced_grid_tiles_are_not_darkened_by_their_gaps():
    pic = D.activation_picture(np.ones((40, 80, 64)), per_channel=False)
    assert pic.values.shape == (164, 324) and pic.gap.any()
    assert np.nanmin(pic.values[~pic.gap]) == 1.0


def test_ticks_at_any_magnitude():
    assert D.nice_ticks(-3e-30, 1e-30, 3).tolist() == [-4e-30, -2e-30, 0.0, 2e-30]
    assert D.nice_ticks(0, 1e30, 3).tolist() == [0.0, 5e29, 1e30]
    assert D.nice_ticks(0, 3, integer=True).tolist() == [0.0, 1.0, 2.0, 3.0]
    for n in (1, 2, 3, 7, 10, 64, 1280, 10**6):
        ticks = D.integer_ticks(0, n - 1, 6)
        assert 1 <= len(ticks) <= 6 and len(set(ticks)) == len(ticks)
        assert ticks.dtype.kind == "i" and ticks.min() >= 0 and ticks.max() <= n - 1


def test_decimate_keeps_extremes_and_bound():
    y = np.sin(np.arange(200_000) / 1000.0)
    y[123_457] = 50.0
    y[7] = -50.0
    idx, v = imaging.decimate_minmax(y, 2000)
    assert len(v) <= 2000
    assert v.max() == 50.0 and v.min() == -50.0
    assert np.all(np.diff(idx) > 0)


def test_finite_range_ignores_nan():
    assert imaging.finite_range(np.array([np.nan, 2.0, -1.0])) == (-1.0, 2.0)
    assert imaging.finite_range(np.array([np.nan])) == (0.0, 1.0)


def test_conv_kernel_is_tiled_per_filter():
    k = np.random.default_rng(0).normal(size=(3, 3, 2, 4))
    m = D.weight_picture(k, conv=True)
    assert m.values.shape == (2 * 4 - 1, 4 * 4 - 1)
    assert m.gap is not None and m.gap.sum() > 0
    assert m.size == (4, 2)  # axes count output and input channels, not pixels
    # the tile for input channel 1, output channel 2 is the kernel slice itself
    np.testing.assert_allclose(m.values[4:7, 8:11], k[:, :, 1, 2])


def test_big_weights_are_bounded():
    m = D.weight_picture(np.ones((4096, 2048)))
    assert m.values.shape[0] <= D.MAX_PICTURE[0] and m.values.shape[1] <= D.MAX_PICTURE[1]
    assert "of 4096" in m.note
    assert m.size == (2048, 4096)  # axes still count the real units


def test_dense_and_vector_weights():
    assert D.weight_picture(np.ones((5, 3))).values.shape == (5, 3)
    assert D.weight_picture(np.ones(7)).values.shape == (1, 7)
    assert D.weight_picture(np.ones((4, 2, 3))).values.shape == (4, 6)


def test_activation_pictures_by_rank():
    assert D.activation_picture(np.ones(5)) is None
    assert D.activation_picture(np.ones((6, 4))).values.shape == (6, 4)
    maps = np.random.default_rng(0).random((5, 5, 9))
    pic = D.activation_picture(maps, per_channel=True)
    assert pic.gap is not None and "9 channels" in pic.note
    assert np.nanmax(pic.values[~pic.gap]) == pytest.approx(1.0)


def test_stats_count_nan_and_inf():
    s = D.stats(np.array([1.0, np.nan, np.inf, 3.0]))
    assert (s["nan"], s["inf"], s["min"], s["max"]) == (1, 1, 1.0, 3.0)


def test_layer_table_and_recording_cover_every_layer(model_and_inputs):
    model, x = model_and_inputs
    from nnwidgets.compute import data

    graph.ensure_built(model, data.sample_shape(x))
    names = [info.name for info in graph.layer_table(model)]
    assert len(names) == len(set(names)) > 0
    record = {}
    out = graph.run_recording(model, data.take(x, 0), record)
    assert set(names) <= set(record), set(names) - set(record)
    expected = model(data.take(x, 0), training=False)
    np.testing.assert_allclose(np.asarray(out), np.asarray(expected), rtol=1e-5, atol=1e-5)
    for info in graph.layer_table(model):
        assert isinstance(info.label(), str) and info.param_count >= 0


def test_nested_layers_are_listed_with_paths():
    from tests.conftest import MODELS

    model, x = MODELS["nested"]()
    names = [info.name for info in graph.layer_table(model)]
    assert names[:2] == ["encoder", "encoder/inner_conv"] and names[-1] == "head"
    assert len(names) == 4 and names[2].startswith("encoder/global_average_pooling2d")


def test_mobilenet_records_all_layers(mobilenet):
    model, x = mobilenet
    record = {}
    graph.run_recording(model, x[:1], record)
    names = [info.name for info in graph.layer_table(model)]
    assert len(names) > 150 and set(names) <= set(record)
