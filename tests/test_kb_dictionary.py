"""MEDIC/BioSyn-style and TSV dictionaries, including the real MEDIC file and NCBI-disease gold ids."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from xenc_toolkit.kb import id_variants, load_medic, load_tsv

DATA = Path(__file__).parent / "data" / "dictionaries"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
REAL_MEDIC = SHARED / "medic" / "medic_06Jul2012.txt"
NCBI = SHARED / "ncbi-disease"


def names_of(kb, concept_id: str) -> list[str]:
    return [kb.name_list[i] for i in kb.names_of(kb.resolve(concept_id))]


@pytest.fixture(scope="module")
def medic():
    return load_medic(DATA / "medic_sample.txt")


def test_medic_sample(medic):
    assert medic.n_concepts == 15
    assert medic.metadata["source"] == "medic"
    assert medic.preferred_names[medic.resolve("D020967")] == "Myotonic Disorders"
    assert names_of(medic, "D003920") == ["Diabetes Mellitus"]
    assert len(names_of(medic, "D001249")) == 7


def test_medic_html_entities_are_unescaped(medic):
    assert "Disease, Eulenburg's" in names_of(medic, "D020967")
    assert "Klippel-Trénaunay-Weber Syndrome" in names_of(medic, "149000")
    assert any("body & scalp hair" in name for name in names_of(medic, "C538016"))
    assert not any("&apos;" in name or "&#" in name or "&amp;" in name for name in medic.name_list)


def test_medic_alternative_ids_and_prefixes(medic):
    asthma = medic.resolve("D001249")
    assert medic.resolve("600807") == asthma  # OMIM alt id
    assert medic.resolve("OMIM:600807") == asthma
    assert medic.resolve("MESH:D001249") == asthma
    smith = medic.resolve("607677")  # OMIM id as the concept id, MeSH supplementary id as alt id
    assert medic.resolve("OMIM:607677") == smith and medic.resolve("C535416") == smith
    assert medic.resolve("MESH:C535416") == smith
    # 260350 is a concept of its own and also an alt id of D010190: the concept wins, for both spellings
    assert medic.concept_ids[medic.resolve("260350")] == "OMIM:260350"  # written with its namespace
    assert medic.concept_ids[medic.resolve("OMIM:260350")] == "OMIM:260350"
    assert medic.concept_ids[asthma] == "MESH:D001249" and medic.concept_ids[smith] == "OMIM:607677"
    assert medic.resolve("D999999") is None


def test_medic_root_line(medic, tmp_path):
    assert medic.preferred_names[medic.resolve("C")] == "Diseases"
    without = load_medic(DATA / "medic_sample.txt", keep_root=False)
    assert without.n_concepts == 14 and without.resolve("C") is None
    assert without.metadata["counts"]["root_lines_dropped"] == 1


def test_medic_duplicate_ids_merge(tmp_path):
    path = tmp_path / "dup.txt"
    path.write_text("D1||One|Uno\r\nD2||Two\r\n\r\nD1|123456||Eins|One\r\n", encoding="utf-8")
    kb = load_medic(path)
    assert kb.n_concepts == 2
    assert names_of(kb, "D1") == ["One", "Uno", "Eins"]
    assert kb.resolve("123456") == kb.resolve("D1")
    assert kb.metadata["counts"]["merged_duplicate_ids"] == 1


def test_id_variants():
    assert id_variants("D012345") == ["MESH:D012345"]
    assert id_variants("C535416") == ["MESH:C535416"]
    assert id_variants("MESH:D012345") == ["D012345"]
    assert id_variants("mesh:D012345") == ["D012345", "MESH:D012345"]
    assert id_variants("123456") == ["OMIM:123456"]
    assert id_variants("OMIM:123456") == ["123456"]
    assert id_variants("C") == [] and id_variants("C0004057") == [] and id_variants("FOO:1") == []


def test_tsv():
    kb = load_tsv(DATA / "sample.tsv")
    assert kb.n_concepts == 4 and kb.metadata["counts"]["header"] is True
    assert names_of(kb, "C0004057") == ["Aspirin", "Acetylsalicylic Acid", "ASA"]
    assert kb.preferred_names[kb.resolve("C0027051")] == "Myocardial Infarction"
    assert kb.types_of(kb.resolve("C0004057")) == ("T121", "T109")
    assert kb.types_of(kb.resolve("CUSTOM:1")) == ("DISO-custom",)


def test_tsv_without_header_or_types(tmp_path):
    path = tmp_path / "names.tsv"
    path.write_text("X1\tAlpha\nX1\tAlpha\nX2\tBeta\n", encoding="utf-8")
    kb = load_tsv(path)
    assert kb.concept_ids == ["X1", "X2"] and kb.n_names == 2
    assert kb.types_of(0) == ()


# --------------------------------------------------------------------------- real files
needs_shared = pytest.mark.skipif(not REAL_MEDIC.exists(), reason="shared/data (MEDIC, NCBI-disease) not present")


@pytest.fixture(scope="module")
def real_medic():
    return load_medic(REAL_MEDIC)


@needs_shared
def test_real_medic_counts(real_medic):
    assert real_medic.n_concepts == 11_915  # the README's counts include the root line C||Diseases
    assert real_medic.n_names == 76_237
    assert not any("&apos;" in name or "&#" in name for name in real_medic.name_list)
    assert sum("'" in name for name in real_medic.name_list) >= 442


@needs_shared
def test_every_ncbi_disease_gold_id_resolves(real_medic):
    ids = set()
    for name in ("NCBItrainset_corpus.txt", "NCBIdevelopset_corpus.txt"):
        for row in (NCBI / name).read_text(encoding="utf-8").splitlines():
            fields = row.split("\t")
            if len(fields) == 6:
                ids.update(part.strip() for part in re.split(r"[|+]", fields[5]))
    assert len(ids) == 695
    assert any(i.startswith("OMIM:") for i in ids) and any(i.startswith("D") for i in ids)
    unresolved = sorted(i for i in ids if real_medic.resolve(i) is None)
    assert unresolved == []
