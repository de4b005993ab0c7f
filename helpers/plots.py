"""The course's recurring figures: image grids, top-k bars, training curves."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.offsetbox import AnnotationBbox, OffsetImage
from matplotlib.ticker import MaxNLocator

__all__ = ["plot_top_predictions", "plot_training_curves", "show_images", "spread_out", "thumbnail_map"]


def show_images(images, titles=None, ncols: int = 5, size: float = 2.4, colors=None):
    """A grid of images with optional titles (``colors``: one title colour per image)."""
    images = list(images)
    nrows = max(1, math.ceil(len(images) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < len(images):
            image = images[i]
            ax.imshow(image, cmap="gray" if np.ndim(image) == 2 else None)
            if titles is not None:
                ax.set_title(titles[i], fontsize=9, **({} if colors is None else {"color": colors[i]}))
    fig.tight_layout()
    return fig


def plot_top_predictions(image, predictions, title: str = "", original=None):
    """The crop the network sees (and the original photo) beside a bar chart of its top-k guesses.

    ``predictions``: [(wnid, name, probability), ...] as from ``backbones.decode_predictions``.
    ``title`` (a file name, say) heads the figure; the crop is labelled as the network's input, with
    its size. Each photo panel is as wide as its image, so a tall original leaves no empty gap.
    """
    shown = ([original] if original is not None else []) + [image]
    widths = [np.shape(picture)[1] / np.shape(picture)[0] for picture in shown]  # at a common height
    height, bars_width = 2.4, 4.2  # inches: the photos' height, the bar chart's width
    fig, axes = plt.subplots(1, len(shown) + 1, figsize=(height * sum(widths) + bars_width, height + 1.3),
                             width_ratios=[*widths, bars_width / height], layout="constrained")
    if original is not None:
        axes[0].imshow(original)
        axes[0].set_title(f"original {np.shape(original)[1]}x{np.shape(original)[0]}", fontsize=9)
    axes[-2].imshow(image)
    axes[-2].set_title(f"the network's input\n(centre crop, {np.shape(image)[1]}x{np.shape(image)[0]})", fontsize=9)
    for ax in axes[:-1]:
        ax.axis("off")
    names = [name.replace("_", " ") for _, name, _ in predictions][::-1]
    probabilities = [p for *_, p in predictions][::-1]
    bars = axes[-1].barh(names, probabilities, color="tab:blue")
    axes[-1].bar_label(bars, labels=["<0.1%" if p < 0.001 else f"{p:.1%}" if p < 0.995 else f"{p:.0%}"
                                     for p in probabilities],
                       fontsize=8, padding=2)  # tiny bars stay readable
    axes[-1].set_xlim(0, 1.18)
    axes[-1].set_xticks([0, 0.5, 1])
    axes[-1].set_xlabel("probability")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig  # constrained layout: the bar chart's labels widen no gap between the photos


def plot_training_curves(histories: dict[str, dict], fine_tune_epoch: int | None = None, title: str = ""):
    """Two panels (accuracy, loss), train solid and validation dashed, one colour per run.

    ``histories``: {run name: keras History.history dict}. ``fine_tune_epoch`` draws
    the "start fine-tuning" marker, as in TensorFlow's transfer-learning tutorial.
    ``title`` heads the figure (say what one validation photo is worth, when there are few).
    """
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for (run, history), color in zip(histories.items(), plt.rcParams["axes.prop_cycle"].by_key()["color"]):
        for ax, metric in zip(axes, ["accuracy", "loss"]):
            epochs = np.arange(1, len(history[metric]) + 1)
            ax.plot(epochs, history[metric], color=color, label=f"{run} (train)")
            if f"val_{metric}" in history:
                ax.plot(epochs, history[f"val_{metric}"], "--", color=color, label=f"{run} (validation)")
    # Accuracy: zoom to the curves (a 0-1 axis squashes 97% vs 99% into one line), never past 0 or 1.
    low, high = axes[0].get_ylim()
    axes[0].set_ylim(max(low, 0), min(high, 1.02))
    for ax, metric in zip(axes, ["accuracy", "loss"]):
        if fine_tune_epoch is not None:
            ax.axvline(fine_tune_epoch + 0.5, color="gray", linestyle=":")
            # the label sits just above the axes (x in epochs, y in axes units), never over a curve
            ax.text(fine_tune_epoch + 0.5, 1.01, "start fine-tuning", transform=ax.get_xaxis_transform(),
                    ha="center", va="bottom", fontsize=8, color="gray")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # whole epochs: no "epoch 2.5"
        ax.set_title(metric, pad=16 if fine_tune_epoch is not None else 6)  # room for the label
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()  # below the panels: never over a curve
    fig.legend(handles, labels, loc="lower center", ncol=min(4, len(labels)), fontsize=8, frameon=False)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return fig


def spread_out(points, min_distance: float = 1.0, steps: int = 500) -> np.ndarray:
    """Positions close to ``points`` (n, 2) but at least about ``min_distance`` apart.

    For thumbnails or labels that would pile up: each step pushes every pair that is
    too close apart, half the overlap each, along the line between them.
    """
    positions = np.array(points, dtype=float)
    # exact copies have no line between them: nudge them apart first (deterministically)
    positions += np.random.default_rng(0).normal(scale=1e-3 * min_distance, size=positions.shape)
    for _ in range(steps):
        offsets = positions[:, None] - positions[None]  # (n, n, 2): from each point to each other one
        distances = np.linalg.norm(offsets, axis=-1)
        np.fill_diagonal(distances, np.inf)
        overlap = np.clip(min_distance - distances, 0, None)
        if overlap.max() < 1e-3 * min_distance:
            break
        positions += (offsets / distances[..., None] * overlap[..., None] / 2).sum(axis=1)
    return positions


def thumbnail_map(ax, coordinates, thumbnails, frame_colors, zoom: float = 0.22, frame_styles=None):
    """Draw each thumbnail at its 2-D coordinates; thumbnails that would overlap are moved apart,
    with a dot at the true position and a line to the thumbnail.

    ``frame_styles``: one line style per frame ("-", "--", ":"...), e.g. dashed for photos coloured
    by a predicted class rather than a known one; solid by default.
    """
    coordinates = np.asarray(coordinates, dtype=float)
    ax.scatter(*coordinates.T, s=12, c=frame_colors, zorder=3)  # also sets the axis limits
    ax.margins(0.12)
    ax.figure.canvas.draw()  # the axes' final size in pixels, to measure thumbnails in data units
    width_px, height_px = ax.get_window_extent().size
    thumbnail_px = max(np.shape(t)[0] for t in thumbnails) * zoom * ax.figure.dpi / 72  # OffsetImage scales by dpi
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    # in units of one thumbnail (plus a small gap): the thumbnails must be 1 apart
    unit = np.array([(x1 - x0) / width_px, (y1 - y0) / height_px]) * thumbnail_px * 1.15
    spread = spread_out(coordinates / unit) * unit
    frame_styles = ["-"] * len(thumbnails) if frame_styles is None else frame_styles
    for thumbnail, xy, box_xy, color, style in zip(thumbnails, coordinates, spread, frame_colors, frame_styles):
        ax.add_artist(AnnotationBbox(
            OffsetImage(thumbnail, zoom=zoom), xy, xybox=box_xy, pad=0.15,
            bboxprops=dict(edgecolor=color, linewidth=2, linestyle=style),
            arrowprops=dict(arrowstyle="-", color=color, linewidth=1)))
    ax.update_datalim(spread)
    ax.autoscale_view()
    return spread


def plot_waterfall(names, values, start: float, start_label: str, total_label: str, colors=("tab:blue", "tab:orange"),
                   ax=None):
    """A horizontal waterfall: from ``start``, one step per (name, value), down to the total.

    For a linear model's decision: ``start`` is the intercept, each step one feature's contribution
    (``colors``: negative, positive steps), and the last bar the decision value, ``start + sum(values)``.
    A vertical line marks 0, the decision boundary. Returns the axes.
    """
    values = np.asarray(values, dtype=float)
    ax = ax if ax is not None else plt.subplots(figsize=(7, 0.3 * len(values) + 1.5))[1]
    ends = start + np.cumsum(values)
    lefts = np.concatenate([[start], ends[:-1]])
    total = start + values.sum()
    labels = [start_label, *names, total_label]
    rows = np.arange(len(labels))[::-1]  # first on top
    ax.barh(rows[0], start, color="gray")
    ax.barh(rows[1:-1], values, left=lefts, color=[colors[int(v > 0)] for v in values])
    ax.barh(rows[-1], total, color=colors[int(total > 0)], edgecolor="black")
    for row, end in zip(rows[1:], ends):  # thin connectors from each step to the next bar
        ax.plot([end, end], [row - 0.4, row - 0.6], color="gray", linewidth=0.8)
    ax.set_yticks(rows, labels)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.grid(axis="x", alpha=0.3)
    return ax
