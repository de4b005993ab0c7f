"""helpers.plots: the figures build with every combination of options the notebooks use."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from helpers import plots  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_show_images_titles_colors_and_grayscale():
    pictures = [np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8), np.uint8), np.ones((8, 8, 3))]
    fig = plots.show_images(pictures, titles=["a", "b", "c"], ncols=2)  # titles without colours
    assert len(fig.axes) == 4 and [ax.get_title() for ax in fig.axes[:3]] == ["a", "b", "c"]
    fig = plots.show_images(pictures, titles=["a", "b", "c"], colors=["red", "green", "blue"])
    assert fig.axes[2].title.get_color() == "blue"
    assert plots.show_images(pictures).axes[0].get_title() == ""


def test_top_predictions_with_and_without_the_original():
    predictions = [("n1", "tabby", 0.6), ("n2", "tiger_cat", 0.3), ("n3", "lynx", 0.1)]
    fig = plots.plot_top_predictions(np.zeros((8, 8, 3), np.uint8), predictions, original=np.zeros((8, 16, 3)))
    assert len(fig.axes) == 3
    bars = fig.axes[-1]
    assert [t.get_text() for t in bars.get_yticklabels()] == ["lynx", "tiger cat", "tabby"]  # best on top
    assert len(plots.plot_top_predictions(np.zeros((8, 8, 3)), predictions).axes) == 2


def test_training_curves_two_panels_and_fine_tuning_marker():
    history = {"accuracy": [0.5, 0.9], "val_accuracy": [0.4, 0.8], "loss": [1.0, 0.2], "val_loss": [1.2, 0.5]}
    fig = plots.plot_training_curves({"transfer": history, "scratch": {"accuracy": [0.5], "loss": [0.7]}},
                                     fine_tune_epoch=1)
    accuracy, loss = fig.axes
    assert (accuracy.get_title(), loss.get_title()) == ("accuracy", "loss")
    assert len(accuracy.lines) == 3 + 1  # transfer train + validation, scratch train, the marker
    assert any("fine-tuning" in t.get_text() for t in loss.texts)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [
        "transfer (train)", "transfer (validation)", "scratch (train)"]


def test_fine_tuning_label_sits_above_the_curves():
    history = {"accuracy": [0.5, 1.0, 1.0], "loss": [1.0, 0.1, 0.0]}
    fig = plots.plot_training_curves({"transfer": history}, fine_tune_epoch=1)
    for ax in fig.axes:
        (label,) = [t for t in ax.texts if "fine-tuning" in t.get_text()]
        assert label.get_position()[1] >= 1 and label.get_transform() == ax.get_xaxis_transform()  # above the axes


def test_accuracy_axis_zooms_to_the_curves():
    history = {"accuracy": [0.95, 0.97, 0.98], "val_accuracy": [0.96, 0.975, 0.978], "loss": [0.2, 0.1, 0.05]}
    low, high = plots.plot_training_curves({"dnn": history}).axes[0].get_ylim()
    assert 0.9 < low < 0.95 and 0.98 < high <= 1.02
    low, high = plots.plot_training_curves({"bad": {"accuracy": [0.0, 1.0], "loss": [1.0, 0.0]}}).axes[0].get_ylim()
    assert (low, high) == (0, 1.02)  # the margins never go below 0 or far above 1


def test_spread_out_moves_piled_points_apart_and_leaves_lone_ones():
    points = np.array([[0, 0], [0.1, 0], [0, 0.1], [0, 0], [10, 10]])  # a pile (with a copy) and a lone point
    spread = plots.spread_out(points, min_distance=1)
    distances = np.linalg.norm(spread[:, None] - spread[None], axis=-1)[np.triu_indices(len(points), 1)]
    assert distances.min() > 0.95
    np.testing.assert_allclose(spread[-1], points[-1], atol=1e-2)
    assert np.linalg.norm(spread[:4].mean(axis=0) - points[:4].mean(axis=0)) < 0.1  # the pile stays where it was


def test_thumbnail_map_draws_every_thumbnail_apart():
    fig, ax = plt.subplots(figsize=(4, 4))
    thumbnails = [np.zeros((16, 16, 3))] * 5
    spread = plots.thumbnail_map(ax, np.zeros((5, 2)) + [[0, 0], [0, 0], [1e-3, 0], [0, 1e-3], [5, 5]], thumbnails,
                                 ["red"] * 5)
    assert len(ax.artists) == 5 and len(np.unique(spread.round(6), axis=0)) == 5
    low, high = ax.get_xlim()
    assert low <= spread[:, 0].min() and spread[:, 0].max() <= high


def test_top_predictions_label_the_network_input_and_leave_no_gap():
    predictions = [("n1", "macaw", 0.998), ("n2", "lorikeet", 0.0015), ("n3", "toucan", 0.0005)]
    fig = plots.plot_top_predictions(np.zeros((8, 8, 3)), predictions, title="parrot.jpg", original=np.zeros((16, 6, 3)))
    original, crop, bars = fig.axes
    fig.canvas.draw()  # constrained layout places the axes when drawn
    assert "network's input" in crop.get_title() and "8x8" in crop.get_title()
    assert fig._suptitle.get_text() == "parrot.jpg"
    assert [t.get_text() for t in bars.texts] == ["<0.1%", "0.1%", "100%"]  # each bar says its probability
    # the panels are as wide as their images: the tall original's panel is narrower than the square crop's
    assert original.get_position().width < 0.6 * crop.get_position().width


def test_training_curves_title():
    fig = plots.plot_training_curves({"run": {"accuracy": [0.5, 0.75], "loss": [1.0, 0.5]}}, title="4 photos")
    assert fig._suptitle.get_text() == "4 photos"


def test_thumbnail_map_frame_styles():
    fig, ax = plt.subplots(figsize=(4, 4))
    plots.thumbnail_map(ax, [[0, 0], [5, 5]], [np.zeros((16, 16, 3))] * 2, ["red", "blue"], frame_styles=["-", "--"])
    frames = [artist.patch for artist in ax.artists]
    assert frames[0].get_linestyle() == "-" and frames[1].get_linestyle() == "--"


def test_waterfall_steps_from_the_start_to_the_total():
    ax = plots.plot_waterfall(["a", "b", "the others"], [0.5, -0.25, -1.0], start=0.25,
                              start_label="intercept", total_label="decision value")
    assert [t.get_text() for t in ax.get_yticklabels()] == ["intercept", "a", "b", "the others", "decision value"]
    bars = sorted(ax.patches, key=lambda bar: -bar.get_y())  # top to bottom
    lefts_rights = [tuple(sorted((round(bar.get_x(), 6), round(bar.get_x() + bar.get_width(), 6)))) for bar in bars]
    assert lefts_rights == [(0, 0.25), (0.25, 0.75), (0.5, 0.75), (-0.5, 0.5), (-0.5, 0)]  # the total: -0.5
    assert bars[1].get_facecolor() != bars[2].get_facecolor()  # a step up and a step down differ in colour
