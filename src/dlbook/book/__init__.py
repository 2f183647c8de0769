"""The page runtime: what a page's cells import and a reader pastes with them. The page
template (:mod:`dlbook.book.page`: seeding, glue, the run time), claim checks
(:mod:`dlbook.book.checks`) and the figure style (:mod:`dlbook.book.plotting`, the one
module of here that chapter code imports).

The machinery that builds and tests the site (Sphinx extensions, page scripts, page
weights) is not part of ``dlbook``: it is the package ``dlbook_site`` (``sitebuild/``),
which ``pip install 'dlbook[data]'`` does not install."""
