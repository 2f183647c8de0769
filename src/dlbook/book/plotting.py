"""One figure style for the whole book, and the few plot helpers pages share."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np

from dlbook.base.validate import positive_int

#: Colour-blind-safe palette (Okabe-Ito), used in this order by every figure.
PALETTE = [
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#F0E442",
    "#000000",
]

STYLE = {
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "figure.figsize": (6.4, 3.6),
    "figure.constrained_layout.use": True,
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.prop_cycle": mpl.cycler(color=PALETTE),
    "lines.linewidth": 1.8,
    "legend.frameon": False,
    "image.cmap": "viridis",
    "svg.hashsalt": "dlbook",  # stable SVG ids from build to build
    # An opaque white background whatever the backend's default (matplotlib-inline
    # before 0.2 makes it transparent: black text on furo's dark theme). The dark
    # theme's rule in docs/_static/dlbook.css inverts plots, so it must be white.
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "savefig.transparent": False,
}


def use_book_style() -> None:
    """Apply the book's matplotlib style (called by ``dlbook.book.page.start_page``)."""
    mpl.rcParams.update(STYLE)


def figure(
    nrows: int = 1, ncols: int = 1, width: float = 6.4, height: float | None = None
):
    """A new figure in the book style; returns ``(fig, axes)`` like ``plt.subplots``."""
    nrows, ncols = positive_int("nrows", nrows), positive_int("ncols", ncols)
    if width <= 0 or (height is not None and height <= 0):
        raise ValueError(f"width and height must be positive, got {width}, {height}")
    use_book_style()
    height = height if height is not None else 2.8 * nrows
    return plt.subplots(nrows, ncols, figsize=(width, height), squeeze=False)


def plot_curves(
    ax,
    curves: dict[str, Sequence[float]],
    xlabel: str,
    ylabel: str,
    title="",
    start: int = 1,
):
    """Draw named curves on ``ax``, the n-th value at x = ``start`` + n (epochs count
    from 1 by default; pass ``start=0`` for e.g. shifts of 0, 1, 2... pixels)."""
    if not curves:
        raise ValueError("curves must hold at least one named series")
    for label, values in curves.items():
        ax.plot(range(start, start + len(values)), values, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend()
    return ax


def animation_html(animation, alt: str, fps: float = 1.5):
    """An animation as an inline animated GIF (``<img>`` with alt text).

    Plays offline with no script or web font, unlike matplotlib's JavaScript player,
    which fetches its button icons from a CDN.
    """
    import tempfile
    from pathlib import Path

    from matplotlib.animation import PillowWriter

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "animation.gif"
        animation.save(path, writer=PillowWriter(fps=fps))
        return _gif_html(path.read_bytes(), alt, 'style="max-width:100%"')


class InlineHTML:
    """HTML that a notebook shows as HTML (its display hook calls ``_repr_html_``) with
    no IPython import, so a reader's plain Python can make one too."""

    def __init__(self, data: str, label: str):
        self.data = data
        self.label = label

    def _repr_html_(self) -> str:
        return self.data

    def __repr__(self) -> str:
        return f"<{self.label}>"


def _gif_html(gif: bytes, alt: str, size: str) -> InlineHTML:
    """A GIF inline in an ``<img>`` tag, with ``alt`` text and a ``size`` attribute."""
    import base64

    if not alt:
        raise ValueError(
            "alt must describe the animation for readers who cannot see it"
        )
    encoded = base64.b64encode(gif).decode()
    quoted = alt.replace('"', "&quot;")
    return InlineHTML(
        f'<img src="data:image/gif;base64,{encoded}" alt="{quoted}" {size}>',
        f"animated GIF: {alt}",
    )


def frames_html(frames, alt: str, fps: float = 20, width: int = 300):
    """RGB ``frames`` (e.g. an environment's renders) as an inline animated GIF,
    each frame scaled to ``width`` pixels: written by Pillow straight from the arrays,
    many times faster than drawing each frame with matplotlib."""
    import io

    from PIL import Image

    if len(frames) == 0:
        raise ValueError("frames must hold at least one image")
    width = positive_int("width", width)
    images = []
    for frame in frames:
        image = Image.fromarray(np.asarray(frame, np.uint8))
        height = round(image.height * width / image.width)
        images.append(image.resize((width, height), Image.Resampling.LANCZOS))
    buffer = io.BytesIO()
    images[0].save(
        buffer,
        format="GIF",
        save_all=True,
        append_images=images[1:],
        duration=round(1000 / fps),
        loop=0,
    )
    return _gif_html(buffer.getvalue(), alt, f'width="{width}"')


def show_images(
    images, titles=(), ncols: int = 8, cmap: str = "gray", width: float = 9.0
):
    """A grid of images in the book style, axes off; returns the figure."""
    images = list(images)
    nrows = -(-len(images) // ncols)
    fig, axes = figure(nrows, ncols, width=width, height=width / ncols * nrows * 1.15)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, title in zip(
        axes.flat, images, [*titles, *[""] * len(images)], strict=False
    ):
        ax.imshow(image, cmap=cmap)
        ax.set_title(title, fontsize=8)
    return fig
