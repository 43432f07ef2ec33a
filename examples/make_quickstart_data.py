"""Rebuild the MedMentions slice bundled for `xenc quickstart` (xenc_toolkit/data/quickstart/).

    python examples/make_quickstart_data.py --shared ../shared/data --sentences 1500

Takes the first N sentences of the official MedMentions (full) dev split in token-BIO
form, byte for byte (CRLF line ends kept), gzipped, and the CUI -> TUI entries of the
CUIs they mention. MedMentions is CC0; the BIO conversion comes from
github.com/javiagu13/MedicalNER and the CUI -> TUI map from github.com/mnishant2/MedPath (MIT).
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "xenc_toolkit" / "data" / "quickstart"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path("../shared/data"))
    parser.add_argument("--sentences", type=int, default=1500)
    args = parser.parse_args()
    source = args.shared / "medmentions" / "full_dev_bio_cui.tsv"
    kept: list[bytes] = []
    sentences = 0
    cuis: set[str] = set()
    with open(source, "rb") as handle:
        for raw in handle:
            if raw.strip(b"\r\n") in (b"\t", b""):
                sentences += 1
                kept.append(raw)
                if sentences >= args.sentences:
                    break
                continue
            kept.append(raw)
            tag = raw.rstrip(b"\r\n").split(b"\t")[-1].decode()
            if tag[:2] in ("B-", "I-"):
                cuis.add(tag[2:])
    OUT.mkdir(parents=True, exist_ok=True)
    with gzip.GzipFile(OUT / "medmentions_dev_head.bio.gz", "wb", mtime=0) as handle:
        handle.write(b"".join(kept))
    types = json.loads((args.shared / "cui-semantic-types" / "cui_to_tuis.json").read_text())
    subset = {cui: types[cui] for cui in sorted(cuis) if cui in types}
    (OUT / "cui_to_tuis.json").write_text(json.dumps(subset, indent=0, sort_keys=True) + "\n")
    print(f"{sentences} sentences, {len(cuis)} CUIs ({len(subset)} with types) -> {OUT}")


if __name__ == "__main__":
    main()
