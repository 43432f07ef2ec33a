"""In-document abbreviation resolution (Schwartz & Hearst 2003) and the corpus.expand_abbreviations switch."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xenc_toolkit.config import CorpusConfig
from xenc_toolkit.corpora import Mention, load_corpus, read_jsonl, read_pubtator, write_jsonl, write_pubtator
from xenc_toolkit.corpora.abbreviations import (
    abbreviation_pairs,
    best_long_form,
    expand_abbreviations,
    find_abbreviations,
    is_valid_short_form,
)

DATA = Path(__file__).parent / "data" / "corpora"
SHARED = Path(os.environ.get("XENC_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
NCBI = SHARED / "ncbi-disease"


# --------------------------------------------------------------------------- detection
@pytest.mark.parametrize(
    ("text", "short", "long"),
    [
        # long form (short form)
        ("Levels of heat shock protein (HSP) rose.", "HSP", "heat shock protein"),
        ("Boys with Duchenne muscular dystrophy (DMD) were seen.", "DMD", "Duchenne muscular dystrophy"),
        ("The gene mutated in ataxia-telangiectasia (A-T) is ATM.", "A-T", "ataxia-telangiectasia"),
        ("activity of the hypothalamus-pituitary-adrenal (HPA) axis", "HPA", "hypothalamus-pituitary-adrenal"),
        ("inhibitors of protein kinase C (PKC) were used", "PKC", "protein kinase C"),
        ("infection with Escherichia coli (E. coli) strains", "E. coli", "Escherichia coli"),
        ("in tuberous sclerosis complex 2 (TSC2) carriers", "TSC2", "tuberous sclerosis complex 2"),
        # the short form's letters need not start words, only its first one does
        ("in glucose-6-phosphate dehydrogenase (G6PD) deficiency", "G6PD", "glucose-6-phosphate dehydrogenase"),
        # the parenthesis is cut at its first '; ' or ', '
        ("Duchenne muscular dystrophy (DMD; OMIM 310200) is X-linked.", "DMD", "Duchenne muscular dystrophy"),
        ("in spinocerebellar ataxia type 1 (SCA1, OMIM 164400) families", "SCA1", "spinocerebellar ataxia type 1"),
        # short form (long form): the word before, which holds a capital
        ("Serum TNF (tumor necrosis factor alpha) rose.", "TNF", "tumor necrosis factor alpha"),
        # tokenised text (BIO sentences)
        ("boys with duchenne muscular dystrophy ( dmd ) were", "dmd", "duchenne muscular dystrophy"),
    ],
)
def test_classic_definitions(text, short, long):
    assert find_abbreviations(text) == {short: long}
    (pair,) = abbreviation_pairs(text)
    assert text[pair.short_start : pair.short_start + len(short)] == short
    assert text[pair.long_start : pair.long_start + len(long)] == long


@pytest.mark.parametrize(
    "text",
    [
        "The difference was significant (p < 0.05) in both arms.",
        "Mutations were found in 12 patients (n = 12).",
        "as described before (1998).",
        "levels fell (P<0.05) after treatment",  # a valid-looking short form whose digits match nothing
        "as reported earlier (Smith et al., 1998) and later",
        "in most cases (95%) the onset",
        "as shown in the figure (see Fig. 2) below",
        "the patients (n=12) were treated",
        "a sample (A) and another sample (B) were compared",  # one-character short forms
        "Duchenne muscular dystrophy (DMD",  # no closing parenthesis
        "Duchenne muscular dystrophy(DMD) has no space before the parenthesis",
        "myotonic dystrophy (DM) spells the letters in another order",
        "a bone of an unusually long shape (AB) in children",  # long form over min(2 + 5, 2 * 2) words
        "patients with DMD (Duchenne) were seen",  # the long form does not spell the short form
        "the syndrome (IDDM2) was mapped",  # a digit the text before does not have
        "",
    ],
)
def test_not_abbreviations(text):
    assert find_abbreviations(text) == {}


def test_short_form_rules():
    assert is_valid_short_form("DMD") and is_valid_short_form("A-T") and is_valid_short_form("5-HT")
    assert not is_valid_short_form("A")  # too short
    assert not is_valid_short_form("ABCDEFGHIJK")  # 11 characters
    assert not is_valid_short_form("1998")  # no letter
    assert not is_valid_short_form("-ABC")  # first character not alphanumeric
    assert best_long_form("HSP", "rising levels of heat shock protein") == "heat shock protein"
    assert best_long_form("HSP", "shock protein") is None


def test_first_definition_wins_and_clauses():
    text = "In fatty acid (FA) oxidation. Later, Fanconi anemia (FA) was excluded."
    assert find_abbreviations(text) == {"FA": "fatty acid"}
    assert [p.long for p in abbreviation_pairs(text)] == ["fatty acid", "Fanconi anemia"]
    # the long form never reaches back over '. ', ', ' or an earlier parenthesis, nor over a line break
    assert find_abbreviations("heat shock. Protein (HSP)") == {}
    assert find_abbreviations("heat shock protein\n(HSP) rose") == {}
    text = "adenomatous polyposis coli (APC) and cystic fibrosis (CF) patients"
    assert find_abbreviations(text) == {"APC": "adenomatous polyposis coli", "CF": "cystic fibrosis"}


def test_long_form_word_limit():
    # min(|SF| + 5, 2 * |SF|) words: 4 for a two-letter short form, 8 for a four-letter one
    assert find_abbreviations("low one two three bone (LB)") == {}
    assert find_abbreviations("low bone (LB)") == {"LB": "low bone"}
    assert find_abbreviations("X syndrome of the liver and the spleen (XSLS)") == {
        "XSLS": "X syndrome of the liver and the spleen"
    }


WORD = st.text(alphabet=st.sampled_from(list("abcdeABCDE0123-")), min_size=1, max_size=6)
TOKEN = st.one_of(WORD, st.sampled_from(["(", ")", ", ", ". ", "; ", "\n", " ("]))


@settings(max_examples=int(os.environ.get("XENC_HYPOTHESIS_EXAMPLES", "200")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(st.lists(TOKEN, max_size=30).map(" ".join))
def test_detected_pairs_obey_the_rules(text):
    for pair in abbreviation_pairs(text):
        short, long = pair.short, pair.long
        assert is_valid_short_form(short)
        assert text[pair.short_start : pair.short_start + len(short)] == short
        assert text[pair.long_start : pair.long_start + len(long)] == long
        assert "\n" not in long and len(long) >= len(short)
        size = sum(ch.isalnum() for ch in short)
        assert len(re.findall(r"[^\s\-]+", long)) <= min(size + 5, 2 * size)
        assert best_long_form(short, long) == long  # the long form spells the short form


# --------------------------------------------------------------------------- expansion
def _mention(doc: str, text: str, start: int, **kw) -> Mention:
    return Mention(f"{doc}:{start}", doc, text, ("D1",), start=start, end=start + len(text), **kw)


def test_expand_abbreviations():
    docs = {
        "1": "APC gene. Patients with adenomatous polyposis coli (APC) and APCs; apc is lowercase.",
        "2": "No definitions here: APC.",
    }
    mentions = [
        _mention("1", "APC", 0, left_context="", right_context="gene ."),
        _mention("1", " APC ", 52),
        _mention("1", "APCs", 61),
        _mention("1", "apc", 67),
        _mention("1", "adenomatous polyposis coli", 24),
        _mention("2", "APC", 21),
        _mention("3", "APC", 0),  # no text for document 3
    ]
    out, report = expand_abbreviations(mentions, docs)
    assert [m.text for m in out] == [
        "adenomatous polyposis coli",  # used in the title before the abstract defines it
        "adenomatous polyposis coli",
        "adenomatous polyposis coli",  # plural
        "apc",  # short forms are case-sensitive
        "adenomatous polyposis coli",
        "APC",
        "APC",
    ]
    assert [m.original_text for m in out] == ["APC", " APC ", "APCs", None, None, None, None]
    first = out[0]
    assert (first.mention_id, first.start, first.end, first.gold_ids) == ("1:0", 0, 3, ("D1",))
    assert (first.left_context, first.right_context, first.surface_text) == ("", "gene .", "APC")
    assert mentions[0].text == "APC" and mentions[0].original_text is None  # inputs are not modified
    assert out[3] is mentions[3]
    assert report.mentions == 7 and report.mentions_expanded == 3 and report.plural_expanded == 1
    assert report.mentions_without_document == 1
    assert (report.documents, report.documents_with_abbreviations, report.abbreviations) == (2, 1, 1)
    assert report.examples[0] == "1: APC -> adenomatous polyposis coli"
    assert "3 of 7 mentions expanded" in report.summary()
    again, report2 = expand_abbreviations(out, docs)  # idempotent
    assert [m.text for m in again] == [m.text for m in out] and report2.mentions_expanded == 0


def test_plural_only_when_simple():
    docs = {"d": "in lipoprotein lipase (LPL) and retinoic acid (Ra) but not Ras; Toll receptors (Tolls) and Toll"}
    mentions = [_mention("d", "LPLs", 0), _mention("d", "Ras", 0), _mention("d", "Tolls", 0)]
    out, _ = expand_abbreviations(mentions, docs)
    # "Ra" ends with a lower-case letter: "Ras" is not read as its plural
    assert [m.text for m in out] == ["lipoprotein lipase", "Ras", "Toll receptors"]


def test_expanded_mentions_keep_surface_in_files(tmp_path):
    docs = read_pubtator(DATA / "ncbi_sample.txt")
    mentions, report = expand_abbreviations([m for d in docs for m in d.mentions], {d.pmid: d.text for d in docs})
    assert report.mentions_expanded > 0
    # JSONL keeps both strings; a mention without expansion is written as before (no original_text key)
    path = write_jsonl(mentions, tmp_path / "m.jsonl")
    assert read_jsonl(path) == mentions
    plain = next(m for m in mentions if m.original_text is None)
    assert "original_text" not in plain.to_dict()
    # PubTator writes the surface string, so the offsets still verify when read back
    by_doc = {}
    for m in mentions:
        by_doc.setdefault(m.doc_id, []).append(m)
    for d in docs:
        d.mentions = by_doc.get(d.pmid, [])
    back = read_pubtator(write_pubtator(docs, tmp_path / "back.txt"))
    assert [m.text for d in back for m in d.mentions] == [m.surface_text for m in mentions]


def test_training_mention_names_are_surface_strings():
    from xenc_toolkit.kb.from_corpus import kb_from_mentions

    out, _ = expand_abbreviations([_mention("d", "DMD", 0)], {"d": "Duchenne muscular dystrophy (DMD)"})
    assert out[0].text == "Duchenne muscular dystrophy"
    assert kb_from_mentions(out).name_list == ["DMD"]


# --------------------------------------------------------------------------- the loader switch
@pytest.mark.parametrize("name", ["ncbi_sample.txt", "medmentions_sample.pubtator", "mentions.jsonl"])
def test_loader_switch(name):
    default = load_corpus(CorpusConfig(path=DATA / name))
    off = load_corpus(CorpusConfig(path=DATA / name, expand_abbreviations=False))
    on = load_corpus(CorpusConfig(path=DATA / name, expand_abbreviations=True))
    assert off == default and all(m.original_text is None for m in off)
    assert len(on) == len(off)
    for before, after in zip(off, on, strict=True):
        assert (before.mention_id, before.gold_ids, before.start, before.end) == (
            after.mention_id,
            after.gold_ids,
            after.start,
            after.end,
        )
        assert (before.left_context, before.right_context) == (after.left_context, after.right_context)
        assert after.surface_text == before.text
        if after.original_text is not None:
            assert after.text != before.text
    expanded = {m.original_text: m.text for m in on if m.original_text is not None}
    if name == "ncbi_sample.txt":
        assert expanded["WAS"] == "Wiskott-Aldrich syndrome"
    elif name == "medmentions_sample.pubtator":
        assert expanded["CF"] == "cystic fibrosis" and expanded["DCTN4"] == "dynactin 4"
    else:  # JSONL: definitions come from the context windows of the same document
        assert expanded == {}


def test_loader_switch_jsonl_contexts(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text(
        '{"doc_id": "d", "text": "DMD", "left_context": "boys with Duchenne muscular dystrophy (", "right_context": ")"}\n'
        '{"doc_id": "d", "text": "DMD", "left_context": "most", "right_context": "patients"}\n'
        '{"doc_id": "e", "text": "DMD", "left_context": "other", "right_context": "document"}\n',
        encoding="utf-8",
    )
    on = load_corpus(CorpusConfig(path=path, expand_abbreviations=True))
    assert [m.text for m in on] == ["Duchenne muscular dystrophy", "Duchenne muscular dystrophy", "DMD"]


def test_loader_switch_bio_sentences(tmp_path):
    rows = [
        "boys\tO",
        "with\tO",
        "duchenne\tB-C0013264",
        "muscular\tI-C0013264",
        "dystrophy\tI-C0013264",
        "(\tO",
        "dmd\tB-C0013264",
        ")\tO",
        "\t",
        "dmd\tB-C0013264",  # another sentence: BIO has no documents, the sentence is the scope
        "patients\tO",
        "\t",
    ]
    path = tmp_path / "s.bio"
    path.write_text("\r\n".join(rows) + "\r\n", encoding="utf-8")
    off = load_corpus(CorpusConfig(path=path))
    on = load_corpus(CorpusConfig(path=path, expand_abbreviations=True))
    assert [m.text for m in off] == ["duchenne muscular dystrophy", "dmd", "dmd"]
    assert [m.text for m in on] == ["duchenne muscular dystrophy", "duchenne muscular dystrophy", "dmd"]
    assert [m.original_text for m in on] == [None, "dmd", None]


def test_cli_flag():
    from xenc_toolkit.config import MineConfig, load_config

    cfg = load_config(MineConfig, None, {"corpus.expand_abbreviations": True})
    assert cfg.corpus.expand_abbreviations is True
    assert MineConfig().corpus.expand_abbreviations is False


# --------------------------------------------------------------------------- real data
def _ncbi(name: str):
    path = NCBI / name
    if not path.exists():
        pytest.skip(f"{path} not found (set XENC_SHARED_DATA)")
    return read_pubtator(path)


def _agreement(docs, expanded):
    """Expanded mentions whose document also annotates the long form: how many share a gold id with it."""
    gold_of_text: dict[tuple[str, str], set[str]] = {}
    for d in docs:
        for m in d.mentions:
            gold_of_text.setdefault((d.pmid, m.text.lower()), set()).update(m.gold_ids)
    checked = agree = 0
    for m in expanded:
        golds = gold_of_text.get((m.doc_id, m.text.lower()))
        if m.original_text is None or golds is None:
            continue
        checked += 1
        agree += bool(golds & set(m.gold_ids))
    return checked, agree


@pytest.mark.parametrize(
    ("name", "expanded_range", "floor"),
    # measured: train 1,249 of 5,134 mentions expanded, 1,153 of the 1,155 checked agree (0.998);
    # dev 146 of 787, 114 of 117 (0.974)
    [("NCBItrainset_corpus.txt", (1000, 1500), 0.95), ("NCBIdevelopset_corpus.txt", (110, 180), 0.9)],
)
def test_ncbi_disease_expansions_are_right(name, expanded_range, floor):
    docs = _ncbi(name)
    mentions = [m for d in docs for m in d.mentions]
    out, report = expand_abbreviations(mentions, {d.pmid: d.text for d in docs})
    assert expanded_range[0] <= report.mentions_expanded <= expanded_range[1]
    assert report.documents_with_abbreviations >= 0.5 * len(docs)
    checked, agree = _agreement(docs, out)
    assert checked >= 0.75 * report.mentions_expanded  # most long forms are annotated mentions too
    assert agree / checked >= floor
    # every expansion is a short form written in the document, and its long form too
    text_of = {d.pmid: d.text for d in docs}
    for m in out:
        if m.original_text is not None:
            assert m.text in text_of[m.doc_id] and m.original_text in text_of[m.doc_id]
    # through the loader: the same expansions
    loaded = load_corpus(CorpusConfig(path=NCBI / name, expand_abbreviations=True))
    assert [m.text for m in loaded] == [m.text for m in out]
