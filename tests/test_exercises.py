"""Every chapter page ends with at least three exercises, each with a solution whose
computations are checked (CONTRIBUTING.md, "Exercises").

The pages are those of :data:`dlbook.pages.PAGES`; each page's exercises are read from
its MyST source (sphinx-exercise's gated directives), and from the built site where
there is one.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import missing_data

from dlbook.pages import PAGES
from dlbook_site.sphinx_cache import CODE_CELL, code_cells

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
# the page's last cell: hidden, ending with page.finish() (it may glue values first)
LAST_CELL = re.compile(
    r"^```\{code-cell\} ipython3\n:tags: \[remove-cell\]\n(?:(?!^```).*\n)*?"
    r"page\.finish\(\)\n```\s*\Z",
    re.MULTILINE,
)
DIRECTIVE = re.compile(
    r"^```\{(?P<name>exercise-start|exercise-end|solution-start|solution-end)\}"
    r"(?P<argument>[^\n]*)\n(?P<options>.*?)^```[ \t]*$",
    re.MULTILINE | re.DOTALL,
)
CHECK = re.compile(r"\bchecks\.(holds|at_least|at_most|greater|compare)\(")
GLUED = re.compile(r"""\bglue\(\s*["'](\w+)["']""")
PASTED = re.compile(r"\{glue(?::\w+)?\}`(\w+)`")
PLAIN_BLOCK = re.compile(
    r"^(`{3,}|~{3,})\s*(\w|\{(code-block|code|sourcecode|literalinclude)\})"
)
MINIMUM = 3


@dataclass
class Exercise:
    label: str
    solutions: list[dict] = field(default_factory=list)


def _options(block: str) -> dict[str, str]:
    options = {}
    for line in block.splitlines():
        match = re.match(r"^:(\w[\w-]*):\s*(.*)$", line.strip())
        if match:
            options[match.group(1)] = match.group(2).strip()
    return options


def exercises_of(source: str, page: str) -> list[Exercise]:
    """The exercises of a page's MyST source, in order, each with its solutions (their
    options, text and code cells); raises ``ValueError`` naming what is malformed."""
    exercises: dict[str, Exercise] = {}
    open_exercise = open_solution = None
    for match in DIRECTIVE.finditer(source):
        name, options = match["name"], _options(match["options"])
        if name == "exercise-start":
            if open_exercise or open_solution:
                raise ValueError(f"{page}: exercise-start inside another block")
            label = options.get("label", "")
            if not label or label in exercises:
                raise ValueError(f"{page}: exercise-start needs a new :label:")
            exercises[label] = Exercise(label)
            open_exercise = label
        elif name == "exercise-end":
            if open_exercise is None:
                raise ValueError(f"{page}: exercise-end without exercise-start")
            open_exercise = None
        elif name == "solution-start":
            if open_exercise or open_solution:
                raise ValueError(f"{page}: solution-start inside another block")
            target = match["argument"].strip()
            if target not in exercises:
                raise ValueError(f"{page}: solution of unknown exercise {target!r}")
            open_solution = {"options": options, "start": match.end(), "of": target}
        else:
            if open_solution is None:
                raise ValueError(f"{page}: solution-end without solution-start")
            text = source[open_solution["start"] : match.start()]
            exercises[open_solution["of"]].solutions.append(
                {**open_solution, "text": text, "cells": code_cells(text)}
            )
            open_solution = None
    if open_exercise or open_solution:
        raise ValueError(f"{page}: an exercise or solution is never closed")
    return list(exercises.values())


def _source(page: str) -> str:
    return (DOCS / f"{page}.md").read_text(encoding="utf-8")


def test_exercises_are_read_and_malformed_ones_refused():
    good = (
        "## Exercises\n\n```{exercise-start}\n:label: p-exercise-a\n```\n\nQ?\n\n"
        "```{exercise-end}\n```\n\n```{solution-start} p-exercise-a\n:class: dropdown\n"
        "```\n\nA: {glue:text}`ex_a`.\n\n```{code-cell} ipython3\n"
        'glue("ex_a", checks.holds(True, "exercise: a"))\n```\n\n'
        "```{solution-end}\n```\n"
    )
    (exercise,) = exercises_of(good, "p")
    assert exercise.label == "p-exercise-a"
    (solution,) = exercise.solutions
    assert solution["options"] == {"class": "dropdown"}
    assert solution["cells"] == ['glue("ex_a", checks.holds(True, "exercise: a"))']
    assert PASTED.findall(solution["text"]) == ["ex_a"]
    with pytest.raises(ValueError, match="never closed"):
        exercises_of(good.rsplit("```{solution-end}", 1)[0], "p")
    with pytest.raises(ValueError, match="unknown exercise 'p-exercise-b'"):
        exercises_of(
            good.replace(
                "solution-start} p-exercise-a", "solution-start} p-exercise-b"
            ),
            "p",
        )
    with pytest.raises(ValueError, match="needs a new :label:"):
        exercises_of(good.replace(":label: p-exercise-a\n", ""), "p")


@pytest.mark.parametrize("page", list(PAGES))
def test_page_ends_with_three_exercises_with_checked_solutions(page):
    source = _source(page)
    last = LAST_CELL.search(source)
    assert last, f"{page}: the last cell is not a hidden one ending with page.finish()"
    assert source.count("\n## Exercises\n") == 1, f"{page}: no '## Exercises' section"
    section = source[source.index("\n## Exercises\n") : last.start()]
    assert "\n## " not in section[1:], f"{page}: Exercises is not the last section"
    exercises = exercises_of(source, page)
    assert len(exercises) >= MINIMUM, f"{page}: {len(exercises)} exercises"
    assert len(exercises_of(section, page)) == len(exercises), (
        f"{page}: an exercise outside the Exercises section"
    )
    for line in section.splitlines():
        assert not PLAIN_BLOCK.match(line), (
            f"{page}: a plain code block in the exercises ({line!r}): the page's "
            "script would run it; name code inline or in a code cell"
        )
    for exercise in exercises:
        assert exercise.label.startswith(f"{page}-exercise-"), exercise.label
        assert exercise.solutions, f"{exercise.label} has no solution"
        for solution in exercise.solutions:
            assert solution["options"].get("class") == "dropdown", (
                f"{exercise.label}: the solution is not hidden (:class: dropdown)"
            )
            code = "\n".join(solution["cells"])
            if not code:
                continue
            assert CHECK.search(code), f"{exercise.label}: the solution checks nothing"
            glued = set(GLUED.findall(code))
            pasted = set(PASTED.findall(solution["text"]))
            assert glued & pasted, (
                f"{exercise.label}: its words paste none of the values it glues "
                f"(glued {sorted(glued)}, pasted {sorted(pasted)})"
            )
            assert all(name.startswith("ex_") for name in glued), (
                f"{exercise.label}: glue names of exercises start with 'ex_': "
                f"{sorted(glued)}"
            )


def _bound_and_read(code: str) -> tuple[set[str], set[str]]:
    """The names a cell binds at its top level (assignments, imports, definitions) and
    the names it reads."""
    lines = [ln for ln in code.splitlines() if not ln.lstrip().startswith(("%", "!"))]
    tree = ast.parse("\n".join(lines))
    bound, read = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (bound if isinstance(node.ctx, ast.Store) else read).add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            bound |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return bound, read


@pytest.mark.parametrize("page", list(PAGES))
def test_solutions_read_no_name_only_a_hidden_cell_defines(page):
    """Pasted, a page runs its visible cells only: a solution that reads a name only a
    hidden (``remove-cell``) cell binds fails there, though the build passes."""
    source = _source(page)
    if "\n## Exercises\n" not in source:
        pytest.skip(f"{page} has no exercises yet")
    start = source.index("\n## Exercises\n")
    hidden, visible = set(), set()
    for match in CODE_CELL.finditer(source[:start]):
        (cell,) = code_cells(match.group(0))
        bound, _ = _bound_and_read(cell)
        is_hidden = "remove-cell" in match.group("body").split("\n---\n")[0][:200]
        (hidden if is_hidden else visible).update(bound)
    only_hidden = hidden - visible
    for exercise in exercises_of(source, page):
        for solution in exercise.solutions:
            for cell in solution["cells"]:
                bound, read = _bound_and_read(cell)
                missing = (read & only_hidden) - visible - bound
                assert not missing, (
                    f"{exercise.label} reads {sorted(missing)}, which only a hidden "
                    "cell defines: pasted, the page does not run it"
                )
                visible |= bound


def test_exercise_labels_are_unique_across_pages():
    labels = [
        e.label
        for page in PAGES
        if (DOCS / f"{page}.md").is_file()
        for e in exercises_of(_source(page), page)
    ]
    assert len(labels) == len(set(labels))


@pytest.mark.parametrize("page", list(PAGES))
def test_built_page_hides_each_solution_behind_a_toggle(page, built_html):
    html = built_html / f"{page}.html"
    if not html.is_file():
        missing_data(f"the build wrote no {html.name}")
    text = html.read_text(encoding="utf-8")
    exercises = len(re.findall(r'class="exercise admonition"', text))
    solutions = len(re.findall(r'class="solution dropdown admonition"', text))
    if exercises == 0 and "## Exercises" in _source(page):
        missing_data(f"{html.name} was built before its exercises were written")
    assert exercises >= MINIMUM and solutions >= exercises
