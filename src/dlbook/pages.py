"""Where each page's code is: the map from the book's pages to the ``dlbook`` modules.

A page ``docs/<page>.md`` keeps no code of its own: it imports and shows the package's.
Most pages have one module of their name (``docs/convnets.md``: :mod:`dlbook.convnets`);
:data:`PAGES` names, for every page with code, the modules that hold it, so a page whose
code has other names (``memo``: :mod:`dlbook.last_layer`) or several modules
(``opencv``: :mod:`dlbook.vision`, :mod:`dlbook.video`, :mod:`dlbook.faces`) is found
here. :data:`SHARED` names what is no one page's code: the layers, helpers, data,
training core and page runtime that chapters and the weight ports stand on.
:data:`BUILDS_ON` says which pages reuse another page's module (its public names only),
from their cells or their modules.

Imports run one way: a page's module imports shared modules and the pages it builds
on; a shared module imports no page's module (the weight ports in
:mod:`dlbook.pretrained` import no chapter). ``tests/test_layout.py`` holds the map
against the code: against the imports of every page's code cells and of every module,
so it cannot go stale. Nothing imports this module; it imports nothing.
"""

from __future__ import annotations

#: page (``docs/<page>.md``) -> the ``dlbook`` modules that hold its code, the one
#: named like the page first where there is one; in the order of the book
PAGES: dict[str, tuple[str, ...]] = {
    "convnets": ("convnets",),
    "convnet_internals": ("convnet_internals",),
    "separable": ("separable",),
    "capsules": ("capsules",),
    "rnn": ("recurrent",),
    "forecasting": ("forecasting",),
    "text_encoding": ("encoding",),
    "word_embeddings": ("word_embeddings", "word2vec"),
    "transfer": ("transfer",),
    "functional": ("functional",),
    "style_transfer": ("style_transfer",),
    "generative": ("generative", "sample_quality"),
    "text_generation": ("textgen",),
    "dqn": ("dqn", "qlearning"),
    "transformers": ("attention", "seq2seq"),
    "opencv": ("vision", "video", "faces"),
    "memo": ("last_layer",),
    "text_models": ("text", "series_direction"),
    "architectures": ("architectures",),
    "training": ("training",),
}

#: what chapters and ports stand on, and what each holds (``training`` is also the
#: training page's code: the page shows the core every chapter trains through)
SHARED: dict[str, str] = {
    "base": "seeding, argument checks, the build's settings, the import closure",
    "data": "the one door to data: packaged datasets, generators, pinned archives",
    "training": "the one training core and the trained-model store",
    "book": "the page runtime: page template, claim checks, figure style",
    "models": "small model builders (a dense network)",
    "layers": "layers written out: multi-head attention (seq2seq, the MiniLM port)",
    "frechet": "the Fréchet distance of two samples (generative, style transfer)",
    "word_vectors": "a word-embedding space (word2vec's and the MiniLM port's)",
    "environments": "Gymnasium environments and episode runners (dqn, qlearning, video)",
    "pretrained": "pretrained-weight ports and the file readers they need",
    "pages": "this map",
}

#: page -> the other pages whose modules its cells or its modules import (public
#: names only)
BUILDS_ON: dict[str, tuple[str, ...]] = {
    "convnet_internals": ("convnets",),
    "separable": ("convnets",),
    "capsules": ("convnets",),
    "forecasting": ("rnn", "memo"),
    "text_encoding": ("text_models",),
    "word_embeddings": ("text_models",),
    "transfer": ("convnets", "text_models"),
    "generative": ("convnets",),
    "opencv": ("convnets",),
    "text_models": ("text_encoding", "forecasting"),
}
