"""The GitHub Pages workflow is valid YAML and has what a Pages deployment needs.

``problems(workflow)`` lists what is wrong with a parsed workflow; the real file must have none,
and each deliberately broken copy must be caught (so the checks can fail).
"""

from __future__ import annotations

import copy
import re
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "pages.yml"


def load(path: Path = WORKFLOW) -> dict:
    workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
    # YAML 1.1 reads the key `on` as the boolean True.
    if True in workflow:
        workflow["on"] = workflow.pop(True)
    return workflow


def makefile_site_dir() -> str:
    """The folder `make build` writes the site to (its --site-dir)."""
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^build:.*\n((?:\t.*\n)+)", text, re.MULTILINE)
    assert recipe, "the Makefile has no build target"
    site_dir = re.search(r"--site-dir\s+(\S+)", recipe.group(1))
    assert site_dir, "make build does not name its --site-dir"
    return site_dir.group(1)


def _steps(job: dict) -> list[dict]:
    return job.get("steps") or []


def _uses(job: dict, action: str) -> list[dict]:
    return [s for s in _steps(job) if str(s.get("uses", "")).split("@")[0] == action]


def problems(workflow: dict) -> list[str]:
    found = []
    for key in ("name", "on", "jobs"):
        if key not in workflow:
            found.append(f"no top-level {key!r}")
    on = workflow.get("on") or {}
    if not isinstance(on, dict) or "main" not in ((on.get("push") or {}).get("branches") or []):
        found.append("does not run on a push to main")
    if isinstance(on, dict) and "workflow_dispatch" not in on:
        found.append("cannot be run by hand (workflow_dispatch)")
    top = workflow.get("permissions") or {}
    if top.get("pages") == "write" or top.get("id-token") == "write":
        found.append("grants pages/id-token write to every job, not only to deploy")
    if top.get("contents") not in ("read", None):
        found.append(f"contents permission should be read, got {top.get('contents')!r}")
    if not (workflow.get("concurrency") or {}).get("group"):
        found.append("no concurrency group: two deployments could race")

    jobs = workflow.get("jobs") or {}
    builds = [j for j in jobs.values() if _uses(j, "actions/upload-pages-artifact")]
    deploys = {n: j for n, j in jobs.items() if _uses(j, "actions/deploy-pages")}
    if len(builds) != 1:
        found.append(f"expected one job uploading the Pages artifact, found {len(builds)}")
    if len(deploys) != 1:
        found.append(f"expected one job running actions/deploy-pages, found {len(deploys)}")
    if builds:
        build = builds[0]
        runs = [s.get("run", "") for s in _steps(build)]
        if not any(re.search(r"(^|\s)make build(\s|$)", r) for r in runs):
            found.append("the build job does not build with `make build`")
        if not _uses(build, "actions/checkout"):
            found.append("the build job does not check out the repository")
        path = (_uses(build, "actions/upload-pages-artifact")[0].get("with") or {}).get("path")
        if path != makefile_site_dir():
            found.append(f"uploads {path!r}, but make build writes {makefile_site_dir()!r}")
        python = [(s.get("with") or {}).get("python-version") for s in _uses(build, "actions/setup-python")]
        requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
        minimum = tuple(int(x) for x in re.search(r">=\s*([\d.]+)", requires).group(1).split("."))
        if not python or tuple(int(x) for x in str(python[0]).split(".")[:2]) < minimum:
            found.append(f"set-up Python {python} does not satisfy requires-python {requires}")
    for name, deploy in deploys.items():
        build_names = [n for n, j in jobs.items() if j in builds]
        needs = deploy.get("needs") or []
        needs = [needs] if isinstance(needs, str) else needs
        if not set(build_names) <= set(needs):
            found.append(f"{name} does not wait for the build job (needs: {needs})")
        permissions = deploy.get("permissions") or {}
        for scope in ("pages", "id-token"):
            if permissions.get(scope) != "write":
                found.append(f"{name} lacks permission {scope}: write")
        environment = deploy.get("environment") or {}
        if environment.get("name") != "github-pages":
            found.append(f"{name} does not deploy to the github-pages environment")
        step_id = _uses(deploy, "actions/deploy-pages")[0].get("id")
        if not step_id or f"steps.{step_id}.outputs.page_url" not in str(environment.get("url", "")):
            found.append(f"{name}'s environment url is not the deployment's page_url")
    for name, job in jobs.items():
        if "runs-on" not in job:
            found.append(f"job {name} has no runs-on")
        for step in _steps(job):
            if "uses" in step and not re.search(r"@(v\d+(\.\d+)*|[0-9a-f]{40})$", step["uses"]):
                found.append(f"job {name}: {step['uses']!r} is not pinned to a version")
    return found


def test_the_workflow_parses_and_has_what_pages_needs():
    workflow = load()
    assert problems(workflow) == []


def _break(workflow: dict, how: str) -> dict:
    broken = copy.deepcopy(workflow)
    jobs = broken["jobs"]
    if how == "no id-token":
        del jobs["deploy"]["permissions"]["id-token"]
    elif how == "wrong artifact path":
        _uses(jobs["build"], "actions/upload-pages-artifact")[0]["with"]["path"] = "public"
    elif how == "not make build":
        for step in _steps(jobs["build"]):
            if "run" in step:
                step["run"] = "mkdocs build"
    elif how == "deploy does not wait":
        del jobs["deploy"]["needs"]
    elif how == "unpinned action":
        _uses(jobs["deploy"], "actions/deploy-pages")[0]["uses"] = "actions/deploy-pages@main"
    elif how == "write for everyone":
        broken["permissions"]["pages"] = "write"
    elif how == "no trigger on main":
        broken["on"]["push"]["branches"] = ["release"]
    return broken


@pytest.mark.parametrize("how", ["no id-token", "wrong artifact path", "not make build", "deploy does not wait",
                                 "unpinned action", "write for everyone", "no trigger on main"])
def test_a_broken_workflow_is_caught(how):
    assert problems(_break(load(), how)), f"{how}: not caught"


def test_readme_documents_the_deployment():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = re.search(r"^## Deployment\n(.*?)(?=^## |\Z)", readme, re.DOTALL | re.MULTILINE)
    assert section, "README.md has no Deployment section"
    text = section.group(1)
    assert "GitHub Pages" in text and ".github/workflows/pages.yml" in text
    assert "make build" in text and "site/" in text
