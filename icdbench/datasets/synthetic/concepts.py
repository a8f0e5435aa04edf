"""The head of the synthetic code distribution: the conditions and procedures that dominate inpatient coding.

Each row is ``code theme role weight`` with ``weight`` a rough share of admissions (per 100) carrying the code
in MIMIC-like inpatient data. Sibling families (heart-failure types and acuities, CKD stages, laterality
variants...) are listed in full so that qualifiers decide between them. The long tail comes from the code
tables (``pool.py``). Roles: ``principal`` (acute, may be the reason for admission), ``acute`` (acute,
secondary only), ``chronic``, ``status`` (Z/V codes), ``symptom`` (coded only when no diagnosis explains it),
``proc``.
"""

from __future__ import annotations

HEAD_ICD10 = """
I10 cardiac chronic 30          E78.5 metabolic chronic 26      Z87.891 general status 16
K21.9 digestive chronic 17      F32.A psych chronic 12          I25.10 cardiac chronic 14
N17.9 renal principal 12        F41.9 psych chronic 10          E11.9 metabolic chronic 8
Z79.01 general status 8         I48.91 cardiac chronic 8        E03.9 metabolic chronic 9
Z79.4 general status 6          D64.9 heme acute 7              E87.1 metabolic acute 6
G47.33 respiratory chronic 6    Z66 general status 5            J18.9 respiratory principal 6
A41.9 infection principal 6     N39.0 renal principal 5         J96.01 respiratory principal 4
I50.9 cardiac chronic 3         E87.6 metabolic acute 4         F17.210 psych chronic 5
I12.9 renal chronic 4           I13.0 cardiac chronic 2         I11.0 cardiac chronic 2
I12.0 renal chronic 1.5         N18.30 renal chronic 2          N18.31 renal chronic 1
N18.32 renal chronic 1          N18.4 renal chronic 1.5         N18.5 renal chronic 0.6
N18.6 renal chronic 1.5         N18.9 renal chronic 2           N18.2 renal chronic 0.8
I50.21 cardiac principal 0.6    I50.22 cardiac chronic 1.2      I50.23 cardiac principal 1.5
I50.31 cardiac principal 0.6    I50.32 cardiac chronic 1.4      I50.33 cardiac principal 1.6
I50.41 cardiac principal 0.2    I50.42 cardiac chronic 0.4      I50.43 cardiac principal 0.5
I48.0 cardiac chronic 3         I48.21 cardiac chronic 0.8      I48.92 cardiac acute 0.6
E11.22 metabolic chronic 3      E11.65 metabolic acute 2.5      E11.42 metabolic chronic 2
E10.9 metabolic chronic 0.5     E10.10 metabolic principal 0.5  E10.65 metabolic acute 0.4
E87.5 metabolic acute 2         E87.20 metabolic acute 2        E86.0 metabolic acute 3
E87.70 metabolic acute 1        E83.42 metabolic acute 2        E66.9 metabolic chronic 4
E66.01 metabolic chronic 2.5    Z68.41 general status 1         E43 metabolic acute 1
E44.0 metabolic acute 0.8       E55.9 metabolic chronic 2.5     J44.9 respiratory chronic 5
J44.1 respiratory principal 2   J44.0 respiratory principal 0.6 J69.0 respiratory principal 1.5
J15.9 respiratory principal 0.4 J18.1 respiratory principal 0.3 J96.02 respiratory principal 0.5
J96.00 respiratory principal 0.5 J96.21 respiratory principal 0.6 J96.22 respiratory principal 0.3
J96.11 respiratory chronic 0.5  J90 respiratory acute 3         J98.11 respiratory acute 1.5
J81.0 respiratory acute 0.8     R91.1 respiratory acute 0.8     J45.909 respiratory chronic 3.5
A41.51 infection principal 0.8  A41.01 infection principal 0.4  R65.20 infection acute 1.2
R65.21 infection acute 1.5      A04.72 infection principal 1    L03.115 infection principal 0.5
L03.116 infection principal 0.5 L03.113 infection principal 0.2 L03.114 infection principal 0.2
B20 infection chronic 0.5       B18.2 infection chronic 1       I21.4 cardiac principal 2
I21.3 cardiac principal 0.3     I25.2 cardiac chronic 3         I35.0 cardiac chronic 1.5
I95.9 cardiac acute 2           I26.99 vascular principal 1     I26.92 vascular principal 0.2
I26.09 vascular principal 0.2   I82.401 vascular principal 0.4  I82.402 vascular principal 0.4
I82.403 vascular principal 0.15 I82.409 vascular principal 0.3  I73.9 vascular chronic 1.5
I63.9 neuro principal 1         I63.511 neuro principal 0.3     I63.512 neuro principal 0.3
I61.9 neuro principal 0.4       G40.909 neuro chronic 1.5       G30.9 neuro chronic 0.8
F02.80 neuro chronic 0.8        F03.90 neuro chronic 1.5        G93.41 neuro acute 2
G89.29 neuro chronic 2.5        G20.A1 neuro chronic 0.7        R56.9 neuro acute 0.8
F10.20 psych chronic 2          F10.239 psych principal 0.6     F11.20 psych chronic 1
F43.10 psych chronic 1.2        F31.9 psych chronic 0.8         D62 heme acute 2.5
D63.1 heme chronic 1            D50.9 heme chronic 1.5          D50.0 heme chronic 0.6
D69.6 heme acute 2.5            K92.2 digestive principal 1     K92.1 digestive principal 0.6
K92.0 digestive principal 0.3   K57.30 digestive chronic 1.5    K57.31 digestive principal 0.3
K56.609 digestive principal 0.6 K85.90 digestive principal 0.8  K81.0 digestive principal 0.4
K70.30 liver chronic 0.8        K70.31 liver chronic 0.6        K74.60 liver chronic 0.8
K76.6 liver chronic 0.6         R18.8 liver acute 0.8           K76.82 liver principal 0.4
N17.0 renal principal 0.5       N40.0 renal chronic 2           N40.1 renal chronic 1
Z99.2 general status 1.2        R33.9 renal acute 1             C34.90 oncology chronic 0.5
C34.91 oncology chronic 0.3     C34.92 oncology chronic 0.3     C34.11 oncology chronic 0.3
C34.12 oncology chronic 0.25    C50.911 oncology chronic 0.3    C50.912 oncology chronic 0.3
C61 oncology chronic 0.6        C18.9 oncology chronic 0.3      C78.7 oncology chronic 0.4
C79.51 oncology chronic 0.4     C79.31 oncology chronic 0.3     M81.0 musculoskeletal chronic 2
M17.11 musculoskeletal chronic 0.4 M17.12 musculoskeletal chronic 0.4 M17.0 musculoskeletal chronic 0.3
M10.9 musculoskeletal chronic 1.2 M54.50 musculoskeletal chronic 1.2 M19.90 musculoskeletal chronic 1.2
S72.001A injury principal 0.4   S72.002A injury principal 0.4   S72.141A injury principal 0.2
S72.142A injury principal 0.2   S22.31XA injury acute 0.2       S22.32XA injury acute 0.2
S06.0X0A injury acute 0.2       W19.XXXA injury acute 2         Y92.009 injury acute 1
Z79.82 general status 4         Z79.899 general status 3        Z95.1 general status 1.5
Z95.0 general status 1          Z95.5 general status 2          Z86.73 general status 2
Z91.81 general status 1.2       Z85.46 general status 0.5       Z96.651 general status 0.4
Z96.652 general status 0.4      R07.9 general symptom 0.8       R07.89 general symptom 0.8
R06.02 general symptom 0.4      R55 general symptom 0.8         R50.9 general symptom 0.4
R53.1 general symptom 0.4       R41.82 general symptom 0.5      R10.9 general symptom 0.5
R11.2 general symptom 0.3
5A1935Z respiratory proc 2.5     5A1945Z respiratory proc 1.5    5A1955Z respiratory proc 1.2
0BH17EZ respiratory proc 2.5     02HV33Z vascular proc 4          30233N1 heme proc 4
5A1D70Z renal proc 1.5           5A1D90Z renal proc 0.6           4A023N7 cardiac proc 1.2
B2151ZZ cardiac proc 1          027034Z cardiac proc 1           02703DZ cardiac proc 0.3
0DJ08ZZ digestive proc 1.5       0DB68ZX digestive proc 0.6       0DJD8ZZ digestive proc 0.6
0W9G3ZZ liver proc 0.8           0W993ZZ respiratory proc 0.4     0W9B3ZZ respiratory proc 0.4
0DH64UZ digestive proc 0.4       0B110F4 respiratory proc 0.4     3E0436Z metabolic proc 1
009U3ZX neuro proc 0.6           B246ZZZ cardiac proc 1.5         0SRC0J9 musculoskeletal proc 0.2
0SRD0J9 musculoskeletal proc 0.2 0SR9019 musculoskeletal proc 0.25 0SRB019 musculoskeletal proc 0.25
021009W cardiac proc 0.4         5A1221Z cardiac proc 0.4         0FT44ZZ liver proc 0.3
0DTJ4ZZ digestive proc 0.2       0BJ08ZZ respiratory proc 0.6     B020ZZZ neuro proc 0.8
03HY32Z vascular proc 1          3E03305 oncology proc 0.4
"""

HEAD_ICD9 = """
401.9 cardiac chronic 30         272.4 metabolic chronic 24       V15.82 general status 10
530.81 digestive chronic 13      311 psych chronic 9              414.01 cardiac chronic 14
584.9 renal principal 12         300.00 psych chronic 5           250.00 metabolic chronic 10
V58.61 general status 7          427.31 cardiac chronic 12        244.9 metabolic chronic 8
V58.67 general status 5          285.9 heme acute 5               276.1 metabolic acute 6
327.23 respiratory chronic 4     V49.86 general status 4          486 respiratory principal 6
038.9 infection principal 5      599.0 renal principal 5          518.81 respiratory principal 6
428.0 cardiac chronic 12         276.8 metabolic acute 3          305.1 psych chronic 4
403.90 renal chronic 4           404.91 cardiac chronic 0.8       402.91 cardiac chronic 0.6
403.91 renal chronic 2           585.3 renal chronic 2            585.4 renal chronic 1.2
585.5 renal chronic 0.5          585.6 renal chronic 2            585.9 renal chronic 3
585.2 renal chronic 0.6          428.21 cardiac principal 0.5     428.22 cardiac chronic 1.2
428.23 cardiac principal 1.2     428.31 cardiac principal 0.6     428.32 cardiac chronic 1.4
428.33 cardiac principal 1.4     428.41 cardiac principal 0.2     428.42 cardiac chronic 0.3
428.43 cardiac principal 0.4     427.32 cardiac acute 0.8         250.40 metabolic chronic 2
250.02 metabolic acute 1.5       250.60 metabolic chronic 1.5     357.2 neuro chronic 1.5
250.01 metabolic chronic 0.5     250.13 metabolic principal 0.5   276.7 metabolic acute 2
276.2 metabolic acute 3          276.51 metabolic acute 2.5       276.69 metabolic acute 0.8
275.2 metabolic acute 1.2        278.00 metabolic chronic 3       278.01 metabolic chronic 2
V85.41 general status 0.6        262 metabolic acute 1            263.0 metabolic acute 0.6
268.9 metabolic chronic 1.2      496 respiratory chronic 5        491.21 respiratory principal 2
491.22 respiratory principal 0.4 507.0 respiratory principal 2    482.9 respiratory principal 0.3
481 respiratory principal 0.3    518.84 respiratory principal 0.8 518.83 respiratory chronic 0.4
511.9 respiratory acute 3        518.0 respiratory acute 2        518.4 respiratory acute 0.8
793.11 respiratory acute 0.6     493.90 respiratory chronic 3     038.42 infection principal 0.6
038.11 infection principal 0.4   995.92 infection acute 2         785.52 infection acute 1.5
008.45 infection principal 1     682.6 infection principal 1      682.3 infection principal 0.4
042 infection chronic 0.8        070.54 infection chronic 1.2     410.71 cardiac principal 2.5
410.11 cardiac principal 0.4     412 cardiac chronic 3            424.1 cardiac chronic 2
458.9 cardiac acute 2            415.19 vascular principal 1      453.40 vascular principal 0.5
453.41 vascular principal 0.4    453.42 vascular principal 0.2    443.9 vascular chronic 1.5
434.91 neuro principal 1         434.11 neuro principal 0.4       431 neuro principal 0.5
345.90 neuro chronic 1.5         331.0 neuro chronic 0.8          294.10 neuro chronic 0.8
294.20 neuro chronic 0.8         348.31 neuro acute 1.2           338.29 neuro chronic 1.5
332.0 neuro chronic 0.8          780.39 neuro acute 0.8           303.90 psych chronic 2
291.81 psych principal 0.6       304.00 psych chronic 0.8         309.81 psych chronic 0.8
296.80 psych chronic 0.6         285.1 heme acute 3               285.21 heme chronic 1.2
280.9 heme chronic 1.2           280.0 heme chronic 0.5           287.5 heme acute 3
578.9 digestive principal 1      578.1 digestive principal 0.6    578.0 digestive principal 0.3
562.10 digestive chronic 1.5     562.12 digestive principal 0.3   560.9 digestive principal 0.6
577.0 digestive principal 0.8    575.0 digestive principal 0.4    571.2 liver chronic 1.2
571.5 liver chronic 1            572.3 liver chronic 0.8          789.59 liver acute 1
572.2 liver principal 0.4        584.5 renal principal 0.8        600.00 renal chronic 2
600.01 renal chronic 0.8         V45.11 general status 1.2        788.20 renal acute 1
162.9 oncology chronic 0.5       162.3 oncology chronic 0.4       174.9 oncology chronic 0.5
185 oncology chronic 0.6         153.9 oncology chronic 0.3       197.7 oncology chronic 0.5
198.5 oncology chronic 0.4       198.3 oncology chronic 0.3       733.00 musculoskeletal chronic 2
715.36 musculoskeletal chronic 0.6 715.90 musculoskeletal chronic 1.2 274.9 musculoskeletal chronic 1.2
724.2 musculoskeletal chronic 1.2 820.8 injury principal 0.6     820.21 injury principal 0.4
807.01 injury acute 0.3          850.9 injury acute 0.2           E888.9 injury acute 1.5
E849.0 injury acute 1            V58.66 general status 3          V58.69 general status 2.5
V45.81 general status 1.8        V45.01 general status 1          V45.82 general status 1.5
V12.54 general status 1.5        V15.88 general status 1          V10.46 general status 0.5
V43.65 general status 0.6        786.50 general symptom 0.8       786.59 general symptom 0.8
786.05 general symptom 0.4       780.2 general symptom 0.8        780.60 general symptom 0.4
780.79 general symptom 0.4       780.97 general symptom 0.5       789.00 general symptom 0.5
787.01 general symptom 0.3
96.71 respiratory proc 3         96.72 respiratory proc 1.5       96.04 respiratory proc 2.5
38.93 vascular proc 5            99.04 heme proc 4                39.95 renal proc 1.8
37.22 cardiac proc 1             88.53 cardiac proc 1             36.07 cardiac proc 1
00.66 cardiac proc 1.2           00.40 cardiac proc 0.8           36.06 cardiac proc 0.3
45.13 digestive proc 1.5         44.14 digestive proc 0.6         45.23 digestive proc 0.6
54.91 liver proc 0.8             34.91 respiratory proc 0.8       43.11 digestive proc 0.4
31.1 respiratory proc 0.4        99.15 metabolic proc 1           03.31 neuro proc 0.6
88.72 cardiac proc 1.5           81.54 musculoskeletal proc 0.4   81.51 musculoskeletal proc 0.5
36.11 cardiac proc 0.4           39.61 cardiac proc 0.4           51.23 liver proc 0.3
47.01 digestive proc 0.2         33.22 respiratory proc 0.6       87.03 neuro proc 0.8
38.91 vascular proc 1            99.25 oncology proc 0.4
"""


def parse_head(table: str) -> list[tuple[str, str, str, float]]:
    """``(code, theme, role, weight)`` rows of a head table, in table order."""
    words = table.split()
    return [(words[i], words[i + 1], words[i + 2], float(words[i + 3])) for i in range(0, len(words), 4)]


# Codes whose titles are coder language: what clinicians write instead (replaces the title-derived forms).
SURFACE_OVERRIDES: dict[str, tuple[str, ...]] = {
    # ICD-10-CM / ICD-10-PCS
    "Z87.891": ("former smoker", "quit smoking years ago", "ex-smoker", "remote tobacco use"),
    "F17.210": ("current smoker", "active tobacco use", "smokes one pack per day", "ongoing cigarette use"),
    "Z79.01": ("on chronic anticoagulation", "anticoagulated with apixaban", "on long-term warfarin",
               "maintained on rivaroxaban"),
    "Z79.4": ("on long-term insulin", "insulin-dependent", "on insulin glargine at home", "uses insulin daily"),
    "Z79.82": ("on daily aspirin", "takes aspirin 81 mg daily", "long-term aspirin use"),
    "Z79.899": ("on multiple chronic medications", "long-term drug therapy"),
    "Z66": ("DNR", "DNR/DNI", "code status was changed to DNR", "do not resuscitate order in place"),
    "Z95.1": ("s/p CABG", "status post coronary artery bypass grafting", "prior CABG"),
    "Z95.0": ("s/p pacemaker placement", "has a permanent pacemaker", "PPM in place"),
    "Z95.5": ("s/p coronary stent", "has a drug-eluting stent", "prior PCI with stent"),
    "Z86.73": ("prior stroke without residual deficits", "history of TIA", "remote CVA without deficits"),
    "Z91.81": ("history of falls", "frequent falls", "high fall risk with recurrent falls"),
    "Z85.46": ("history of prostate cancer", "prostate cancer s/p prostatectomy"),
    "Z99.2": ("on hemodialysis", "HD-dependent", "dialysis dependent", "receives HD three times weekly"),
    "Z68.41": ("BMI 41", "body mass index of 42", "BMI of 43"),
    "W19.XXXA": ("fall", "mechanical fall", "fell at home", "unwitnessed fall"),
    "Y92.009": ("fall occurred at home", "fell in her home", "at home"),
    "F02.80": ("dementia due to Alzheimer's disease", "Alzheimer's dementia", "dementia"),
    "I12.9": ("hypertension", "HTN", "hypertensive nephrosclerosis", "hypertensive kidney disease"),
    "I12.0": ("hypertension", "HTN", "hypertensive ESRD", "hypertensive kidney disease"),
    "I11.0": ("hypertension", "HTN", "hypertensive heart disease"),
    "I13.0": ("hypertension", "HTN", "hypertensive heart and kidney disease"),
    "R65.20": ("severe sepsis", "sepsis with organ dysfunction"),
    "R65.21": ("septic shock", "sepsis with shock requiring pressors"),
    "5A1935Z": ("mechanical ventilation overnight with extubation the next morning",
                "brief mechanical ventilation", "mechanical ventilation for less than a day"),
    "5A1945Z": ("mechanical ventilation for two days", "mechanical ventilation for about three days",
                "ventilatory support for forty-eight hours"),
    "5A1955Z": ("prolonged mechanical ventilation", "mechanical ventilation for eight days",
                "ventilatory support for over a week"),
    "0BH17EZ": ("intubation", "endotracheal intubation", "ETT placement"),
    "02HV33Z": ("central line placement", "right IJ central venous catheter placement", "PICC placement",
                "CVL placement"),
    "03HY32Z": ("arterial line placement", "a-line placement", "radial arterial line placement"),
    "30233N1": ("transfusion of 2 units PRBC", "packed red blood cell transfusion", "PRBC transfusion"),
    "5A1D70Z": ("hemodialysis", "intermittent HD", "HD session"),
    "5A1D90Z": ("CVVH", "continuous renal replacement therapy", "CRRT"),
    "4A023N7": ("left heart catheterization", "cardiac catheterization", "LHC"),
    "B2151ZZ": ("left ventriculography", "coronary angiography", "cath with contrast"),
    "027034Z": ("PCI with drug-eluting stent", "DES to the LAD", "drug-eluting stent placement"),
    "02703DZ": ("PCI with bare metal stent", "BMS placement", "bare metal stent to the RCA"),
    "0DJ08ZZ": ("EGD", "upper endoscopy", "esophagogastroduodenoscopy"),
    "0DB68ZX": ("EGD with gastric biopsy", "endoscopic biopsy of the stomach"),
    "0DJD8ZZ": ("colonoscopy", "lower endoscopy"),
    "0W9G3ZZ": ("paracentesis", "diagnostic and therapeutic paracentesis", "large volume paracentesis"),
    "0DH64UZ": ("PEG tube placement", "percutaneous gastrostomy tube placement", "PEG"),
    "0B110F4": ("tracheostomy", "trach placement", "open tracheostomy"),
    "3E0436Z": ("TPN", "total parenteral nutrition", "parenteral nutrition via central line"),
    "009U3ZX": ("lumbar puncture", "LP", "diagnostic lumbar puncture"),
    "B246ZZZ": ("echocardiogram", "TTE", "transthoracic echo"),
    "021009W": ("CABG x1", "coronary artery bypass graft with saphenous vein", "CABG"),
    "5A1221Z": ("cardiopulmonary bypass", "on bypass pump", "CPB"),
    "0FT44ZZ": ("laparoscopic cholecystectomy", "lap chole"),
    "0DTJ4ZZ": ("laparoscopic appendectomy", "lap appy"),
    "0BJ08ZZ": ("bronchoscopy", "bronch", "flexible bronchoscopy"),
    "B020ZZZ": ("CT head", "head CT", "non-contrast CT of the head"),
    "3E03305": ("chemotherapy", "IV chemotherapy", "cycle of chemo"),
    # ICD-9-CM
    "V15.82": ("former smoker", "quit smoking years ago", "ex-smoker", "remote tobacco use"),
    "305.1": ("current smoker", "active tobacco use", "smokes one pack per day", "ongoing cigarette use"),
    "V58.61": ("on chronic anticoagulation", "anticoagulated with coumadin", "on long-term warfarin"),
    "V58.67": ("on long-term insulin", "insulin-dependent", "on insulin glargine at home"),
    "V58.66": ("on daily aspirin", "takes aspirin 81 mg daily", "long-term aspirin use"),
    "V58.69": ("on multiple chronic medications", "long-term drug therapy"),
    "V49.86": ("DNR", "DNR/DNI", "code status was changed to DNR"),
    "V45.81": ("s/p CABG", "status post coronary artery bypass grafting", "prior CABG"),
    "V45.01": ("s/p pacemaker placement", "has a permanent pacemaker", "PPM in place"),
    "V45.82": ("s/p coronary stent", "prior PCI with stent", "s/p PTCA"),
    "V12.54": ("prior stroke without residual deficits", "history of TIA", "remote CVA without deficits"),
    "V15.88": ("history of falls", "frequent falls"),
    "V10.46": ("history of prostate cancer", "prostate cancer s/p prostatectomy"),
    "V45.11": ("on hemodialysis", "HD-dependent", "dialysis dependent"),
    "V85.41": ("BMI 41", "body mass index of 42"),
    "V43.65": ("s/p knee replacement", "has a prosthetic knee"),
    "E888.9": ("fall", "mechanical fall", "unwitnessed fall"),
    "E849.0": ("fall occurred at home", "fell in her home", "at home"),
    "403.90": ("hypertension", "HTN", "hypertensive nephrosclerosis", "hypertensive kidney disease"),
    "403.91": ("hypertension", "HTN", "hypertensive ESRD", "hypertensive kidney disease"),
    "402.91": ("hypertension", "HTN", "hypertensive heart disease"),
    "404.91": ("hypertension", "HTN", "hypertensive heart and kidney disease"),
    "294.10": ("dementia due to Alzheimer's disease", "Alzheimer's dementia", "dementia"),
    "357.2": ("diabetic neuropathy", "peripheral neuropathy from diabetes"),
    "995.92": ("severe sepsis", "sepsis with organ dysfunction"),
    "785.52": ("septic shock", "sepsis with shock requiring pressors"),
    "96.71": ("mechanical ventilation for two days", "mechanical ventilation for about three days",
              "brief mechanical ventilation"),
    "96.72": ("prolonged mechanical ventilation", "mechanical ventilation for eight days",
              "ventilatory support for over a week"),
    "96.04": ("intubation", "endotracheal intubation", "ETT placement"),
    "38.93": ("central line placement", "right IJ central venous catheter", "PICC placement"),
    "38.91": ("arterial line placement", "a-line placement", "radial arterial line placement"),
    "99.04": ("transfusion of 2 units PRBC", "packed red blood cell transfusion", "PRBC transfusion"),
    "39.95": ("hemodialysis", "HD", "CVVH"),
    "37.22": ("left heart catheterization", "cardiac catheterization", "LHC"),
    "88.53": ("left ventriculography", "angiocardiography of the left heart"),
    "36.07": ("drug-eluting stent placement", "DES to the LAD"),
    "36.06": ("bare metal stent placement", "BMS to the RCA"),
    "00.66": ("PTCA", "PCI", "percutaneous coronary intervention"),
    "00.40": ("single vessel intervention", "one-vessel PCI"),
    "45.13": ("EGD", "upper endoscopy", "esophagogastroduodenoscopy"),
    "44.14": ("EGD with gastric biopsy", "endoscopic biopsy of the stomach"),
    "45.23": ("colonoscopy", "lower endoscopy"),
    "54.91": ("paracentesis", "large volume paracentesis"),
    "34.91": ("thoracentesis", "pleural tap"),
    "43.11": ("PEG tube placement", "percutaneous gastrostomy tube"),
    "31.1": ("tracheostomy", "trach placement"),
    "99.15": ("TPN", "total parenteral nutrition"),
    "03.31": ("lumbar puncture", "LP", "spinal tap"),
    "88.72": ("echocardiogram", "TTE", "transthoracic echo"),
    "36.11": ("CABG x1", "coronary artery bypass graft", "CABG"),
    "39.61": ("cardiopulmonary bypass", "on bypass pump", "CPB"),
    "51.23": ("laparoscopic cholecystectomy", "lap chole"),
    "47.01": ("laparoscopic appendectomy", "lap appy"),
    "33.22": ("bronchoscopy", "bronch", "flexible bronchoscopy"),
    "87.03": ("CT head", "head CT", "non-contrast CT of the head"),
    "99.25": ("chemotherapy", "IV chemotherapy", "cycle of chemo"),
}

# (trigger, companions, probability): when the trigger is coded, one companion is coded right after it
# (etiology before manifestation, "use additional code" pairs).
LINKS: tuple[tuple[str, tuple[str, ...], float], ...] = (
    ("E11.22", ("N18.30", "N18.31", "N18.32", "N18.4", "N18.2", "N18.9"), 1.0),
    ("I12.9", ("N18.30", "N18.31", "N18.32", "N18.4", "N18.2", "N18.9"), 1.0),
    ("I13.0", ("N18.30", "N18.4", "N18.9"), 1.0),
    ("I12.0", ("N18.6", "N18.5"), 1.0),
    ("N18.6", ("Z99.2",), 0.8),
    ("G30.9", ("F02.80",), 0.9),
    ("A41.9", ("R65.20", "R65.21"), 0.35),
    ("A41.51", ("R65.21",), 0.3),
    ("I48.91", ("Z79.01",), 0.55),
    ("I48.0", ("Z79.01",), 0.55),
    ("E10.9", ("Z79.4",), 0.9),
    ("E11.65", ("Z79.4",), 0.5),
    ("I25.10", ("Z79.82", "Z95.5", "Z95.1"), 0.5),
    ("021009W", ("5A1221Z",), 0.9),
    ("250.40", ("585.3", "585.4", "585.9"), 0.9),
    ("250.60", ("357.2",), 1.0),
    ("403.90", ("585.3", "585.4", "585.2", "585.9"), 1.0),
    ("403.91", ("585.6", "585.5"), 1.0),
    ("404.91", ("585.3", "585.9"), 1.0),
    ("585.6", ("V45.11",), 0.8),
    ("331.0", ("294.10",), 0.9),
    ("038.9", ("995.92",), 0.4),
    ("995.92", ("785.52",), 0.4),
    ("427.31", ("V58.61",), 0.55),
    ("250.00", ("V58.67",), 0.2),
    ("414.01", ("V58.66", "V45.82", "V45.81"), 0.5),
    ("00.66", ("36.07", "36.06"), 0.9),
    ("36.07", ("00.40",), 0.7),
    ("36.11", ("39.61",), 0.9),
)

# Status codes stated as not holding: distractor phrases that share the code's key words.
NEGATED_STATUS: dict[str, tuple[str, ...]] = {
    "Z87.891": ("never smoker", "denies ever smoking"), "V15.82": ("never smoker", "denies ever smoking"),
    "Z79.01": ("not on anticoagulation", "anticoagulation was not started given bleeding risk"),
    "V58.61": ("not on anticoagulation", "anticoagulation was not started given bleeding risk"),
    "Z79.4": ("diet-controlled, not on insulin", "insulin was not required at home"),
    "V58.67": ("diet-controlled, not on insulin", "insulin was not required at home"),
    "Z66": ("full code", "code status: full code, confirmed with the patient"),
    "V49.86": ("full code", "code status: full code, confirmed with the patient"),
    "Z99.2": ("not on dialysis", "has never required dialysis"), "V45.11": ("not on dialysis",),
    "Z95.1": ("no prior cardiac surgery", "never had bypass surgery"), "V45.81": ("no prior cardiac surgery",),
    "Z79.82": ("aspirin was held", "not taking aspirin"), "V58.66": ("aspirin was held", "not taking aspirin"),
}

# Codes that exclude each other (a patient is a current or a former smoker).
EXCLUSIVE: tuple[tuple[str, str], ...] = (("F17.210", "Z87.891"), ("305.1", "V15.82"))

# Hypertension is combined with heart failure and CKD into one code (presumed causal link in ICD coding).
HTN_COMBINATIONS = {
    "icd10": {"htn": "I10", "hf": "I11.0", "ckd": "I12.9", "esrd": "I12.0", "both": "I13.0",
              "hf_prefix": "I50", "ckd_prefix": "N18", "esrd_codes": ("N18.5", "N18.6")},
    "icd9": {"htn": "401.9", "hf": "402.91", "ckd": "403.90", "esrd": "403.91", "both": "404.91",
             "hf_prefix": "428", "ckd_prefix": "585", "esrd_codes": ("585.5", "585.6")},
}

# Symptom admissions: the presenting complaint is coded because the suspected diagnoses were ruled out.
SYMPTOM_WORKUPS: dict[str, tuple[str, ...]] = {
    "R07.9": ("I21.4", "I26.99"), "R07.89": ("I21.4", "I26.99"), "R06.02": ("I26.99", "J18.9", "I50.9"),
    "R55": ("I63.9", "I48.91"), "R50.9": ("A41.9", "J18.9", "N39.0"), "R53.1": ("I63.9",),
    "R41.82": ("I63.9", "G93.41"), "R10.9": ("K85.90", "K56.609"), "R11.2": ("K56.609",),
    "786.50": ("410.71", "415.19"), "786.59": ("410.71", "415.19"), "786.05": ("415.19", "486", "428.0"),
    "780.2": ("434.91", "427.31"), "780.60": ("038.9", "486", "599.0"), "780.79": ("434.91",),
    "780.97": ("434.91", "348.31"), "789.00": ("577.0", "560.9"), "787.01": ("560.9",),
}
SYMPTOM_PHRASES: dict[str, str] = {
    "R07.9": "chest pain", "R07.89": "atypical chest pain", "R06.02": "shortness of breath", "R55": "syncope",
    "R50.9": "fever", "R53.1": "weakness", "R41.82": "altered mental status", "R10.9": "abdominal pain",
    "R11.2": "nausea and vomiting", "786.50": "chest pain", "786.59": "atypical chest pain",
    "786.05": "shortness of breath", "780.2": "syncope", "780.60": "fever", "780.79": "weakness",
    "780.97": "altered mental status", "789.00": "abdominal pain", "787.01": "nausea and vomiting",
}
# What brings a patient in, by the theme of the principal diagnosis.
COMPLAINTS: dict[str, tuple[str, ...]] = {
    "cardiac": ("chest pain", "shortness of breath", "palpitations", "leg swelling", "dyspnea on exertion"),
    "vascular": ("leg swelling", "leg pain", "chest pain", "shortness of breath"),
    "respiratory": ("shortness of breath", "cough", "hypoxia", "dyspnea"),
    "infection": ("fever", "chills", "hypotension", "confusion", "redness and swelling"),
    "digestive": ("abdominal pain", "nausea and vomiting", "melena", "hematemesis", "diarrhea"),
    "liver": ("abdominal distension", "jaundice", "confusion", "abdominal pain"),
    "renal": ("decreased urine output", "abnormal labs", "dysuria", "weakness"),
    "metabolic": ("hyperglycemia", "weakness", "abnormal labs", "fatigue", "poor oral intake"),
    "neuro": ("altered mental status", "weakness", "seizure", "slurred speech", "headache"),
    "psych": ("agitation", "alcohol withdrawal", "confusion"),
    "heme": ("fatigue", "bleeding", "abnormal labs", "lightheadedness"),
    "oncology": ("weight loss", "pain", "fatigue", "shortness of breath"),
    "musculoskeletal": ("joint pain", "back pain", "fall", "knee pain"),
    "injury": ("fall", "hip pain", "trauma", "head strike"),
    "general": ("weakness", "fatigue", "fall"),
}
