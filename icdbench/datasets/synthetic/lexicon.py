"""Word material for the synthetic corpus: how clinicians shorten code titles, which words separate sibling
codes, and the cue templates that turn a mention into a distractor.

Everything here is data. ``mentions.py`` turns a code title into surface forms with it; ``documents.py``
wraps those forms in assertion templates.
"""

from __future__ import annotations

import re

# --- title clean-up ------------------------------------------------------------------------------------------
# Applied in order to a lower-cased title. Coders' boilerplate that clinicians never write.
TITLE_REWRITES: tuple[tuple[str, str], ...] = (
    (r"\s*\([^)]*\)|\s*\[[^\]]*\]", ""),  # "(congestive)", "(adult) (pediatric)", "[E. coli]"
    (r",? initial encounter for closed fracture", ", closed"),
    (r",? initial encounter for open fracture[a-z ,]*", ", open"),
    (r",? initial encounter", ""),
    (r",? via natural or artificial opening endoscopic", ", endoscopic approach"),
    (r",? via natural or artificial opening", ""),
    (r",? (not elsewhere classified|classified elsewhere|not specified as recurrent|site not specified)", ""),
    (r"\bin (other )?diseases classified elsewhere\b", ""),
    (r"\bunspecified (part|site|parts|sites|region) of\b", ""),
    (r",? unspecified (organism|site|type|severity|part|cause|whether [a-z ]+)\b", ""),
    (r",? unspecified\b", ""),
    (r"^unspecified ", ""),
    (r"^other (specified )?", ""),
    (r",? not stated as uncontrolled", ""),
    (r",? without mention of complication", ""),
    (r",? or unspecified type", ""),
    (r"\s+,", ","),
    (r",\s*,", ","),
    (r"\s{2,}", " "),
    (r"^[ ,]+|[ ,]+$", ""),
)
TITLE_REWRITES_RE = tuple((re.compile(p, re.IGNORECASE), r) for p, r in TITLE_REWRITES)

# --- synonyms and abbreviations ------------------------------------------------------------------------------
# Phrase (as it appears in a cleaned, lower-cased title) -> what clinicians write instead. Longest match wins.
PHRASE_SYNONYMS: dict[str, tuple[str, ...]] = {
    "essential hypertension": ("hypertension", "HTN", "high blood pressure"),
    "hypertension": ("HTN",),
    "hypertensive heart disease with heart failure": ("hypertensive heart disease with CHF", "HHD with HF"),
    "systolic heart failure": ("HFrEF", "systolic CHF", "heart failure with reduced ejection fraction",
                               "systolic HF"),
    "diastolic heart failure": ("HFpEF", "diastolic CHF", "heart failure with preserved ejection fraction",
                                "diastolic HF"),
    "combined systolic and diastolic heart failure": ("combined systolic and diastolic CHF",
                                                      "mixed systolic and diastolic HF"),
    "heart failure": ("CHF", "HF", "congestive heart failure"),
    "atrial fibrillation": ("afib", "AF", "a-fib", "atrial fibrillation"),
    "paroxysmal atrial fibrillation": ("PAF", "paroxysmal afib", "paroxysmal AF"),
    "atrial flutter": ("aflutter", "atrial flutter"),
    "atherosclerotic heart disease of native coronary artery without angina pectoris": (
        "coronary artery disease", "CAD", "coronary atherosclerosis", "native vessel CAD"),
    "coronary atherosclerosis of native coronary artery": ("coronary artery disease", "CAD"),
    "old myocardial infarction": ("prior MI", "remote MI", "history of myocardial infarction"),
    "non-st elevation myocardial infarction": ("NSTEMI", "non-ST elevation MI", "NSTEMI"),
    "subendocardial infarction, initial episode of care": ("NSTEMI", "subendocardial MI"),
    "myocardial infarction": ("MI",),
    "pulmonary embolism without acute cor pulmonale": ("PE", "pulmonary embolus", "pulmonary embolism"),
    "pulmonary embolism and infarction": ("PE", "pulmonary embolism"),
    "acute embolism and thrombosis of deep veins of": ("DVT of the", "deep vein thrombosis of the"),
    "deep vessels of lower extremity": ("lower extremity DVT", "DVT of the leg"),
    "aortic valve stenosis": ("aortic stenosis", "AS"),
    "aortic valve disorders": ("aortic valve disease", "aortic stenosis"),
    "cerebral infarction": ("stroke", "CVA", "ischemic stroke", "acute infarct"),
    "peripheral vascular disease": ("PVD", "peripheral arterial disease", "PAD"),
    "type 2 diabetes mellitus": ("T2DM", "DM2", "type II diabetes", "diabetes mellitus type 2", "NIDDM"),
    "type 1 diabetes mellitus": ("T1DM", "DM1", "type I diabetes", "IDDM"),
    "diabetes mellitus": ("DM", "diabetes"),
    "with diabetic chronic kidney disease": ("with diabetic nephropathy", "complicated by CKD"),
    "with diabetic polyneuropathy": ("with peripheral neuropathy", "complicated by neuropathy"),
    "with hyperglycemia": ("poorly controlled", "with hyperglycemia", "uncontrolled"),
    "with ketoacidosis without coma": ("DKA", "diabetic ketoacidosis"),
    "hyperlipidemia": ("HLD", "dyslipidemia", "hyperlipidemia"),
    "pure hypercholesterolemia": ("hypercholesterolemia", "high cholesterol"),
    "hypothyroidism": ("hypothyroid", "hypothyroidism"),
    "hypo-osmolality and hyponatremia": ("hyponatremia", "low sodium"),
    "hyposmolality and/or hyponatremia": ("hyponatremia", "low sodium"),
    "hypokalemia": ("low potassium", "hypokalemia"),
    "hyperkalemia": ("hyperK", "high potassium"),
    "hyperpotassemia": ("hyperkalemia", "high potassium"),
    "hypopotassemia": ("hypokalemia", "low potassium"),
    "dehydration": ("volume depletion", "hypovolemia"),
    "morbid obesity due to excess calories": ("morbid obesity", "severe obesity"),
    "protein-calorie malnutrition": ("malnutrition", "PCM"),
    "acute kidney failure": ("AKI", "acute kidney injury", "acute renal failure", "ARF"),
    "acute kidney failure with tubular necrosis": ("ATN", "acute tubular necrosis"),
    "chronic kidney disease": ("CKD", "chronic renal insufficiency", "chronic kidney disease"),
    "end stage renal disease": ("ESRD", "end-stage renal disease", "ESKD"),
    "urinary tract infection": ("UTI", "urinary tract infection"),
    "benign prostatic hyperplasia": ("BPH", "enlarged prostate"),
    "dependence on renal dialysis": ("dialysis dependent", "on hemodialysis", "HD-dependent"),
    "chronic obstructive pulmonary disease": ("COPD", "chronic obstructive lung disease"),
    "chronic airway obstruction": ("COPD", "chronic obstructive lung disease"),
    "with exacerbation": ("exacerbation", "flare"),
    "pneumonia, organism": ("pneumonia", "PNA", "community-acquired pneumonia"),
    "pneumonia": ("PNA", "pneumonia"),
    "pneumonitis due to inhalation of food and vomit": ("aspiration pneumonia", "aspiration pneumonitis"),
    "pneumonitis due to inhalation of food or vomitus": ("aspiration pneumonia", "aspiration pneumonitis"),
    "respiratory failure": ("respiratory failure", "resp failure"),
    "with hypoxia": ("hypoxic", "hypoxemic", "with hypoxemia"),
    "with hypercapnia": ("hypercarbic", "hypercapnic", "with CO2 retention"),
    "pleural effusion": ("effusion", "pleural fluid"),
    "obstructive sleep apnea": ("OSA", "sleep apnea"),
    "solitary pulmonary nodule": ("pulmonary nodule", "lung nodule", "SPN"),
    "atelectasis": ("atelectatic change", "collapse"),
    "sepsis": ("sepsis", "septicemia"),
    "septicemia": ("sepsis", "septicemia"),
    "severe sepsis with septic shock": ("septic shock",),
    "severe sepsis without septic shock": ("severe sepsis",),
    "sepsis due to escherichia coli": ("E. coli sepsis", "E coli bacteremia with sepsis"),
    "enterocolitis due to clostridium difficile": ("C. diff colitis", "C. difficile infection", "CDI"),
    "intestinal infection due to clostridium difficile": ("C. diff colitis", "C. difficile infection"),
    "cellulitis": ("cellulitis", "soft tissue infection"),
    "human immunodeficiency virus disease": ("HIV", "HIV disease", "HIV/AIDS"),
    "chronic viral hepatitis c": ("HCV", "chronic hepatitis C", "hep C"),
    "gastro-esophageal reflux disease without esophagitis": ("GERD", "reflux", "acid reflux"),
    "esophageal reflux": ("GERD", "reflux"),
    "gastrointestinal hemorrhage": ("GI bleed", "GIB", "gastrointestinal bleeding"),
    "alcoholic cirrhosis of liver without ascites": ("alcoholic cirrhosis", "EtOH cirrhosis"),
    "alcoholic cirrhosis of liver": ("alcoholic cirrhosis", "EtOH cirrhosis"),
    "cirrhosis of liver": ("cirrhosis", "liver cirrhosis"),
    "acute pancreatitis without necrosis or infection": ("acute pancreatitis", "pancreatitis"),
    "diverticulosis of large intestine without perforation or abscess without bleeding": ("diverticulosis",),
    "intestinal obstruction": ("SBO", "bowel obstruction", "small bowel obstruction"),
    "epilepsy": ("seizure disorder", "epilepsy"),
    "alzheimer's disease": ("Alzheimer's", "Alzheimer disease", "AD"),
    "metabolic encephalopathy": ("toxic-metabolic encephalopathy", "encephalopathy", "delirium"),
    "major depressive disorder, single episode": ("depression", "MDD"),
    "depressive disorder": ("depression",),
    "depression": ("depression", "depressed mood disorder"),
    "anxiety disorder": ("anxiety", "GAD"),
    "anxiety state": ("anxiety",),
    "alcohol dependence": ("EtOH dependence", "alcohol use disorder", "alcoholism"),
    "alcohol dependence, uncomplicated": ("EtOH dependence", "alcohol use disorder"),
    "opioid dependence, uncomplicated": ("opioid use disorder", "OUD", "opiate dependence"),
    "nicotine dependence, cigarettes, uncomplicated": ("current smoker", "active tobacco use", "smoker"),
    "anemia": ("anemia",),
    "acute posthemorrhagic anemia": ("acute blood loss anemia", "ABLA", "anemia due to acute blood loss"),
    "anemia in chronic kidney disease": ("anemia of CKD", "anemia of chronic kidney disease"),
    "thrombocytopenia": ("low platelets", "thrombocytopenia"),
    "malignant neoplasm": ("cancer", "carcinoma", "malignancy"),
    "malignant neoplasm of prostate": ("prostate cancer", "prostate adenocarcinoma"),
    "secondary malignant neoplasm": ("metastatic disease", "metastases"),
    "osteoporosis": ("osteoporosis", "low bone density"),
    "primary osteoarthritis": ("osteoarthritis", "OA", "DJD"),
    "osteoarthritis": ("OA", "degenerative joint disease"),
    "fracture of neck of": ("hip fracture of the", "femoral neck fracture of the"),
    "fracture": ("fx", "fracture"),
    "gout": ("gout", "gouty arthritis"),
    "low back pain": ("LBP", "lower back pain"),
    "do not resuscitate": ("DNR", "DNR/DNI"),
    "encounter for palliative care": ("comfort measures", "palliative care"),
    "without": ("w/o",),
    "with": ("w/",),
    "left": ("left", "L"),
    "right": ("right", "R"),
    "history": ("hx",),
    "disorder": ("disease",),
    "disease": ("disorder",),
    "infection": ("infxn",),
    "hemorrhage": ("bleed", "bleeding"),
    "thrombosis": ("clot", "thrombus"),
    "neoplasm": ("tumor", "mass"),
}
_SYN_KEYS = sorted(PHRASE_SYNONYMS, key=len, reverse=True)
SYNONYM_RE = re.compile(r"\b(" + "|".join(re.escape(k) for k in _SYN_KEYS) + r")\b", re.IGNORECASE)

# Phrases whose qualifier word is part of the disease's name (never displaced).
PROTECTED = ("chronic kidney disease", "chronic obstructive pulmonary disease", "chronic airway obstruction",
             "chronic viral hepatitis", "acute kidney failure", "acute posthemorrhagic anemia",
             "acute pancreatitis", "chronic pain", "end stage renal disease")

# --- qualifiers that separate siblings ----------------------------------------------------------------------
# (kind, regex). A mention may move its qualifier away from the head words ("systolic CHF, acute on chronic").
QUALIFIERS: tuple[tuple[str, re.Pattern], ...] = (
    ("laterality", re.compile(r"\b(left|right|bilateral)(?: side\b|-sided\b)?\b")),
    ("acuity", re.compile(r"\b(acute on chronic|acute and chronic|subacute|acute|chronic)\b")),
    ("stage", re.compile(r"\b(end stage|stage [0-9]+[ab]?|stage [iv]+)\b", re.IGNORECASE)),
    ("type", re.compile(r"\b(type [12]|type ii?)\b", re.IGNORECASE)),
    ("severity", re.compile(r"\b(mild|moderate|severe)\b")),
    ("approach", re.compile(r"\b(percutaneous endoscopic|percutaneous|open|endoscopic|external) approach\b")),
)
# Where a displaced qualifier goes; {core} is the mention without it, {q} the qualifier, {n} a number.
DISPLACED: dict[str, tuple[str, ...]] = {
    "laterality": ("{core} on the {q} side", "{core}, {q}-sided", "{core} ({q})", "{core}, worse on the {q}",
                   "{core} involving the {q} side", "{core}, located on the {q}"),
    "acuity": ("{core}, felt to be {q}", "{core}, which was {q}", "{core} ({q})", "{core}, {q} in nature",
               "{core} that was considered {q} on this admission", "{core}, thought to be {q} given the history"),
    "stage": ("{core}, {q}", "{core} (baseline creatinine {n}), {q}", "{core}, currently {q}",
              "{core} - {q} per nephrology", "{core} ({q})"),
    "type": ("{core}, {q}", "{core} ({q})", "{core}, known {q}", "{core} which is {q}"),
    "severity": ("{core}, {q}", "{core}, graded as {q}", "{core} ({q} by exam)"),
    "approach": ("{core}, done via {q}", "{core} ({q})", "{core}, performed by {q}"),
}
DISPLACED_PROC: dict[str, tuple[str, ...]] = {
    "laterality": ("{core} ({q})", "{core}, {q} side", "{core} on the {q}"),
    "approach": ("{core}, done via {q}", "{core} ({q})", "{core}, performed by {q}"),
}
LATERAL_SHORT = {"left": ("left", "L", "lt"), "right": ("right", "R", "rt"), "bilateral": ("bilateral", "bilat")}

# --- assertion templates -------------------------------------------------------------------------------------
# Positive contexts reuse the same function words as negative ones ("evidence of", "for", "with") so that a
# window of one to three words around a mention does not reveal whether it is asserted.
POSITIVE = (
    "{m} was diagnosed and treated.", "Found to have {m}.", "Imaging with evidence of {m}.",
    "Admitted with {m}.", "Treated for {m} with good response.", "Course complicated by {m}.",
    "Workup was consistent with {m}.", "Known {m}, stable on current regimen.", "Presumed {m}, treated empirically.",
    "Likely {m}, managed medically.", "Ongoing {m}; continued home regimen.", "Evaluated for {m} which was confirmed.",
    "Labs notable for {m}.", "Patient with {m} followed by the primary team.",
)
NEGATED = (
    "No evidence of {m}.", "No {adj}evidence of {m}.", "Negative for {m}.", "{test} was negative for {m}.",
    "There was no {adj}sign of {m}.", "Not consistent with {m}.", "Without {m}.", "Denies {m}.",
    "Low suspicion for {m} given {finding}.", "{test} without {adj}evidence of {m}.",
    "No convincing {adj}findings to suggest {m}.", "She has never had {m}.", "He has never been told he has {m}.",
)
RULED_OUT = (
    "{m} was ruled out {reason}.", "Initially there was concern for {m}; however, {test} was unremarkable.",
    "{m} was considered but felt unlikely {reason}.", "Ruled out for {m} {reason}.",
    "Concern for {m} on admission, which was subsequently excluded {reason}.",
    "{m} was on the differential but {test} was reassuring.", "Question of {m}, not confirmed {reason}.",
)
FAMILY = (
    "Mother with {m}.", "Father died of {m} at age {age}.", "Family history significant for {m} in a sibling.",
    "Her mother, now {age}, had {m}.", "Brother with {m} diagnosed in his {decade}s.", "{m} in maternal grandmother.",
    "Father had {m}.", "Sister recently diagnosed with {m}.",
)
RESOLVED = (
    "Remote history of {m}, resolved.", "{m} in {year}, fully treated without recurrence.",
    "History of {m} as a child, since resolved.", "Prior episode of {m} years ago that has resolved.",
    "{m} during a prior admission, now resolved.",
)
HYPOTHETICAL = (
    "Return to the ED for any symptoms of {m}.", "Monitor for signs of {m}.", "At risk for {m}; counseled.",
    "Please call if you notice signs of {m}.", "Follow-up to screen for {m}.",
)
DISTRACTOR_KINDS = {"negated": NEGATED, "ruled_out": RULED_OUT, "family": FAMILY, "resolved": RESOLVED,
                    "hypothetical": HYPOTHETICAL}
ADJECTIVES = ("", "", "acute ", "radiographic ", "clinical or radiographic ", "convincing ", "definite ",
              "obvious ", "significant ")
TESTS = ("CT of the chest", "CT angiography", "the ultrasound", "serial troponins", "the echocardiogram",
         "MRI of the brain", "the chest x-ray", "blood cultures", "the urinalysis", "CT abdomen and pelvis",
         "lower extremity dopplers", "the EEG", "repeat labs", "the biopsy")
REASONS = ("with serial troponins", "by CT angiography", "after a negative workup", "on repeat imaging",
           "after cultures remained negative", "by the consulting team", "given normal labs", "after 48 hours")
FINDINGS = ("a normal white count", "clear lungs on exam", "a benign abdominal exam", "normal vital signs",
            "a negative D-dimer", "an unremarkable chest film")
