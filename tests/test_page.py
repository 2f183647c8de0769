"""The page template works in a reader's plain Python: no kernel, no myst-nb."""

import pytest

from dlbook_site import reader

SCRIPT = """
from dlbook.book.page import glue, start_page

page = start_page()
glue("answer", 42)
print(page.seed, page.finish())
"""


def test_start_page_and_glue_run_without_myst_nb_or_a_kernel(tmp_path):
    """In the reader's interpreter (dlbook_site.reader): myst-nb, IPython and
    everything else that `pip install 'dlbook[data]'` does not install is blocked."""
    script = tmp_path / "page.py"
    script.write_text(SCRIPT)
    done = reader.run_script(script, tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    seed, sentence = done.stdout.strip().split(" ", 1)
    assert seed == "20181"
    assert sentence.startswith("0 trainings, 0 restored from the trained-model store")


def test_finish_counts_the_trainings_of_this_page(monkeypatch):
    from dlbook.base import ledger
    from dlbook.book import page

    run = page.start_page()
    monkeypatch.setattr(
        ledger,
        "TRAININGS",
        [
            *ledger.TRAININGS,
            ledger.Training("a", 30.0, True),
            ledger.Training("b", 5.0, False),
        ],
    )
    glued = {}
    monkeypatch.setattr(
        page, "glue", lambda name, value, display=False: glued.update({name: value})
    )
    sentence = run.finish()
    assert sentence.startswith("2 trainings, 1 restored from the trained-model store")
    assert (
        float(glued["runtime"].split()[0]) >= 30
    )  # the restored 30 s count as cold cost


def test_a_cold_run_pays_each_training_once():
    from dlbook.base.ledger import Training, cold_seconds

    # restored twice: a cold run trains it once
    assert cold_seconds([Training("a", 30.0, True), Training("a", 30.0, True)]) == 30
    # trained here, then restored: its time is already on this run's clock
    assert cold_seconds([Training("b", 5.0, False), Training("b", 5.0, True)]) == 0
    assert cold_seconds([Training("a", 30.0, True), Training("c", 2.0, True)]) == 32
    assert cold_seconds([]) == 0


def test_the_page_seed_comes_from_dlbook_seed_or_the_default(monkeypatch):
    from dlbook.base.seeding import DEFAULT_SEED
    from dlbook.book import page

    monkeypatch.delenv(page.SEED_VAR, raising=False)
    assert page.page_seed() == DEFAULT_SEED
    monkeypatch.setenv(page.SEED_VAR, "7")
    assert page.page_seed() == 7
    for bad in ("seven", "-1", str(2**32)):
        monkeypatch.setenv(page.SEED_VAR, bad)
        with pytest.raises(ValueError, match="DLBOOK_SEED"):
            page.page_seed()


def test_the_header_says_whether_the_page_shared_the_cores():
    from dlbook.book.page import sharing

    assert sharing(1.9, 2).endswith("it had the cores about to itself")
    shared = sharing(3.9, 2)
    assert "was 3.9 on 2 cores" in shared and "other work shared the cores" in shared
    assert sharing(None, 2) == "the machine's load was not measurable here"
    # no parenthesis or semicolon: the header wraps it in one, nbval's sanitizer stops
    # at either
    assert not set("();") & set(shared)
