"""Sentences that carry no code: vital signs, labs with units, exam findings, medications, routine course.

Filler makes documents long and noisy the way real notes are: numbers everywhere, laterality and acuity words
that belong to no diagnosis ("right IJ line", "no acute distress"), and negations of findings that are never
coded ("no edema"). Theme-flavoured filler (diuresis in heart failure, insulin in diabetes) correlates with
codes without naming them.
"""

from __future__ import annotations

import random

MEDS = {
    "cardiac": ("metoprolol succinate {d} mg PO daily", "furosemide {d} mg PO BID", "lisinopril {d} mg PO daily",
                "atorvastatin {d} mg PO QHS", "aspirin 81 mg PO daily", "amlodipine {d} mg PO daily",
                "carvedilol {d} mg PO BID", "spironolactone 25 mg PO daily", "apixaban 5 mg PO BID"),
    "vascular": ("apixaban 5 mg PO BID", "enoxaparin {d} mg SC BID", "warfarin {d} mg PO daily",
                 "clopidogrel 75 mg PO daily"),
    "metabolic": ("metformin {d} mg PO BID", "insulin glargine {d} units SC QHS", "levothyroxine {d} mcg PO daily",
                  "potassium chloride 20 mEq PO daily", "vitamin D3 1000 units PO daily"),
    "renal": ("sevelamer 800 mg PO TID", "calcitriol 0.25 mcg PO daily", "tamsulosin 0.4 mg PO QHS",
              "sodium bicarbonate 650 mg PO BID"),
    "respiratory": ("albuterol inhaler 2 puffs q4h PRN", "tiotropium 18 mcg inhaled daily",
                    "prednisone {d} mg PO daily", "azithromycin 250 mg PO daily", "fluticasone-salmeterol 1 puff BID"),
    "infection": ("ceftriaxone 1 g IV q24h", "vancomycin {d} mg IV q12h", "piperacillin-tazobactam 4.5 g IV q8h",
                  "cefpodoxime 200 mg PO BID", "metronidazole 500 mg PO TID"),
    "digestive": ("pantoprazole 40 mg PO BID", "ondansetron 4 mg PO q8h PRN", "sucralfate 1 g PO QID",
                  "docusate 100 mg PO BID", "senna 8.6 mg PO QHS"),
    "liver": ("lactulose 30 mL PO TID", "rifaximin 550 mg PO BID", "spironolactone {d} mg PO daily",
              "nadolol 20 mg PO daily"),
    "neuro": ("levetiracetam {d} mg PO BID", "donepezil 10 mg PO QHS", "gabapentin {d} mg PO TID",
              "carbidopa-levodopa 25-100 mg PO TID"),
    "psych": ("sertraline {d} mg PO daily", "trazodone 50 mg PO QHS", "quetiapine 25 mg PO QHS PRN",
              "thiamine 100 mg PO daily", "folic acid 1 mg PO daily"),
    "heme": ("ferrous sulfate 325 mg PO daily", "folic acid 1 mg PO daily", "vitamin B12 1000 mcg PO daily"),
    "oncology": ("oxycodone 5 mg PO q6h PRN", "dexamethasone 4 mg PO daily", "prochlorperazine 10 mg PO q6h PRN"),
    "musculoskeletal": ("acetaminophen 1000 mg PO q8h", "alendronate 70 mg PO weekly", "allopurinol 100 mg PO daily"),
    "injury": ("acetaminophen 650 mg PO q6h", "oxycodone 5 mg PO q4h PRN", "enoxaparin 40 mg SC daily"),
    "general": ("acetaminophen 650 mg PO q6h PRN", "polyethylene glycol 17 g PO daily", "multivitamin PO daily"),
}
COURSE = {
    "cardiac": ("Diuresed with IV furosemide with good urine output.", "Troponins were trended and peaked at {x}.",
                "Telemetry showed occasional PVCs.", "Beta blocker was uptitrated.",
                "Weight on discharge was {w} kg, down {y} kg from admission."),
    "vascular": ("Started on a heparin drip and transitioned to apixaban.", "Dopplers were obtained on day {n}."),
    "metabolic": ("Blood sugars were managed with a sliding scale.", "Electrolytes were repleted as needed.",
                  "Endocrinology was consulted for titration of the insulin regimen."),
    "renal": ("Creatinine peaked at {x} and improved to {y} with IV fluids.", "Renal was consulted.",
              "Foley catheter was removed on day {n} and the patient voided without difficulty."),
    "respiratory": ("Weaned from {n} L nasal cannula to room air.", "Received nebulizers every four hours.",
                    "Sputum culture grew normal flora.", "Started on steroids with a taper planned."),
    "infection": ("Blood cultures from admission grew gram negative rods.", "Lactate was {x} and trended down.",
                  "Antibiotics were narrowed once sensitivities returned.", "Infectious disease was consulted."),
    "digestive": ("Diet was advanced as tolerated.", "GI was consulted.", "Hematocrit remained stable over {n} days.",
                  "Lipase was {z} on admission."),
    "liver": ("Hepatology followed during the admission.", "MELD on admission was {n}.",
              "Lactulose was titrated to three bowel movements daily."),
    "neuro": ("Neurology was consulted.", "MRI brain was obtained.", "Neuro checks every four hours were stable.",
              "EEG showed diffuse slowing."),
    "psych": ("CIWA scale was used and the patient required {n} doses of diazepam.", "Social work was consulted.",
              "Psychiatry evaluated the patient."),
    "heme": ("Hemoglobin nadir was {x} g/dL.", "Iron studies were sent.", "Smear showed no schistocytes."),
    "oncology": ("Oncology was consulted and will follow as an outpatient.", "Pain was controlled with oral agents.",
                 "Goals of care were discussed with the family."),
    "musculoskeletal": ("Physical therapy worked with the patient daily.", "Pain was controlled with acetaminophen."),
    "injury": ("Orthopedics was consulted.", "Weight bearing as tolerated per orthopedics.",
               "Tertiary survey was negative."),
    "general": ("Physical therapy recommended discharge home with services.",
                "The patient was tolerating a regular diet at discharge.", "Case management assisted with the plan.",
                "Home medications were continued.", "Pain was well controlled.",
                "IV access was obtained in the left forearm.", "No acute events overnight.",
                "The patient was ambulating independently by hospital day {n}.",
                "Chronic medications were held on admission and restarted on discharge.",
                "Occupational therapy evaluated the patient and recommended a shower chair.",
                "Nutrition was consulted for calorie counts.", "Received {n} liters of normal saline in the ED.",
                "Code status was discussed with the patient and the health care proxy.",
                "Subcutaneous heparin was given for DVT prophylaxis.", "A bowel regimen was started.",
                "Blood pressure medications were held for soft pressures and resumed on day {n}.",
                "Repeat labs on the morning of discharge were stable.", "Glucose was {z} on arrival.",
                "The right IJ line was removed prior to discharge.", "Weight on discharge was {w} kg.",
                "Seen by the wound care nurse for a stage one sacral skin breakdown.",
                "Family meeting was held on hospital day {n}.", "Hemoglobin remained stable at {x}.",
                "Oxygen saturation remained above {p} percent on room air.", "Urine output was adequate.",
                "Vitals remained stable on the floor.", "The patient was seen by the chaplain at her request.",
                "Medication reconciliation was completed with pharmacy.", "Fall precautions were maintained."),
}
EXAM = ("General: no acute distress, alert and oriented.", "HEENT: mucous membranes moist, no scleral icterus.",
        "Neck: no JVD.", "CV: regular rate and rhythm, no murmurs, rubs or gallops.",
        "Lungs: clear to auscultation bilaterally, no wheezes.", "Abdomen: soft, non-tender, non-distended.",
        "Extremities: warm, no edema.", "Neuro: CN II-XII intact, strength 5/5 throughout.",
        "Skin: no rashes or lesions.", "Lungs: crackles at the bases.", "Extremities: 1+ pitting edema to the ankles.",
        "CV: irregularly irregular rhythm.", "Abdomen: mildly tender in the right lower quadrant.")
IMAGING = ("CXR: no acute cardiopulmonary process.", "CT head without acute intracranial abnormality.",
           "Renal ultrasound without hydronephrosis.", "EKG: sinus rhythm at {w}, normal intervals.",
           "Echo: LVEF {p}%, mild mitral regurgitation.", "RUQ ultrasound: no gallbladder wall thickening.")
DISPOSITION = ("Home", "Home With Service", "Extended Care Facility", "Skilled Nursing Facility", "Rehab")
CONDITION = ("Mental Status: Clear and coherent. Level of Consciousness: Alert and interactive. "
             "Activity Status: Ambulatory - Independent.",
             "Mental Status: Clear and coherent. Level of Consciousness: Alert and interactive. "
             "Activity Status: Ambulatory - requires assistance or aid (walker or cane).")
INSTRUCTIONS = ("It was a pleasure taking care of you.", "Please take all medications as prescribed.",
                "Please keep all of your follow-up appointments.", "Weigh yourself every morning.",
                "Do not drive until cleared by your doctor.", "Resume your usual diet.")
SOCIAL = ("Lives with her husband.", "Lives alone in an apartment.", "Retired teacher.", "Works in construction.",
          "Drinks alcohol socially.", "Denies illicit drug use.", "Lives with family; independent in ADLs.")


class _Numbers(dict):
    """Template slots drawn only when a template uses them."""

    def __init__(self, rng: random.Random):
        super().__init__()
        self.rng = rng

    def __missing__(self, key: str) -> str:
        rng = self.rng
        if key == "d":
            return str(rng.choice((5, 10, 20, 25, 40, 50, 100, 500)))
        if key in ("x", "y"):
            return f"{0.5 + rng.random() * (9.4 if key == 'x' else 3.5):.1f}"
        low, high = {"n": (2, 9), "w": (48, 130), "z": (30, 1900), "p": (15, 70)}[key]
        return str(low + int(rng.random() * (high - low + 1)))


def _fill(template: str, rng: random.Random) -> str:
    return template.format_map(_Numbers(rng)) if "{" in template else template


def vitals(rng: random.Random) -> str:
    return (f"VS: T {rng.uniform(97.0, 101.8):.1f} BP {rng.randint(88, 182)}/{rng.randint(48, 104)} "
            f"HR {rng.randint(52, 128)} RR {rng.randint(12, 28)} O2 sat {rng.randint(86, 100)}% "
            f"{rng.choice(('RA', '2L NC', '4L NC', 'room air'))}.")


def labs(rng: random.Random) -> str:
    return (f"___ 06:{rng.randint(10, 59)}AM BLOOD WBC-{rng.uniform(2.1, 21.0):.1f} RBC-{rng.uniform(2.6, 5.4):.2f} "
            f"Hgb-{rng.uniform(6.8, 15.9):.1f} Hct-{rng.uniform(21.0, 47.0):.1f} Plt Ct-{rng.randint(45, 480)} "
            f"Glucose-{rng.randint(68, 380)} UreaN-{rng.randint(6, 92)} Creat-{rng.uniform(0.5, 6.8):.1f} "
            f"Na-{rng.randint(124, 147)} K-{rng.uniform(2.9, 6.1):.1f} Cl-{rng.randint(92, 112)} "
            f"HCO3-{rng.randint(14, 32)}.")


def exam(rng: random.Random, k: int) -> list[str]:
    return rng.sample(EXAM, k)


def course(rng: random.Random, theme: str) -> str:
    pool = COURSE.get(theme, ()) + COURSE["general"]
    return _fill(rng.choice(pool), rng)


def imaging(rng: random.Random) -> str:
    return _fill(rng.choice(IMAGING), rng)


def medication(rng: random.Random, theme: str) -> str:
    pool = MEDS.get(theme, ()) + MEDS["general"]
    return _fill(rng.choice(pool), rng)
