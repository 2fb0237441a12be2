"""Clean Descriptors: the rule that decides what survives of a kept free-text descriptor.

The rule, in order (docs/deidentification.md states it for users):

1. Every date-like and phone-like run is cut out (20240115, 2024-01-15, 15/01/2024,
   15.01.24, 15 Jan 2024, Jan 15 2024, +41 61 265 25 25...).
2. Every original value of an identifying attribute found anywhere in the dataset (any
   person name (PN), patient / accession / study IDs, institution, department, station,
   location...) is cut out where it appears whole, and so is each word of a person name
   or ID (an institution's vocabulary words, like "Bone" in "... Bone Clinic", stay).
3. What is left is split into words at spaces; a word is kept only when each of its parts
   (split at - / _ . , + and brackets) is allowed: a word of the clinical vocabulary below
   (anatomy, pathology, modality, projection, technique, common English function words),
   a single letter, a number of at most three digits (with an optional decimal part), a
   vertebral level (L5, T12, C2, S1), a count with a unit (3D, 5mm, 120kV) or a
   vocabulary word run together with such a number (WINDOW1). Anything
   else (names, institutions, IDs, unknown abbreviations) is dropped.
4. Function words left dangling at either end ("at", "of"...) are dropped; an empty result is kept
   empty (the attribute stays, blank).

An allow-list is used because a deny-list of names can never be complete: a word the
vocabulary does not know is lost, which costs a little of a description, never privacy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from inference_worker.vocabulary import DIAGNOSES

_MONTHS = (
    "jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec|january|february|march|april|june|july|"
    "august|september|october|november|december"
)
_DATES = re.compile(
    r"""(?ix)
    (?<!\d)\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?!\d)      # 2024-01-15, 2024/1/5
    | (?<!\d)\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}(?!\d)  # 15/01/2024, 15.01.24
    | (?<!\d)(?:19|20)\d{6}(?!\d)                   # 20240115
    | T?(?<!\d)\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?!\d)  # 10:15, T10:15:00
    | \b\d{1,2}(?:st|nd|rd|th)?[\s-]*(?:"""
    + _MONTHS
    + r""")\.?[\s,-]*(?:\d{2,4})?\b              # 15 Jan 2024, 15-jan
    | \b(?:"""
    + _MONTHS
    + r""")\.?[\s-]*\d{1,2}(?:st|nd|rd|th)?(?:[\s,]+\d{2,4})?\b  # Jan 15, 2024
    | \b(?:"""
    + _MONTHS
    + r""")\.?[\s,-]*(?:19|20)\d{2}\b            # January 2024
    """
)
# A run of digits and phone separators holding seven or more digits.
_PHONE = re.compile(r"\+?\(?\d[\d\s().-]{5,}\d")
_SPLIT_PARTS = re.compile(r"[-/_.,+&()\[\]{}:;'\"#*=<>|!?]+")
_EDGE_PUNCT = "()[]{},;:.'\"!?"
_SPINE_LEVEL = re.compile(r"^[ctls]\d{1,2}$")
_NUMBER_UNIT = re.compile(r"^\d{1,3}(?:d|mm|cm|ml|kv|kvp|mas|ma|s|sec|min|x|h|hr|t)?$")
_SHORT_NUMBER = re.compile(r"^\d{1,3}$")
_LETTERS_DIGITS = re.compile(r"[a-z]+|\d+")
_DECIMAL = re.compile(r"(?<![\d.])\d{1,3}\.\d{1,2}(?![\d.])")

# Left dangling at an end once what they governed was cut out ("Knee at <hospital>").
DANGLING_END = frozenset("a an and or of the to in on at for from by with via per into over under".split())
DANGLING_START = frozenset("a an and or of the at by for from to".split())
FUNCTION_WORDS = frozenset(
    """
    a an and or of the to in on at for from by with without w wo vs via per plus no non not
    is as into over under after before post pre than this that both each other only
    """.split()
)

# Clinical vocabulary: anatomy, pathology, modality, projection and technique words.
_CLINICAL = """
abdomen abdominal acetabular acetabulum acromioclavicular acromion ankle anterior apex
appendicular arm arms articular atlas axial axis back bilateral body bodies bone bones brain
breast calcaneal calcaneus capitate carpal carpus caudal cervical chest clavicle coccygeal
coccyx condyle coronoid cortex cortical costal cranial cranium cuboid cuneiform diaphyseal
diaphysis disc discs distal dorsal elbow epicondyle epiphyseal epiphysis extremity
extremities face facet femoral femur fibula fibular finger fingers foot feet forearm
frontal glenoid gluteal hallux hamate hand hands head heel hip hips humeral humerus iliac
ilium ischial ischium jaw joint joints knee knees lateral leg legs limb limbs lower lumbar
lumbosacral lunate malleolus mandible mastoid maxilla medial metacarpal metacarpals
metaphyseal metaphysis metatarsal metatarsals midfoot navicular neck occipital odontoid
olecranon orbit orbits os parietal patella patellar pedicle pelvic pelvis phalanx phalanges
pisiform posterior proximal pubic pubis radial radius rib ribs sacral sacroiliac sacrum
scaphoid scapula scapular sella sesamoid shaft shin shoulder shoulders sinus sinuses skull
spinal spine spinous sternal sternum subtalar symphysis talar talus tarsal tarsus temporal
thigh thoracic thoracolumbar thorax thumb tibia tibial toe toes transverse trapezium
trapezoid triquetrum trochanter trunk tuberosity ulna ulnar upper vertebra vertebrae
vertebral whole wrist zygoma zygomatic cspine tspine lspine sspine wholebody partialbody
adrenal aorta bladder bowel colon heart kidney kidneys liver lung lungs mediastinum
muscle muscles pancreas soft spleen tissue tissues vessel vessels
abscess aneurysmal benign bony callus cartilage cartilaginous cell cells chondroblastoma
chondroid chondroma chondromyxoid chondrosarcoma chordoma collapse compression cyst cystic
destruction destructive dysplasia enchondroma eosinophilic ewing exostosis fibroma
fibrous fibrosarcoma fracture fractures giant granuloma haemangioma hemangioma healing
infection infective infarct lesion lesions lipoma lymphoma lytic malignancy malignant
marrow mass metastases metastasis metastatic myeloma necrosis neoplasm neurogenic
ossifying osteoblastic osteoblastoma osteochondroma osteoid osteolytic osteoma osteomyelitis
osteonecrosis osteopenia osteoporosis osteoporotic osteosarcoma paget pathological
periosteal periostitis plasmacytoma primary reaction recurrence sarcoma sclerosis sclerotic
secondary simple tb tuberculosis tumor tumors tumour tumours unicameral
ct mr mri cr dx xr fdg psma rf us nm pt pet spect ot sc seg sr xa mg io px cbct dexa dxa
ap pa lat ll rl oblique obl lateral frontal axial coronal sagittal transverse cor sag ax tra
decubitus erect supine prone standing weight weightbearing bearing flexion extension
neutral swimmers swimmer view views projection projections frog lauenstein mortise
skyline sunrise tunnel inlet outlet judet ferguson dens open mouth
contrast enhanced unenhanced iv oral arterial venous portal delayed phase non plain native
scan scans scout topogram localizer localiser survey recon reconstruction reconstructions
reformat reformats mpr mip minip vr vrt volume rendering thin thick slice slices mm cm
bone soft lung brain tissue window windows kernel sharp smooth standard detail high
resolution low dose routine protocol helical spiral sequential multislice multiphase
dual energy spectral iterative filtered back projection series study image images exam
examination imaging radiograph radiographs radiography xray x ray rays film plain
survey follow up followup baseline pre post op operative postoperative preoperative
biopsy guided guidance navigation planning screening staging restaging trauma
t1 t2 pd flair stir dwi adc dixon fat sat suppressed suppression water in out gradient echo
spin gre tse fse se ir mprage space vibe gadolinium gad dynamic perfusion diffusion
left right lt rt bilat bilateral both side sided unilateral
hu ww wl level width
"""

VOCABULARY = (
    frozenset(
        word
        for text in (_CLINICAL, *(d.label for d in DIAGNOSES), *(d.code.replace("_", " ") for d in DIAGNOSES))
        for word in _SPLIT_PARTS.sub(" ", text.lower()).split()
    )
    | FUNCTION_WORDS
)


def name_words(people: Iterable[str], others: Iterable[str] = ()) -> tuple[frozenset[str], tuple[str, ...]]:
    """From original identifying values: their words (lower case, at least two
    characters) and the whole values (at least three characters), longest first.

    ``people``: person names, every word of which goes (a patient called "Hand" loses
    the word). ``others``: IDs, institutions, stations...: their vocabulary words stay
    ("Bone" of "Saint Wenceslas Bone Clinic" names no one once the rest is cut)."""
    words: set[str] = set()
    wholes: set[str] = set()
    for value, is_person in [(v, True) for v in people] + [(v, False) for v in others]:
        value = " ".join(str(value).replace("^", " ").replace("=", " ").replace("\\", " ").split())
        if len(value) >= 3:
            wholes.add(value.lower())
        for word in _SPLIT_PARTS.sub(" ", value.lower()).split():
            if len(word) >= 2 and (is_person or word not in VOCABULARY):
                words.add(word)
    return frozenset(words), tuple(sorted(wholes, key=len, reverse=True))


def _part_allowed(part: str, names: frozenset[str]) -> bool:
    if part in names:
        return False
    if part.isalpha():
        return len(part) == 1 or part in VOCABULARY
    if part.isdigit():
        return bool(_SHORT_NUMBER.match(part))
    if _SPINE_LEVEL.match(part) or _NUMBER_UNIT.match(part) or part in VOCABULARY:
        return True
    # A word and a short number run together ("WINDOW1", "phase2"): both halves allowed.
    pieces = _LETTERS_DIGITS.findall(part)
    return len(pieces) == 2 and all(_part_allowed(piece, names) for piece in pieces)


def _word_allowed(word: str, names: frozenset[str]) -> bool:
    core = word.strip(_EDGE_PUNCT).lower()
    if not core:
        return False
    if core in names:
        return False
    parts = [p for p in _SPLIT_PARTS.split(core) if p]
    if sum(p.isdigit() for p in parts) >= 3:
        return False  # 15.01.24, 061.265.25.25: the shape of a date, phone or ID
    return bool(parts) and all(_part_allowed(p, names) for p in parts)


def _phone_like(run: str) -> bool:
    # Seven or more digits in one run, unless it is a list of decimals ("1.0 120 2.5").
    return sum(c.isdigit() for c in run) >= 7 and not _DECIMAL.search(run)


def _cut_phones(text: str) -> str:
    return _PHONE.sub(lambda m: " " if _phone_like(m.group()) else m.group(), text)


def clean_descriptor(text: str, names: frozenset[str] = frozenset(), wholes: tuple[str, ...] = ()) -> str:
    """``text`` with only allowed words left (see the module's rule)."""
    text = " ".join(str(text).replace("\\", " ").split())
    text = _DATES.sub(" ", text)
    text = _cut_phones(text)
    lowered = text.lower()
    for whole in wholes:
        start = lowered.find(whole)
        while start >= 0:
            text = text[:start] + " " + text[start + len(whole) :]
            lowered = text.lower()
            start = lowered.find(whole)
    kept = [word for word in text.split() if _word_allowed(word, names)]
    while kept and kept[-1].strip(_EDGE_PUNCT).lower() in DANGLING_END:
        kept.pop()
    while kept and kept[0].strip(_EDGE_PUNCT).lower() in DANGLING_START:
        kept.pop(0)
    return " ".join(kept)
