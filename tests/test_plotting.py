import matplotlib as mpl
import numpy as np
import pytest

from dlbook.book import plotting


def test_figure_applies_the_book_style():
    fig, axes = plotting.figure(2, 3)
    assert axes.shape == (2, 3)
    assert mpl.rcParams["axes.spines.top"] is False
    assert mpl.rcParams["axes.prop_cycle"].by_key()["color"][0] == plotting.PALETTE[0]


def test_plot_curves_draws_one_line_per_series():
    _, axes = plotting.figure()
    ax = plotting.plot_curves(
        axes[0, 0], {"train": [3, 2, 1], "val": [3, 2.5, 2]}, "epoch", "loss"
    )
    assert len(ax.lines) == 2
    assert list(ax.lines[0].get_xdata()) == [1, 2, 3]


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"nrows": 0}, "nrows"), ({"ncols": 1.5}, "ncols"), ({"width": -1}, "width")],
)
def test_bad_figure_arguments_are_named(kwargs, name):
    with pytest.raises(ValueError, match=name):
        plotting.figure(**kwargs)


def test_plot_curves_needs_a_series():
    _, axes = plotting.figure()
    with pytest.raises(ValueError, match="curves"):
        plotting.plot_curves(axes[0, 0], {}, "epoch", "loss")


def test_animation_html_is_an_offline_gif_with_alt_text():
    from matplotlib.animation import FuncAnimation

    fig, axes = plotting.figure()
    line = axes[0, 0].plot([0, 1], [0, 0])[0]
    anim = FuncAnimation(fig, lambda i: line.set_ydata([i, i]), frames=3)
    html = plotting.animation_html(anim, alt='a "moving" line').data
    assert html.startswith('<img src="data:image/gif;base64,')
    assert 'alt="a &quot;moving&quot; line"' in html and "http" not in html
    with pytest.raises(ValueError, match="alt"):
        plotting.animation_html(anim, alt="")


def test_a_book_figure_saves_on_an_opaque_white_background(tmp_path):
    """The dark theme inverts plots (docs/_static/dlbook.css): that needs a known,
    opaque background, whatever the backend's default (matplotlib-inline < 0.2 made
    it transparent, and black text vanished on a dark page)."""
    import numpy as np
    from PIL import Image

    with mpl.rc_context({"figure.facecolor": (1, 1, 1, 0)}):  # an old inline backend's
        fig, axes = plotting.figure()
        axes[0, 0].plot([0, 1], [0, 1])
        fig.savefig(tmp_path / "figure.png")
    pixels = np.asarray(Image.open(tmp_path / "figure.png").convert("RGBA"))
    assert (pixels[..., 3] == 255).all(), "every pixel is opaque"
    assert (pixels[0, 0] == 255).all() and (pixels[-1, -1] == 255).all(), "white"


def test_inline_html_shows_as_html_without_ipython():
    frames = np.zeros((2, 8, 8, 3), np.uint8)
    html = plotting.frames_html(frames, alt="two black frames", width=8)
    assert html._repr_html_() == html.data and 'width="8"' in html.data
    # nbval compares the text form: it must not hold an address
    assert repr(html) == "<animated GIF: two black frames>"
