"""A page as a script: its code blocks as the copy button copies them, in page order.

The site's copy button (sphinx-copybutton) strips prompts by a regular expression and,
when a block has prompts, keeps only the prompted lines. Its settings are
:data:`COPY_BUTTON`, defined here once: ``docs/conf.py`` gives them to
sphinx-copybutton, :func:`copied_text` applies the same rule (:data:`SITE_RULE`), so the
script a reader downloads (:mod:`dlbook_site.downloads`) is exactly what pasting the
blocks one by one would run, and the tests check both against the copy button itself
(``tests/browser``). ``nox -s tests`` runs every page's script in a fresh interpreter
(:mod:`dlbook_site.reader`).

Standard library only: the browser check reads this file by path.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

PYTHON_LANGUAGES = frozenset({"python", "python3", "py", "ipython", "ipython3"})
# the copybutton_* settings CopyRule follows (the selector and the excluded nodes say
# which blocks get a button and which of their nodes are not text)
_MODELLED = frozenset(
    {
        "copybutton_selector",
        "copybutton_exclude",
        "copybutton_prompt_text",
        "copybutton_prompt_is_regexp",
        "copybutton_only_copy_prompt_lines",
    }
)


@dataclass(frozen=True)
class CopyRule:
    """The copy button's settings: ``copybutton_prompt_text`` (a regular expression if
    ``is_regexp``) and ``copybutton_only_copy_prompt_lines``."""

    prompt: str = ""
    is_regexp: bool = False
    only_prompt_lines: bool = True

    def pattern(self) -> re.Pattern | None:
        if not self.prompt:
            return None
        return re.compile(self.prompt if self.is_regexp else re.escape(self.prompt))

    @classmethod
    def of(cls, settings: dict) -> CopyRule:
        """The rule that sphinx-copybutton's ``copybutton_*`` ``settings`` set (its
        defaults for those they leave out). A setting the rule does not model (line
        continuation, here-documents, prompts kept) is refused rather than ignored."""
        unknown = sorted(set(settings) - _MODELLED)
        if unknown:
            raise ValueError(
                f"settings: CopyRule models {sorted(_MODELLED)}, not {unknown}"
            )
        return cls(
            settings.get("copybutton_prompt_text", ""),
            settings.get("copybutton_prompt_is_regexp", False),
            settings.get("copybutton_only_copy_prompt_lines", True),
        )


#: The site's copy button: sphinx-copybutton's settings, which ``docs/conf.py`` sets
#: from here. Code is copied without prompts or outputs; no copy button on outputs.
COPY_BUTTON = {
    "copybutton_selector": ":not(.output) > div.highlight pre",
    "copybutton_prompt_text": r">>> |\.\.\. |\$ |In \[\d*\]: | {2,5}\.\.\.: ",
    "copybutton_prompt_is_regexp": True,
    "copybutton_only_copy_prompt_lines": True,
    "copybutton_exclude": ".linenos, .gp, .go",
}
#: What the site's copy button does to a block's text.
SITE_RULE = CopyRule.of(COPY_BUTTON)


def copied_text(code: str, rule: CopyRule = SITE_RULE) -> str:
    """What the copy button puts on the clipboard for a block showing ``code``.

    As sphinx-copybutton's ``formatCopyText`` (prompts removed, empty lines copied, no
    line continuation): a line starting with a prompt loses it; if any line has one and
    ``only_prompt_lines`` is set, other non-empty lines (outputs) are dropped; a block
    without prompts is copied whole; one trailing newline is removed.
    """
    pattern = rule.pattern()
    if pattern is not None:
        kept, prompted = [], False
        for line in code.split("\n"):
            match = pattern.match(line)
            if match:
                prompted = True
                kept.append(line[match.end() :])
            elif not rule.only_prompt_lines or not line.strip():
                kept.append(line)
        if prompted:
            code = "\n".join(kept)
    return code[:-1] if code.endswith("\n") else code


@dataclass(frozen=True)
class Block:
    """One code block of a page: its highlight language, its text, and what it is
    (``"cell"`` for a code cell, ``"listing"`` for a source listing)."""

    language: str
    code: str
    kind: str = "cell"


def page_script(title: str, blocks: list[Block], rule: CopyRule, note: str = "") -> str:
    """The page's script: every Python block as copied, in order, separated by ``# %%``
    cell markers (Jupytext, VS Code and Spyder run them as cells); blocks in other
    languages (shell commands) become comments."""
    # an explicit coding line first: a title such as "Text encoding: one-hot" on
    # line 1 would read as a PEP 263 declaration of an encoding named "one-hot"
    header = ["# -*- coding: utf-8 -*-", f"# {title}", "#"]
    header += [f"# {line}".rstrip() for line in note.splitlines()]
    parts = ["\n".join(header)]
    for block in blocks:
        text = copied_text(block.code.rstrip("\n"), rule)
        if block.language in PYTHON_LANGUAGES:
            marker = "# %%" if block.kind == "cell" else "# %% source listing"
            parts.append(f"{marker}\n{text}")
        else:
            commented = "\n".join(f"# {ln}".rstrip() for ln in text.splitlines())
            parts.append(
                f"# %% [{block.language}] (not Python: run in a shell)\n{commented}"
            )
    return "\n\n".join(parts) + "\n"


def _import_bindings(code: str) -> dict[str, str]:
    """The names a block's top-level imports bind, each with the statement binding it."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return {}
    bound = {}
    for node in tree.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                name = alias.asname or alias.name.split(".")[0]
                bound[name] = f"import {alias.name}" + (
                    f" as {alias.asname}" if alias.asname else ""
                )
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                bound[alias.asname or alias.name] = (
                    f"from {'.' * node.level}{node.module or ''} import {alias.name}"
                )
    return bound


def rebound_imports(blocks: list[Block], rule: CopyRule) -> list[str]:
    """Names a later block imports from somewhere else than an earlier block did: pasted
    in order, the later import silently replaces what the earlier cells meant (a
    listing's ``from dlbook.vision import cv2`` over a page's ``import cv2``)."""
    seen: dict[str, str] = {}
    clashes = []
    for block in blocks:
        if block.language not in PYTHON_LANGUAGES:
            continue
        for name, line in _import_bindings(copied_text(block.code, rule)).items():
            if name in seen and seen[name] != line:
                clashes.append(f"{name!r}: {seen[name]!r}, then {line!r}")
            seen[name] = line
    return clashes
