"""Discharge summaries written from an admission: where each code is mentioned, where each distractor sits,
and filler up to the target length.

Gold codes are mentioned one to three times across sections (history, hospital course, discharge diagnoses)
in different surface forms; distractors land where they occur in real notes (family history, past history,
review of systems, the workup narrative, discharge instructions).
"""

from __future__ import annotations

import random

from icdbench.datasets.synthetic import concepts, filler, lexicon
from icdbench.datasets.synthetic.builder import Mention, Rendered, Section, Sentence, mention, render, template, words
from icdbench.datasets.synthetic.generator import Admission
from icdbench.datasets.synthetic.pool import PoolCode

PROCEDURE = ("Underwent {m}.", "Course notable for {m} on hospital day {day}.", "Status post {m}.",
             "Required {m} during the admission.")
DEFERRED = ("{m} was discussed but deferred.", "Patient declined {m}.", "Outpatient {m} to be scheduled.",
            "{m} was not pursued given goals of care.", "Plan for {m} after discharge if symptoms recur.")
ALLERGIES = ("No Known Allergies / Adverse Drug Reactions", "Penicillins", "Sulfa (Sulfonamide Antibiotics)")
SERVICES = {"cardiac": "MEDICINE", "injury": "ORTHOPAEDICS", "neuro": "NEUROLOGY", "oncology": "MEDICINE",
            "digestive": "MEDICINE", "vascular": "SURGERY", "musculoskeletal": "ORTHOPAEDICS"}


def discharge_summary(adm: Admission, rng: random.Random, *, words_target: int, displace: float) -> Rendered:
    gold = set(adm.labels)

    def m(code: PoolCode) -> Mention:
        return mention(code, rng, displace, code.code in gold)

    principal, rest = adm.coded[0], [c for c in adm.coded[1:] if c.code not in adm.silent]
    dx = [c for c in rest if c.kind == "dx"]
    procs = [c for c in rest if c.kind == "proc"]
    acute = [c for c in dx if c.role in ("principal", "acute", "symptom")]
    chronic = [c for c in dx if c.role == "chronic"]
    status = [c for c in dx if c.role == "status"]
    sex_word = "woman" if adm.sex == "F" else "man"
    s = {name: Section(name) for name in (
        "Chief Complaint", "Major Surgical or Invasive Procedure", "History of Present Illness",
        "Past Medical History", "Social History", "Family History", "Physical Exam", "Pertinent Results",
        "Brief Hospital Course", "Discharge Medications", "Discharge Disposition", "Discharge Diagnosis",
        "Discharge Condition", "Discharge Instructions")}
    s["Past Medical History"].as_list = s["Discharge Medications"].as_list = True
    s["Major Surgical or Invasive Procedure"].as_list = s["Discharge Diagnosis"].as_list = True

    symptom_principal = principal.role == "symptom"
    s["Chief Complaint"].sentences.append([m(principal)] if symptom_principal else [adm.complaint])

    # History: a one-line summary naming some chronic conditions, then the story of this admission.
    hx = rng.sample(chronic, min(len(chronic), rng.randint(0, 3)))
    intro: Sentence = [f"{int(adm.age)} year old {sex_word} "]
    if hx:
        intro.append("with a history of ")
        for i, code in enumerate(hx):
            intro += [m(code), ", " if i < len(hx) - 2 else " and " if i == len(hx) - 2 else ""]
        intro[-1] = " "
    intro.append(f"who presents with {adm.complaint}.")
    s["History of Present Illness"].sentences.append([p for p in intro if p != ""])
    s["History of Present Illness"].sentences.append([filler.vitals(rng)])
    if not symptom_principal and rng.random() < 0.7:
        s["History of Present Illness"].sentences.append(template(rng.choice(lexicon.POSITIVE), m(principal), rng))

    for code in chronic:
        if code not in hx or rng.random() < 0.5:
            s["Past Medical History"].sentences.append([m(code)])
    for code in status:
        if code.code in _SOCIAL:
            s["Social History"].sentences.append([m(code), "."])
        else:
            s["Past Medical History"].sentences.append([m(code)])
    s["Social History"].sentences.append([rng.choice(filler.SOCIAL)])

    s["Physical Exam"].sentences += [[line] for line in filler.exam(rng, rng.randint(3, 6))]
    s["Pertinent Results"].sentences += [[filler.labs(rng)], [filler.imaging(rng)]]

    course = s["Brief Hospital Course"].sentences
    course.append(["# ", m(principal), ": ", filler.course(rng, principal.theme)])
    for code in acute:
        if rng.random() < 0.55:
            course.append(["# ", m(code), ": ", filler.course(rng, code.theme)])
        else:
            course.append(template(rng.choice(lexicon.POSITIVE), m(code), rng))
    for code in chronic:
        if rng.random() < 0.4:
            course.append(["# ", m(code), f": continued home {filler.medication(rng, code.theme)}."])
    for code in procs:
        s["Major Surgical or Invasive Procedure"].sentences.append([m(code)])
        if rng.random() < 0.5:
            course.append(template(rng.choice(PROCEDURE), m(code), rng))
    if not procs:
        s["Major Surgical or Invasive Procedure"].sentences.append(["None"])

    _place_distractors(adm, s, rng, displace)

    meds = {filler.medication(rng, rng.choice((adm.theme, "general"))) for _ in range(rng.randint(3, 8))}
    s["Discharge Medications"].sentences += [[line] for line in sorted(meds)]
    s["Discharge Disposition"].sentences.append([rng.choice(filler.DISPOSITION)])
    primary: Sentence = ["Primary: ", m(principal)]
    if symptom_principal:
        primary.append(", workup negative")
    diagnoses = s["Discharge Diagnosis"].sentences
    diagnoses.append(primary)
    for code in acute + chronic:
        if rng.random() < (0.6 if code in acute else 0.3):
            diagnoses.append(["Secondary: ", m(code)] if len(diagnoses) == 1 else [m(code)])
    s["Discharge Condition"].sentences.append([rng.choice(filler.CONDITION)])
    s["Discharge Instructions"].sentences += [[line] for line in rng.sample(filler.INSTRUCTIONS, 2)]
    if not s["Family History"].sentences:
        s["Family History"].sentences.append([rng.choice(("Noncontributory.", "No family history of early MI.",
                                                          "Unknown, patient adopted."))])

    _pad(adm, s, rng, words_target)
    header = (f"Name:  ___                     Unit No:   ___\n \nAdmission Date:  ___              "
              f"Discharge Date:   ___\n \nDate of Birth:  ___             Sex:   {adm.sex}\n \n"
              f"Service: {SERVICES.get(adm.theme, 'MEDICINE')}\n \nAllergies: \n{rng.choice(ALLERGIES)}\n"
              f" \nAttending: ___.")
    return render(list(s.values()), header)


_SOCIAL = {"Z87.891", "F17.210", "V15.82", "305.1", "F10.20", "303.90", "F11.20", "304.00"}


def _place_distractors(adm: Admission, s: dict[str, Section], rng: random.Random, displace: float) -> None:
    negated: list[Mention] = []
    for kind, code in adm.distractors:
        if kind == "status":
            phrase = rng.choice(concepts.NEGATED_STATUS[code.code])
            where = "Social History" if code.code in _SOCIAL else "Past Medical History"
            s[where].sentences.append([Mention(phrase, None), "." if where == "Social History" else ""])
            continue
        text = Mention(code.forms.render(rng, displace), None)
        if kind == "negated":
            negated.append(text)
        elif kind == "family":
            s["Family History"].sentences.append(template(rng.choice(lexicon.FAMILY), text, rng))
        elif kind == "resolved":
            s["Past Medical History"].sentences.append(template(rng.choice(lexicon.RESOLVED), text, rng))
        elif kind == "hypothetical":
            s["Discharge Instructions"].sentences.append(template(rng.choice(lexicon.HYPOTHETICAL), text, rng))
        elif kind == "deferred":
            s["Brief Hospital Course"].sentences.append(template(rng.choice(DEFERRED), text, rng))
        else:  # ruled out: part of the workup narrative
            where = rng.choice(("History of Present Illness", "Brief Hospital Course"))
            _insert(s[where].sentences, template(rng.choice(lexicon.RULED_OUT), text, rng), rng)
    while negated:
        if len(negated) >= 2 and rng.random() < 0.4:  # review of systems: one cue, a list of findings
            a, b = negated.pop(), negated.pop()
            sentence: Sentence = ["Review of systems negative for fevers, chills, ", a, " and ", b, "."]
            s["History of Present Illness"].sentences.append(sentence)
        else:
            where = rng.choice(("History of Present Illness", "Brief Hospital Course", "Pertinent Results"))
            _insert(s[where].sentences, template(rng.choice(lexicon.NEGATED), negated.pop(), rng), rng)


def _insert(sentences: list[Sentence], sentence: Sentence, rng: random.Random) -> None:
    sentences.insert(rng.randint(1 if sentences else 0, len(sentences)), sentence)


def _pad(adm: Admission, s: dict[str, Section], rng: random.Random, target: int) -> None:
    """Add filler until the document reaches its (log-normally varied) length."""
    goal = int(target * rng.lognormvariate(0, 0.22))
    total = sum(words(x) for sec in s.values() for x in sec.sentences) + 40
    course = s["Brief Hospital Course"].sentences
    used: set[str] = set()
    while total < goal:
        u = rng.random()
        if u < 0.6:
            line = filler.course(rng, rng.choice((adm.theme, "general")))
            if line in used:  # copy-forward happens, but not six times
                line = filler.course(rng, "general")
            used.add(line)
            course.insert(rng.randint(1, len(course)), [line])
        elif u < 0.75:
            line = filler.labs(rng)
            s["Pertinent Results"].sentences.append([line])
        elif u < 0.9:
            line = filler.imaging(rng)
            s["Pertinent Results"].sentences.append([line])
        else:
            line = filler.medication(rng, adm.theme)
            if [line] in s["Discharge Medications"].sentences:
                continue
            s["Discharge Medications"].sentences.append([line])
        total += len(line.split())
