"""load_corpus: format detection and every CorpusConfig field."""

from __future__ import annotations

from pathlib import Path

import pytest

from xenc_toolkit.config import CorpusConfig
from xenc_toolkit.corpora import detect_format, load_corpus, load_types_file
from xenc_toolkit.errors import ConfigError, InputFormatError, MissingInputError, SkipReport

DATA = Path(__file__).parent / "data" / "corpora"
MEDMENTIONS = DATA / "medmentions_sample.pubtator"
BIO = DATA / "medmentions_bio_sample.tsv"
JSONL = DATA / "mentions.jsonl"
TYPES = DATA / "cui_to_tuis.json"


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("medmentions_sample.pubtator", "pubtator"),
        ("ncbi_sample.txt", "pubtator"),  # starts with a blank line
        ("bc5cdr_sample.txt", "pubtator"),
        ("medmentions_bio_sample.tsv", "bio"),
        ("mentions.jsonl", "jsonl"),
    ],
)
def test_detect_format(name, fmt):
    assert detect_format(DATA / name) == fmt


def test_detect_format_failures(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(InputFormatError, match=r"empty\.txt:1: the corpus file is empty"):
        detect_format(empty)
    prose = tmp_path / "prose.txt"
    prose.write_text("\nJust some text\n", encoding="utf-8")
    with pytest.raises(InputFormatError, match=r"prose\.txt:2: cannot tell the corpus format .*PubTator"):
        detect_format(prose)
    with pytest.raises(MissingInputError):
        detect_format(tmp_path / "missing.txt")


def test_load_pubtator_with_split_files_and_context():
    cfg = CorpusConfig(
        path=MEDMENTIONS,
        split_files={"train": DATA / "medmentions_pmids_train.txt", "dev": DATA / "medmentions_pmids_dev.txt"},
        context_window=2,
    )
    mentions = load_corpus(cfg)
    assert len(mentions) == 169
    assert {m.split for m in mentions} == {"train", "dev"}
    cf = next(m for m in mentions if m.mention_id == "25763772:67-82")
    assert cf.left_context == "infection in" and cf.right_context == "Pseudomonas aeruginosa"


def test_load_pubtator_id_prefix_and_types_only_fill_missing(tmp_path):
    mentions = load_corpus(CorpusConfig(path=DATA / "ncbi_sample.txt", id_prefix="OMIM:", types_file=TYPES))
    assert "217000" in {g for m in mentions for g in m.gold_ids}
    assert all(m.types for m in mentions)  # entity classes from the file are kept
    assert {m.types for m in mentions} <= {
        ("SpecificDisease",),
        ("DiseaseClass",),
        ("Modifier",),
        ("CompositeMention",),
    }


def test_load_bio_with_types_and_block_split():
    cfg = CorpusConfig(path=BIO, types_file=TYPES, bio_split={"train": 0.8, "dev": 0.2}, context_unit="chars")
    mentions = load_corpus(cfg)
    assert len(mentions) == 57
    by_id = {m.mention_id: m for m in mentions}
    assert by_id["s1:6"].types == ("T099",)
    assert by_id["s1:1"].split == "train" and by_id["s5:1"].split == "dev"


def test_load_jsonl_prefix_types_and_split_files():
    cfg = CorpusConfig(
        path=JSONL,
        id_prefix="UMLS:",
        types_file=TYPES,
        split_files={"train": DATA / "medmentions_pmids_train.txt", "dev": DATA / "medmentions_pmids_dev.txt"},
    )
    mentions = load_corpus(cfg)
    dctn4 = mentions[1]
    assert dctn4.gold_ids == ("C4308010",)
    assert dctn4.types == ("T116", "T123")  # filled from the types file after prefix stripping
    assert mentions[0].types == ("T047",)  # given in the file, kept
    assert [m.split for m in mentions] == ["train", "train", "dev", "dev"]


def test_explicit_format_overrides_detection(tmp_path):
    with pytest.raises(InputFormatError, match=r"mentions\.jsonl:1: .*column"):
        load_corpus(CorpusConfig(path=JSONL, format="bio"))


def test_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="corpus.path is not set"):
        load_corpus(CorpusConfig())
    with pytest.raises(ConfigError, match="not both"):
        load_corpus(CorpusConfig(path=BIO, split_files={"train": JSONL}, bio_split={"train": 1.0}))
    with pytest.raises(ConfigError, match="use bio_split"):
        load_corpus(CorpusConfig(path=BIO, split_files={"train": JSONL}))
    with pytest.raises(MissingInputError, match="nothing.txt"):
        load_corpus(CorpusConfig(path=tmp_path / "nothing.txt"))


def test_lenient_config_counts_instead_of_raising(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("1|t|Heart attack\n1|a|x\n1\t0\t5\tHeart\tT\tC1\n1\t0\t5\tHeaxt\tT\tC1\n1\tzero\t5\tHeart\tT\tC1\n")
    with pytest.raises(InputFormatError, match=r"c\.txt:4:"):
        load_corpus(CorpusConfig(path=path))
    report = SkipReport(lenient=True)
    mentions = load_corpus(CorpusConfig(path=path, lenient=True), report=report)
    assert [m.text for m in mentions] == ["Heart"]
    assert report.counts == {"offsets do not match the text": 1, "non-integer offset": 1}
    # without an explicit report the config's lenient flag is honoured
    assert len(load_corpus(CorpusConfig(path=path, lenient=True))) == 1


def test_load_types_file(tmp_path):
    assert load_types_file(TYPES)["C4308010"] == ("T116", "T123")
    single = tmp_path / "single.json"
    single.write_text('{"C1": "T047"}', encoding="utf-8")
    assert load_types_file(single) == {"C1": ("T047",)}
    broken = tmp_path / "broken.json"
    broken.write_text('{\n  "C1": ["T047"],\n  "C2": ["T1"\n}\n', encoding="utf-8")
    with pytest.raises(InputFormatError, match=r"broken\.json:4: invalid JSON"):
        load_types_file(broken)
    wrong = tmp_path / "wrong.json"
    wrong.write_text('{\n  "C1": ["T047"],\n  "C2": 5\n}\n', encoding="utf-8")
    with pytest.raises(InputFormatError, match=r"wrong\.json:3: types of 'C2' are 5 \(expected a list"):
        load_types_file(wrong)
    with pytest.raises(MissingInputError):
        load_types_file(tmp_path / "none.json")
