"""The GitHub Pages workflow and the Read the Docs configuration build the site with the
README's command and publish what it builds: neither may drift from it silently."""

from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[1]
BUILD = "./noxw -s docs"
HTML = "docs/_build/html"


def _yaml(name: str) -> dict:
    return yaml.safe_load((ROOT / name).read_text())


def test_the_readme_builds_the_site_with_that_command():
    readme = (ROOT / "README.md").read_text()
    assert f"```sh\n{BUILD}\n```" in readme and f"`{HTML}/`" in readme
    assert "## Publishing" in readme


def test_the_pages_workflow_builds_with_the_readme_command_and_deploys_the_html():
    workflow = _yaml(".github/workflows/pages.yml")
    # YAML 1.1 reads the key `on` as True
    triggers = workflow.get("on", workflow.get(True))
    assert "main" in triggers["push"]["branches"]
    assert workflow["permissions"]["pages"] == "write"
    assert workflow["permissions"]["id-token"] == "write"
    assert "group" in workflow["concurrency"]
    build, deploy = workflow["jobs"]["build"], workflow["jobs"]["deploy"]
    steps = build["steps"]
    runs = [step["run"].strip() for step in steps if "run" in step]
    assert runs == [BUILD]
    uses = {step["uses"].split("@")[0]: step for step in steps if "uses" in step}
    assert uses["actions/setup-python"]["with"]["python-version"] == "3.12"
    assert uses["actions/upload-pages-artifact"]["with"]["path"] == HTML
    # the artifact is uploaded after the build
    order = [step.get("run", step.get("uses", "")) for step in steps]
    upload = next(i for i, s in enumerate(order) if "upload-pages-artifact" in s)
    assert order.index(BUILD) < upload
    assert deploy["needs"] == "build"
    deployed_with = [step["uses"].split("@")[0] for step in deploy["steps"]]
    assert deployed_with == ["actions/deploy-pages"]


def test_read_the_docs_runs_the_same_command_and_publishes_the_same_html():
    config = _yaml(".readthedocs.yaml")
    assert config["version"] == 2
    build = config["build"]
    assert build["os"] == "ubuntu-24.04" and build["tools"]["python"] == "3.12"
    commands = [command.strip() for command in build["commands"]]
    assert commands[0] == BUILD
    copy = [c for c in commands if c.startswith("cp ")]
    assert len(copy) == 1
    assert HTML in copy[0] and "$READTHEDOCS_OUTPUT/html" in copy[0]
