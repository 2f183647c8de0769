"""The machinery that builds and tests the dlbook site: installed for building and
testing the book (``sitebuild/``, distribution ``dlbook-site``), never by ``pip install
'dlbook[data]'``; nothing in ``dlbook`` imports it.

- Sphinx extensions: the execution cache (:mod:`dlbook_site.sphinx_cache`), downloads
  and listings with their imports (:mod:`dlbook_site.downloads`,
  :mod:`dlbook_site.listings`), the API reference (:mod:`dlbook_site.api_reference`),
  the landing gallery (:mod:`dlbook_site.gallery`) and photographs served as JPEG
  (:mod:`dlbook_site.photos`);
- test tooling: a page as a script and the copy button's rule
  (:mod:`dlbook_site.scripts`), the reader's interpreter (:mod:`dlbook_site.reader`),
  page weights (:mod:`dlbook_site.weight`) and the settings the noxfile, ``docs/conf.py``
  and the tests share (:mod:`dlbook_site.settings`).

This file imports nothing: ``settings``, ``scripts`` and ``weight`` use the standard
library only and are also read by path where nothing of the book is installed (the
noxfile, the browser check).
"""
