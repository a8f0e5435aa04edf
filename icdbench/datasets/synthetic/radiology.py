"""Short radiology reports (the HMHAN setting): one study per admission, labelled with the findings it reports.

The indication asks a question ("eval for pneumonia") that the findings may or may not answer; findings
state positives in radiology phrasing and list the pertinent negatives ("No pneumothorax") that make
radiology text hard to code with word counts alone.
"""

from __future__ import annotations

import random

from icdbench.codes import get_system
from icdbench.datasets.synthetic.builder import Mention, Rendered, Section, Sentence, render, template, words
from icdbench.datasets.synthetic.generator import Admission
from icdbench.datasets.synthetic.pool import CodePool, PoolCode, _forms

# code theme role weight region
HEAD_RADIOLOGY = """
J18.9 respiratory principal 10 chest    J90 respiratory acute 9 chest          J98.11 respiratory acute 8 chest
J81.0 respiratory principal 4 chest     J93.9 respiratory principal 2 chest    J43.9 respiratory chronic 4 chest
J84.10 respiratory chronic 1.5 chest    R91.1 respiratory acute 3 chest        J69.0 respiratory principal 2 chest
J44.9 respiratory chronic 4 chest       I51.7 cardiac chronic 6 chest          I50.9 cardiac chronic 5 chest
I71.20 cardiac chronic 1 chest          I26.99 vascular principal 3 chest      I82.401 vascular principal 1 leg
I82.402 vascular principal 1 leg        S22.31XA injury acute 1 chest          S22.32XA injury acute 1 chest
S22.41XA injury acute 0.6 chest         S22.42XA injury acute 0.6 chest        S72.001A injury principal 1 hip
S72.002A injury principal 1 hip         S06.5X0A injury principal 0.8 head     S06.6X0A injury principal 0.5 head
I63.9 neuro principal 2 head            I61.9 neuro principal 1 head           C34.90 oncology chronic 1 chest
C78.01 oncology chronic 0.4 chest       C78.02 oncology chronic 0.4 chest      C79.51 oncology chronic 0.5 chest
K56.609 digestive principal 1.5 abdomen K80.20 digestive chronic 1.5 abdomen   K57.32 digestive principal 1 abdomen
K35.80 digestive principal 0.8 abdomen  K85.90 digestive principal 1 abdomen   K74.60 liver chronic 1 abdomen
R18.8 liver acute 1 abdomen             K76.0 liver chronic 1 abdomen          N20.0 renal principal 1.5 abdomen
N13.30 renal acute 1 abdomen            N28.1 renal chronic 1 abdomen
"""
EXAMS = {
    "chest": (("CHEST (PA AND LAT)", "Chest PA and lateral"), ("CHEST (PORTABLE AP)", "Single portable view"),
              ("CT CHEST W/CONTRAST", "Axial images with IV contrast"), ("CTA CHEST", "CT angiography protocol")),
    "head": (("CT HEAD W/O CONTRAST", "Contiguous axial images without contrast"),),
    "abdomen": (("CT ABD & PELVIS WITH CONTRAST", "Axial images after oral and IV contrast"),
                ("US ABD LIMIT, SINGLE ORGAN", "Grayscale and color Doppler images")),
    "hip": (("HIP (AP AND LAT)", "Two views of the hip"),),
    "leg": (("UNILAT LOWER EXT VEINS", "Grayscale and Doppler evaluation of the deep veins"),),
}
POSITIVE = ("There is {m}.", "{m} is again seen.", "New {m}.", "Findings are consistent with {m}.",
            "Compatible with {m}.", "Redemonstrated {m}.", "{m} is present.")
NEGATIVE = ("No {m}.", "No evidence of {m}.", "There is no {m}.", "{m} is not seen.", "No definite {m}.",
            "Interval resolution of previously seen {m}.", "Previously described {m} has resolved.")
ROUTINE = {
    "chest": ("The cardiomediastinal silhouette is within normal limits.", "The hila are unremarkable.",
              "No acute osseous abnormality.", "Lines and tubes are unchanged in position.",
              "Degenerative changes of the thoracic spine.", "Right internal jugular catheter tip in the low SVC.",
              "Mild bibasilar opacities likely reflect atelectasis versus scarring, unchanged.",
              "Surgical clips in the right upper quadrant.", "The aorta is tortuous and calcified.",
              "Comparison is made to the prior study from ___.", "Patient is rotated, limiting evaluation."),
    "head": ("The ventricles and sulci are normal in size.", "The basal cisterns are patent.",
             "The visualized paranasal sinuses are clear.", "Gray-white matter differentiation is preserved.",
             "Periventricular white matter hypodensities are consistent with chronic small vessel disease.",
             "The mastoid air cells are well aerated.", "No fracture is identified.",
             "Atherosclerotic calcifications of the cavernous carotid arteries."),
    "abdomen": ("The liver enhances homogeneously.", "The pancreas and spleen are unremarkable.",
                "The bladder is decompressed.", "Atherosclerotic calcifications of the aorta.",
                "The adrenal glands are normal.", "There is no free air.", "Small hiatal hernia.",
                "Degenerative changes of the lumbar spine.", "The appendix is normal.",
                "No retroperitoneal lymphadenopathy."),
    "hip": ("The sacroiliac joints are preserved.", "Mild degenerative changes of the hip joint.",
            "Soft tissues are unremarkable."),
    "leg": ("Normal compressibility, flow and augmentation of the common femoral vein.",
            "The calf veins are patent.", "Subcutaneous edema is noted."),
}
_ROWS = [HEAD_RADIOLOGY.split()[i : i + 5] for i in range(0, len(HEAD_RADIOLOGY.split()), 5)]
_REGION: dict[str, str] = {row[0]: row[4] for row in _ROWS}  # code -> body region an exam shows
_THEME_REGION = {"neuro": "head", "digestive": "abdomen", "liver": "abdomen", "renal": "abdomen"}


def region_of(code: PoolCode) -> str:
    """The body region an exam of ``code`` images (codes outside the radiology table: by theme)."""
    return _REGION.get(code.code) or _THEME_REGION.get(code.theme, "chest")


def radiology_pool(seed: int) -> CodePool:
    """The radiology code pool: imaging findings only (the curated table above; ``seed`` is unused)."""
    system = get_system("icd10cm")
    codes = {}
    for code, theme, role, weight, _region in _ROWS:
        title = system.title(code)
        if title is None:
            raise ValueError(f"{code} is not an ICD-10-CM code")
        parents = system.ancestors(code)
        codes[code] = PoolCode(code, "dx", theme, role, float(weight), parents[0] if parents else code,
                               None, _forms(code, title))
    return CodePool("icd10", codes)


def radiology_report(adm: Admission, rng: random.Random, *, words_target: int, displace: float,
                     pool: CodePool | None = None) -> Rendered:
    """A report of one study of the principal finding's region; the admission's labels and distractors are
    narrowed to what the report shows (pass a copy to keep them). With ``pool``, the report also lists one to
    four pertinent negatives of its region ("No pneumothorax.")."""
    region = region_of(adm.coded[0])
    shown = [c for c in adm.coded if c.kind == "dx" and region_of(c) == region][:6]
    _restrict(adm, {c.code for c in shown})
    shown = [c for c in shown if c is adm.coded[0] or c.code not in adm.silent]
    gold = set(adm.labels)
    exam, technique = rng.choice(EXAMS[region])
    findings: list[Sentence] = []
    for code in shown:
        findings.append(template(rng.choice(POSITIVE), Mention(code.forms.render(rng, displace),
                                                                code.code if code.code in gold else None), rng))
    adm.distractors = [(k, c) for k, c in adm.distractors if c.kind == "dx" and region_of(c) == region]
    if pool is not None:
        taken = {c.code for c in adm.coded} | {c.code for _, c in adm.distractors}
        options = [c for c in pool.codes.values() if _REGION.get(c.code) == region and c.code not in taken
                   and c.sex in (None, adm.sex)]
        adm.distractors += [("negated", c) for c in rng.sample(options, min(len(options), rng.randint(1, 4)))]
    negatives = [c for _, c in adm.distractors]
    for code in negatives:
        findings.insert(rng.randint(0, len(findings)),
                        template(rng.choice(NEGATIVE), Mention(code.forms.render(rng, displace), None), rng))
    question = negatives[0] if negatives and rng.random() < 0.5 else shown[0]
    indication: Sentence = [f"{int(adm.age)} year old {'woman' if adm.sex == 'F' else 'man'} with "
                            f"{adm.complaint} // eval for ", Mention(question.forms.render(rng, 0.0), None)]
    impression = [template("{m}.", Mention(c.forms.render(rng, displace), c.code if c.code in gold else None), rng)
                  for c in shown if c is shown[0] or rng.random() < 0.7]
    sections = [Section("EXAMINATION", [[exam]]), Section("INDICATION", [indication]),
                Section("TECHNIQUE", [[technique]]), Section("COMPARISON", [[rng.choice(("___", "None."))]]),
                Section("FINDINGS", findings), Section("IMPRESSION", impression or [["No acute process."]])]
    goal = int(words_target * rng.lognormvariate(0, 0.2))
    total = sum(words(s) for sec in sections for s in sec.sentences)
    routine = list(ROUTINE[region])
    rng.shuffle(routine)
    for line in routine:
        if total >= goal:
            break
        findings.insert(rng.randint(0, len(findings)), [line])
        total += len(line.split())
    return render(sections)


def _restrict(adm: Admission, keep: set[str]) -> None:
    """Labels of a report: the admission's labels that the report's region can show."""
    pairs = [(c, k) for c, k in zip(adm.labels, adm.kinds) if c in keep]
    adm.labels, adm.kinds = [c for c, _ in pairs], [k for _, k in pairs]

