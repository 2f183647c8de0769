"""The API reference's maps (dlbook_site.api_reference) on a small fake package."""

from pathlib import Path

from dlbook.base.closure import PackageIndex
from dlbook_site.api_reference import Resolver, compute_uses, modules

ROOT = Path(__file__).resolve().parents[1]


def _package(tmp_path):
    pkg = tmp_path / "fake"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from fake.sub.core import fit\n")
    (pkg / "sub" / "core.py").write_text(
        "import fake.helpers\n\ndef fit():\n    pass\n"
    )
    (pkg / "helpers.py").write_text("class Tool:\n    def use(self):\n        pass\n")
    (pkg / "_private.py").write_text("")
    return PackageIndex("fake", pkg)


def test_resolver_follows_reexports(tmp_path):
    resolver = Resolver(_package(tmp_path))
    assert resolver.resolve("fake.sub.fit") == "fake.sub.core.fit"
    assert resolver.resolve("fake.helpers.Tool.use") == "fake.helpers.Tool.use"
    assert resolver.resolve("fake.sub.missing") is None


def test_modules_skip_private_ones(tmp_path):
    assert modules(_package(tmp_path)) == [
        "fake.helpers",
        "fake",
        "fake.sub",
        "fake.sub.core",
    ]


def test_pages_map_to_closure_names_and_shown_objects(tmp_path):
    index = _package(tmp_path)
    docs = tmp_path / "docs"
    docs.mkdir()
    page = docs / "page.md"
    page.write_text(
        "```{literalinclude} ../fake/helpers.py\n:pyobject: Tool\n```\n\n"
        "```{code-cell} ipython3\nfrom fake import sub\nsub.fit()\n```\n"
    )
    (docs / "empty.md").write_text("# nothing\n")
    uses = compute_uses({"page": page, "empty": docs / "empty.md"}, index)
    assert uses.pages_running("fake.helpers") == ["page"]  # through core's import
    assert uses.pages_using("fake.sub.core.fit") == [("page", False)]
    assert uses.pages_using("fake.helpers.Tool") == [("page", True)]
    assert uses.pages["empty"].modules == set()


def test_models_is_used_by_memo_and_architectures():
    index = PackageIndex("dlbook", ROOT / "src" / "dlbook")
    pages = {p.stem: p for p in (ROOT / "docs").glob("*.md")}
    uses = compute_uses(pages, index)
    users = [d for d, _ in uses.pages_using("dlbook.models.dense_network")]
    assert {"memo", "architectures"} <= set(users)
