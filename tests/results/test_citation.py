"""How a number is cited: CITATION.cff is valid CFF 1.2 YAML for this version, and README, CITATION.cff and the
generated leaderboards point at the same "How to cite a number" guide."""

from __future__ import annotations

import tomllib

import yaml

from icdbench.paths import REPO_ROOT
from icdbench.results.render import HOW_TO_CITE

CFF_REQUIRED = ("cff-version", "message", "title", "authors")  # the required keys of the CFF 1.2.0 schema


def test_citation_cff_has_the_required_fields_and_this_version():
    cff = yaml.safe_load((REPO_ROOT / "CITATION.cff").read_text())
    assert [key for key in CFF_REQUIRED if not cff.get(key)] == []
    assert cff["cff-version"] == "1.2.0" and cff["type"] == "software"
    assert all(isinstance(a, dict) and (a.get("name") or a.get("family-names")) for a in cff["authors"])
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    assert str(cff["version"]) == project["version"]  # bump both together
    assert "How to cite a number" in cff["message"]


def test_readme_and_leaderboards_explain_how_to_cite_a_number():
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme.split("## How to cite a number\n", 1)[1].split("\n## ", 1)[0]
    for field in ("suite_version", "split_version", "split_hash", "config_hash", "replicates", "CITATION.cff"):
        assert field in section and field in HOW_TO_CITE, field
