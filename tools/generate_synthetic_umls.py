"""Write a synthetic, full-size UMLS ``META`` directory for the KB scale benchmark.

    python tools/generate_synthetic_umls.py --out /tmp/umls-synthetic/META \\
        --rows 21385114 --concepts 4000000

Writes ``MRCONSO.RRF``, ``MRSTY.RRF``, ``MRDEF.RRF``, ``MRCUI.RRF`` and an
``MRFILES.RRF`` describing them, with the real column layouts (see
``shared/data/umls-format-examples/MRFILES.RRF``) and roughly real value
distributions: sorted by CUI; a long-tailed number of rows per concept; ~62% English
rows, the rest spread over 20 other languages (a fifth of the concepts have no
English name); SABs and TTYs per language (SNOMEDCT_US, MSH, LNC, NCI, MDR, RXNORM,
MTH, ...); one TS=P/STT=PF/ISPREF=Y row per concept; SUPPRESS mostly N (some O, Y, E);
names built from pseudo-medical word pieces with real-ish lengths (a full-size
MRCONSO comes out at ~2.7 GB) and realistic duplication (the same string from
several sources, case variants, inversions, qualifiers). MRCUI holds DEL, SY (with
chains), RB/RN/RO rows for CUIs outside the current concept set.

Everything is generated with NumPy/Arrow vectorised operations, one block of concepts
at a time (a full-size release takes a few minutes). Write it outside the repository
(``/tmp`` or the git-ignored ``.cache/``); it is several GB.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

REAL_MRCONSO_ROWS = 21_385_114
REAL_MRSTY_ROWS = 6_875_332
REAL_MRCUI_ROWS = 2_364_533
REAL_MRDEF_ROWS = 501_039

ENGLISH_SHARE = 0.62
ENGLISH_CONCEPTS = 0.80
FOREIGN = {  # LAT: (weight, sources)
    "SPA": (0.24, ["MSHSPA", "SCTSPA", "MDRSPA", "LNC-ES-ES"]),
    "FRE": (0.09, ["MSHFRE", "MDRFRE", "LNC-FR-FR"]),
    "JPN": (0.09, ["MDRJPN", "MSHJPN"]),
    "DUT": (0.07, ["MSHDUT", "MDRDUT", "LNC-NL-NL"]),
    "POR": (0.07, ["MSHPOR", "MDRPOR", "LNC-PT-BR"]),
    "ITA": (0.06, ["MSHITA", "MDRITA", "LNC-IT-IT"]),
    "GER": (0.06, ["MSHGER", "MDRGER", "LNC-DE-DE"]),
    "CZE": (0.05, ["MSHCZE", "MDRCZE"]),
    "KOR": (0.04, ["MDRKO", "LNC-KO-KR"]),
    "CHI": (0.04, ["MDRCZE", "LNC-ZH-CN"]),
    "RUS": (0.03, ["MSHRUS", "MDRRUS"]),
    "TUR": (0.02, ["LNC-TR-TR"]),
    "EST": (0.02, ["LNC-ET-EE"]),
    "HUN": (0.02, ["MDRHUN"]),
    "POL": (0.01, ["MSHPOL"]),
    "SWE": (0.01, ["MSHSWE"]),
    "NOR": (0.01, ["MSHNOR"]),
    "GRE": (0.005, ["LNC-EL-GR"]),
    "FIN": (0.005, ["MSHFIN"]),
    "HEB": (0.005, ["MSHHEB"]),
}
ENGLISH_SAB_TTY = [  # (SAB, TTY, weight)
    ("SNOMEDCT_US", "PT", 5.0),
    ("SNOMEDCT_US", "FN", 5.0),
    ("SNOMEDCT_US", "SY", 4.0),
    ("MSH", "MH", 1.5),
    ("MSH", "ET", 4.0),
    ("MSH", "NM", 2.5),
    ("MSH", "PEP", 1.5),
    ("MSH", "PM", 1.0),
    ("LNC", "LN", 4.0),
    ("LNC", "LC", 3.0),
    ("LNC", "LPN", 2.0),
    ("LNC", "LA", 2.0),
    ("NCI", "PT", 2.0),
    ("NCI", "SY", 3.0),
    ("NCI", "AB", 0.5),
    ("MDR", "PT", 0.5),
    ("MDR", "LLT", 2.5),
    ("RXNORM", "IN", 0.5),
    ("RXNORM", "SCD", 1.5),
    ("RXNORM", "SBD", 1.0),
    ("RXNORM", "SY", 1.0),
    ("MEDCIN", "PT", 4.0),
    ("MEDCIN", "FN", 1.0),
    ("MTH", "PN", 1.5),
    ("GO", "PT", 0.5),
    ("GO", "SY", 1.0),
    ("NCBI", "SCN", 2.0),
    ("NCBI", "SY", 1.5),
    ("HPO", "PT", 0.3),
    ("HPO", "SY", 0.5),
    ("ICD10CM", "PT", 1.0),
    ("OMIM", "PT", 0.3),
    ("CHV", "SY", 2.0),
    ("MEDLINEPLUS", "ET", 0.2),
]
FOREIGN_TTY = ["MH", "PT", "SY", "ET", "LLT", "LN"]
TUI_WEIGHTS = {
    "T204": 8.0,
    "T109": 10.0,
    "T121": 8.0,
    "T116": 7.0,
    "T047": 6.0,
    "T033": 5.0,
    "T201": 4.0,
    "T123": 3.0,
    "T061": 3.0,
    "T060": 3.0,
    "T059": 3.0,
    "T007": 2.0,
    "T028": 2.0,
    "T023": 2.0,
    "T191": 2.0,
    "T184": 1.5,
    "T200": 4.0,
    "T126": 1.0,
    "T044": 1.0,
    "T043": 1.0,
}
QUALIFIERS = [
    "(disorder)",
    "(finding)",
    "(substance)",
    "(procedure)",
    ", NOS",
    "[Ambiguous]",
    "(body structure)",
    "NOS",
]
PREFIXES = [
    "a",
    "an",
    "anti",
    "cardio",
    "hepato",
    "neuro",
    "gastro",
    "osteo",
    "dermato",
    "nephro",
    "pneumo",
    "myelo",
    "lympho",
    "hemato",
    "endo",
    "peri",
    "hyper",
    "hypo",
    "poly",
    "oligo",
    "micro",
    "macro",
    "cyto",
    "immuno",
    "onco",
    "angio",
    "arthro",
    "broncho",
    "cerebro",
    "chondro",
    "colo",
    "cranio",
    "cysto",
    "encephalo",
    "entero",
    "fibro",
    "gluco",
    "glyco",
    "hystero",
    "laryngo",
    "leuko",
    "masto",
    "meningo",
    "myo",
    "naso",
    "oculo",
    "oto",
    "patho",
    "pharyngo",
    "phleb",
    "procto",
    "pyelo",
    "rhino",
    "sclero",
    "spleno",
    "stomato",
    "thoraco",
    "thrombo",
    "tracheo",
    "uro",
    "vaso",
]
ROOTS = [
    "card",
    "hepat",
    "neur",
    "gastr",
    "oste",
    "derm",
    "nephr",
    "pulmon",
    "myel",
    "lymph",
    "hem",
    "aden",
    "arteri",
    "arthr",
    "blast",
    "bronch",
    "carcin",
    "cephal",
    "cholecyst",
    "chondr",
    "col",
    "cost",
    "crani",
    "cyan",
    "cyst",
    "dactyl",
    "dent",
    "dips",
    "encephal",
    "erythr",
    "esophag",
    "fasci",
    "galact",
    "gingiv",
    "gloss",
    "glyc",
    "gynec",
    "hidr",
    "hist",
    "hydr",
    "hyster",
    "ile",
    "ischi",
    "kerat",
    "lact",
    "lapar",
    "laryng",
    "leuk",
    "lip",
    "lith",
    "lob",
    "mamm",
    "mast",
    "melan",
    "mening",
    "metr",
    "my",
    "myc",
    "nas",
    "necr",
    "ocul",
    "odont",
    "onych",
    "oophor",
    "ophthalm",
    "orchi",
    "oste",
    "ot",
    "ovari",
    "palat",
    "pancreat",
    "path",
    "ped",
    "pharyng",
    "phleb",
    "phren",
    "plasm",
    "pleur",
    "pneum",
    "proct",
    "psych",
    "py",
    "pyel",
    "rachi",
    "ren",
    "rhin",
    "salping",
    "sarc",
    "scler",
    "splen",
    "spondyl",
    "stern",
    "stomat",
    "synov",
    "tars",
    "ten",
    "therm",
    "thorac",
    "thromb",
    "thyr",
    "tonsill",
    "trache",
    "tympan",
    "ur",
    "uter",
    "vas",
    "ven",
    "vesic",
]
SUFFIXES = [
    "itis",
    "oma",
    "osis",
    "algia",
    "ectomy",
    "ology",
    "ic",
    "al",
    "ase",
    "in",
    "ide",
    "emia",
    "uria",
    "pathy",
    "plasty",
    "scopy",
    "genic",
    "lysis",
    "megaly",
    "penia",
    "rrhea",
    "sclerosis",
    "stenosis",
    "trophy",
    "cyte",
    "blast",
    "plasia",
    "ous",
    "ine",
    "ate",
    "one",
]
WORDS = [
    "acute",
    "chronic",
    "syndrome",
    "disease",
    "disorder",
    "of",
    "the",
    "left",
    "right",
    "type",
    "protein",
    "receptor",
    "gene",
    "cell",
    "human",
    "injection",
    "tablet",
    "mg",
    "oral",
    "solution",
    "structure",
    "finding",
    "procedure",
    "measurement",
    "level",
    "serum",
    "plasma",
    "urine",
    "blood",
    "history",
    "family",
    "primary",
    "secondary",
    "congenital",
    "malignant",
    "benign",
    "neoplasm",
    "carcinoma",
    "infection",
    "deficiency",
    "inhibitor",
    "agonist",
    "antagonist",
    "kinase",
    "factor",
    "alpha",
    "beta",
    "gamma",
    "delta",
    "with",
    "without",
    "and",
    "or",
    "in",
    "on",
    "by",
    "to",
    "for",
    "severe",
    "mild",
    "moderate",
    "stage",
    "grade",
    "total",
    "partial",
    "unspecified",
    "other",
]
FOREIGN_ENDINGS = ["ía", "ité", "ung", "ismo", "ose", "ique", "ción", "heid", "ità", "ização", "ová", "ája"]


def _vocab(rng: np.random.Generator, size: int, foreign: bool = False) -> pa.Array:
    """Pseudo-medical words (prefix+root+suffix), plus common words; Zipf-like frequencies come at sampling."""
    p = rng.choice(PREFIXES, size)
    r = rng.choice(ROOTS, size)
    s = rng.choice(FOREIGN_ENDINGS if foreign else SUFFIXES, size)
    use_prefix = rng.random(size) < 0.5
    words = np.char.add(np.where(use_prefix, p, ""), np.char.add(r, s))
    capital = rng.random(size) < 0.3
    words = np.where(capital, np.char.capitalize(words), words)
    vocab = np.concatenate([np.asarray(WORDS), np.unique(words)])
    rng.shuffle(vocab)
    return pa.array(vocab.tolist(), pa.string())


def _zipf_ids(rng: np.random.Generator, n: int, vocab_size: int) -> np.ndarray:
    ids = rng.zipf(1.25, n) - 1
    return np.where(ids < vocab_size, ids, rng.integers(0, vocab_size, n)).astype(np.int32)


def _phrases(rng: np.random.Generator, vocab: pa.Array, n_words: np.ndarray) -> pa.Array:
    """One space-joined phrase of ``n_words[i]`` random words per row."""
    offsets = np.zeros(len(n_words) + 1, dtype=np.int32)
    np.cumsum(n_words, out=offsets[1:])
    words = vocab.take(pa.array(_zipf_ids(rng, int(offsets[-1]), len(vocab))))
    return pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), words), " ")


def _fmt(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    digits = pc.utf8_lpad(pc.cast(pa.array(numbers.astype(np.int64)), pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, digits, "")


def _pick(rng: np.random.Generator, weights: np.ndarray, n: int) -> np.ndarray:
    """``n`` indices drawn with probabilities proportional to ``weights``."""
    p = np.asarray(weights, dtype=float)
    return rng.choice(len(p), n, p=p / p.sum())


def _write_lines(handle, columns: list[pa.Array]) -> int:
    """Write rows ``c1|c2|...|cN|\\n``; returns bytes written."""
    lines = pc.binary_join_element_wise(*columns, "\n", "|")
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks()
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32, count=len(lines) + 1, offset=lines.offset * 4)
    data = lines.buffers()[2]
    handle.write(memoryview(data)[offsets[0] : offsets[-1]])
    return int(offsets[-1] - offsets[0])


def rows_per_concept(rng: np.random.Generator, rows: int, concepts: int) -> np.ndarray:
    """Long-tailed rows per concept (>= 1) summing to ``rows``."""
    weight = rng.lognormal(0.0, 1.1, concepts)
    extra = np.floor(weight / weight.sum() * (rows - concepts)).astype(np.int64)
    short = rows - concepts - int(extra.sum())
    extra[rng.choice(concepts, short, replace=False)] += 1
    return extra + 1


def generate(out: Path, rows: int, concepts: int, sty_rows: int, cui_rows: int, def_rows: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    vocab = _vocab(rng, 40_000)
    foreign_vocab = _vocab(rng, 20_000, foreign=True)
    n_retired = max(1, int(cui_rows / 1.45))
    numbers = np.sort(rng.choice(6_000_000, concepts + n_retired, replace=False) + 1)
    is_current = np.zeros(len(numbers), dtype=bool)
    is_current[rng.choice(len(numbers), concepts, replace=False)] = True
    cuis, retired = numbers[is_current], numbers[~is_current]
    counts = rows_per_concept(rng, rows, concepts)
    english_concept = rng.random(concepts) < ENGLISH_CONCEPTS
    rows_in_english = int(counts[english_concept].sum())
    n_eng_concepts = int(english_concept.sum())
    q = (ENGLISH_SHARE * rows - n_eng_concepts) / max(1, rows_in_english - n_eng_concepts)
    q = float(min(max(q, 0.0), 1.0))

    langs = list(FOREIGN)
    lang_weights = np.asarray([FOREIGN[lang][0] for lang in langs])
    eng_weights = np.asarray([w for _, _, w in ENGLISH_SAB_TTY])
    files: dict[str, tuple[int, int]] = {}

    # ------------------------------------------------------------------ MRCONSO
    block = 200_000
    written = 0
    counter = {"lui": 1, "sui": 1, "aui": 1}
    with open(out / "MRCONSO.RRF", "wb") as handle:
        for start in range(0, concepts, block):
            stop = min(concepts, start + block)
            n_rows = counts[start:stop]
            total = int(n_rows.sum())
            concept = np.repeat(np.arange(start, stop), n_rows)
            position = np.arange(total) - np.repeat(np.cumsum(n_rows) - n_rows, n_rows)
            first = position == 0
            english = english_concept[concept]
            is_eng = (english & first) | (english & ~first & (rng.random(total) < q))
            foreign_lang = _pick(rng, lang_weights, total)
            lat = np.where(is_eng, "ENG", np.asarray(langs)[foreign_lang])
            ts = np.where(first | (rng.random(total) < 0.15), "P", "S")
            stt = np.where(first, "PF", np.asarray(["PF", "PF", "PF", "VO", "VC", "VCW"])[rng.integers(0, 6, total)])
            ispref = np.where(first | (rng.random(total) < 0.7), "Y", "N")
            suppress_draw = rng.random(total)
            suppress = np.select(
                [suppress_draw < 0.06, suppress_draw < 0.11, suppress_draw < 0.12], ["O", "Y", "E"], "N"
            )
            suppress = np.where(first & (suppress_draw > 0.01), "N", suppress)
            eng_pick = _pick(rng, eng_weights, total)
            sab = np.where(
                is_eng,
                np.asarray([s for s, _, _ in ENGLISH_SAB_TTY])[eng_pick],
                np.asarray([FOREIGN[lang][1][0] for lang in langs])[foreign_lang],
            )
            foreign_sab_choice = rng.integers(0, 4, total)
            alt_sab = np.asarray(
                [FOREIGN[lang][1][min(i, len(FOREIGN[lang][1]) - 1)] for lang in langs for i in range(4)]
            )
            sab = np.where(is_eng, sab, alt_sab[foreign_lang * 4 + foreign_sab_choice])
            tty = np.where(
                is_eng,
                np.asarray([t for _, t, _ in ENGLISH_SAB_TTY])[eng_pick],
                np.asarray(FOREIGN_TTY)[rng.integers(0, len(FOREIGN_TTY), total)],
            )
            sab = np.where(first & is_eng, "MSH", sab)
            tty = np.where(first & is_eng, "MH", tty)

            # names: a base phrase per concept and per-row variants of it
            n_concepts = stop - start
            base_words = np.minimum(1 + rng.poisson(1.7, n_concepts), 9)
            base = _phrases(rng, vocab, base_words)
            words_list = pc.split_pattern(base, " ")
            head = pc.list_element(words_list, 0)
            rest = pc.binary_join(pc.list_slice(words_list, 1), " ")
            inverted = pc.if_else(
                pc.greater(pc.list_value_length(words_list), 1), pc.binary_join_element_wise(rest, head, ", "), base
            )
            local = pa.array(concept - start)
            base_r, inverted_r = base.take(local), inverted.take(local)
            variant = np.where(first, 0, rng.choice(5, total, p=[0.35, 0.15, 0.2, 0.15, 0.15]))
            qualifier = pa.array(np.asarray(QUALIFIERS)[rng.integers(0, len(QUALIFIERS), total)].tolist())
            fresh = _phrases(rng, vocab, np.minimum(1 + rng.poisson(1.6, total), 9))
            foreign_names = _phrases(rng, foreign_vocab, np.minimum(1 + rng.poisson(1.5, total), 8))
            name = pc.if_else(pa.array(variant == 1), pc.utf8_lower(base_r), base_r)
            name = pc.if_else(pa.array(variant == 2), pc.binary_join_element_wise(base_r, qualifier, " "), name)
            name = pc.if_else(pa.array(variant == 3), inverted_r, name)
            name = pc.if_else(pa.array(variant == 4), fresh, name)
            name = pc.if_else(pa.array(~is_eng), foreign_names, name)

            row_ids = np.arange(written, written + total)
            cui = _fmt("C", cuis[concept], 7)
            lui = _fmt("L", counter["lui"] + row_ids // 2, 7)
            sui = _fmt("S", counter["sui"] + row_ids, 7)
            aui = _fmt("A", counter["aui"] + row_ids, 8)
            code_numbers = rng.integers(100_000, 999_999_999, total)
            code = pc.if_else(
                pa.array(np.char.startswith(sab.astype(str), "MSH")),
                _fmt("D", code_numbers % 1_000_000, 6),
                pc.cast(pa.array(code_numbers), pa.string()),
            )
            empty = pa.array([""] * total, pa.string())
            saui = pc.if_else(pa.array(rng.random(total) < 0.5), pc.cast(pa.array(row_ids + 100), pa.string()), empty)
            sdui = pc.if_else(pa.array(np.char.startswith(sab.astype(str), "MSH")), code, empty)
            srl = pa.array(np.asarray(["0", "0", "0", "1", "3", "4", "9"])[rng.integers(0, 7, total)].tolist())
            cvf = pa.array(np.select([rng.random(total) < 0.3], ["256"], "").tolist())
            columns = [
                cui,
                pa.array(lat.tolist()),
                pa.array(ts.tolist()),
                lui,
                pa.array(stt.tolist()),
                sui,
                pa.array(ispref.tolist()),
                aui,
                saui,
                code,
                sdui,
                pa.array(sab.tolist()),
                pa.array(tty.tolist()),
                code,
                name,
                srl,
                pa.array(suppress.tolist()),
                cvf,
            ]
            files.setdefault("MRCONSO", (0, 0))
            size = _write_lines(handle, columns)
            files["MRCONSO"] = (files["MRCONSO"][0] + total, files["MRCONSO"][1] + size)
            written += total
            print(f"MRCONSO {written:,}/{rows:,} rows ({time.perf_counter() - started:.0f}s)", flush=True)

    # ------------------------------------------------------------------ MRSTY
    tuis = list(TUI_WEIGHTS)
    tui_weights = np.asarray([TUI_WEIGHTS[t] for t in tuis])
    per_concept = 1 + rng.binomial(2, max(0.0, min(1.0, (sty_rows / concepts - 1) / 2)), concepts)
    concept = np.repeat(np.arange(concepts), per_concept)
    tui_index = _pick(rng, tui_weights, len(concept))
    keys = np.unique(concept.astype(np.int64) * 100 + tui_index)
    concept, tui_index = keys // 100, keys % 100
    stn = {t: f"A1.{i % 4 + 1}.{i % 3 + 1}.{i}" for i, t in enumerate(tuis)}
    tui_arr = np.asarray(tuis)[tui_index]
    from xenc_toolkit.kb.semantic_types import load_semantic_network

    network = load_semantic_network()
    with open(out / "MRSTY.RRF", "wb") as handle:
        size = 0
        for lo in range(0, len(concept), 2_000_000):
            hi = min(len(concept), lo + 2_000_000)
            t = tui_arr[lo:hi]
            size += _write_lines(
                handle,
                [
                    _fmt("C", cuis[concept[lo:hi]], 7),
                    pa.array(t.tolist()),
                    pa.array([stn[x] for x in t.tolist()]),
                    pa.array([network.type_name(x) for x in t.tolist()]),
                    _fmt("AT", np.arange(lo, hi) + 10_000_000, 8),
                    pa.array(["256"] * (hi - lo)),
                ],
            )
    files["MRSTY"] = (len(concept), size)
    print(f"MRSTY {len(concept):,} rows ({time.perf_counter() - started:.0f}s)", flush=True)

    # ------------------------------------------------------------------ MRDEF
    if def_rows:
        concept = np.sort(rng.choice(concepts, def_rows, replace=True))
        sab = np.asarray(["MSH", "NCI", "CSP", "MEDLINEPLUS", "HPO"])[rng.integers(0, 5, def_rows)]
        text = _phrases(rng, vocab, 10 + rng.poisson(22, def_rows))
        suppress = np.where(rng.random(def_rows) < 0.03, "O", "N")
        with open(out / "MRDEF.RRF", "wb") as handle:
            size = _write_lines(
                handle,
                [
                    _fmt("C", cuis[concept], 7),
                    _fmt("A", rng.integers(0, 30_000_000, def_rows), 8),
                    _fmt("AT", np.arange(def_rows) + 40_000_000, 8),
                    pa.array([""] * def_rows),
                    pa.array(sab.tolist()),
                    text,
                    pa.array(suppress.tolist()),
                    pa.array([""] * def_rows),
                ],
            )
        files["MRDEF"] = (def_rows, size)
        print(f"MRDEF {def_rows:,} rows ({time.perf_counter() - started:.0f}s)", flush=True)

    # ------------------------------------------------------------------ MRCUI
    per_retired = 1 + (rng.random(n_retired) < (cui_rows / n_retired - 1))
    cui1 = np.repeat(retired, per_retired)
    n = len(cui1)
    rel = np.asarray(["DEL", "SY", "RO", "RB", "RN"])[rng.choice(5, n, p=[0.3, 0.35, 0.2, 0.08, 0.07])]
    target = cuis[rng.integers(0, concepts, n)]
    chain = (rel == "SY") & (rng.random(n) < 0.1)
    target = np.where(chain, retired[rng.integers(0, n_retired, n)], target)
    has_target = rel != "DEL"
    versions = np.asarray([f"{y}A{h}" for y in range(2004, 2024) for h in "AB"])
    with open(out / "MRCUI.RRF", "wb") as handle:
        cui2 = pc.if_else(pa.array(has_target), _fmt("C", target, 7), pa.array([""] * n, pa.string()))
        mapin = np.where(~has_target, "", np.where(np.isin(target, cuis), "Y", "N"))
        size = _write_lines(
            handle,
            [
                _fmt("C", cui1, 7),
                pa.array(versions[rng.integers(0, len(versions), n)].tolist()),
                pa.array(rel.tolist()),
                pa.array([""] * n),
                pa.array([""] * n),
                cui2,
                pa.array(mapin.tolist()),
            ],
        )
    files["MRCUI"] = (n, size)

    layouts = {
        "MRCONSO": (
            "Concept names and sources",
            "CUI,LAT,TS,LUI,STT,SUI,ISPREF,AUI,SAUI,SCUI,SDUI,SAB,TTY,CODE,STR,SRL,SUPPRESS,CVF",
        ),
        "MRCUI": ("CUI History", "CUI1,VER,REL,RELA,MAPREASON,CUI2,MAPIN"),
        "MRDEF": ("Definitions", "CUI,AUI,ATUI,SATUI,SAB,DEF,SUPPRESS,CVF"),
        "MRSTY": ("Semantic Types", "CUI,TUI,STN,STY,ATUI,CVF"),
    }
    lines = []
    for name, (rows_written, size) in sorted(files.items()):
        description, fmt = layouts[name]
        lines.append(f"{name}.RRF|{description}|{fmt}|{fmt.count(',') + 1}|{rows_written}|{size}|")
    (out / "MRFILES.RRF").write_text("\n".join(lines) + "\n", encoding="utf-8")
    elapsed = time.perf_counter() - started
    print(f"done in {elapsed:.0f}s: {files}", flush=True)
    return {"files": files, "seconds": elapsed, "english_row_share_target": ENGLISH_SHARE}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="META directory to write (outside the repository)")
    parser.add_argument("--rows", type=int, default=REAL_MRCONSO_ROWS, help="MRCONSO rows")
    parser.add_argument("--concepts", type=int, default=4_000_000, help="concepts (CUIs) in MRCONSO")
    parser.add_argument("--sty-rows", type=int, default=None, help="MRSTY rows (default: scaled from a real release)")
    parser.add_argument("--cui-rows", type=int, default=None, help="MRCUI rows (default: scaled from a real release)")
    parser.add_argument("--def-rows", type=int, default=None, help="MRDEF rows (default: scaled; 0 = no MRDEF)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    scale = args.rows / REAL_MRCONSO_ROWS
    generate(
        args.out,
        rows=args.rows,
        concepts=args.concepts,
        sty_rows=args.sty_rows if args.sty_rows is not None else int(REAL_MRSTY_ROWS * scale),
        cui_rows=args.cui_rows if args.cui_rows is not None else int(REAL_MRCUI_ROWS * scale),
        def_rows=args.def_rows if args.def_rows is not None else int(REAL_MRDEF_ROWS * scale),
        seed=args.seed,
    )


if __name__ == "__main__":
    main()
