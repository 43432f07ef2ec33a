"""Input and output files of ``xenc link``.

Input (``--input-format auto`` picks by extension, then content):

* text: one mention per line (blank lines skipped);
* TSV: ``mention[<TAB>context[<TAB>types]]`` — context a sentence containing the mention,
  types comma-separated TUIs or semantic groups; an optional header line starting ``mention``;
* JSONL: ``{"mention": ..., "context": ... | "left_context"/"right_context": ..., "types": [...], "id": ...}``.

Output: JSONL (one object per mention: input id, mention, concept_id, name, probability,
margin, tier, types, alternatives) or TSV (``id, mention, concept_id, name, probability, margin, tier``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputFormatError, SkipReport
from ..utils.io import atomic_write_text
from ..utils.lines import check_file, iter_lines


@dataclass
class LinkInput:
    id: str
    mention: str
    context: Any = None  # sentence string or (left, right)
    types: tuple[str, ...] | None = None


def _detect(path: Path, fmt: str) -> str:
    if fmt != "auto":
        return fmt
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json"):
        return "jsonl"
    if suffix in (".tsv", ".tab"):
        return "tsv"
    with open(path, encoding="utf-8-sig", errors="replace") as handle:
        first = next((line for line in handle if line.strip()), "")
    if first.lstrip().startswith("{"):
        return "jsonl"
    return "tsv" if "\t" in first else "text"


def _types(value: str) -> tuple[str, ...] | None:
    parts = tuple(t.strip() for t in value.split(",") if t.strip())
    return parts or None


_TSV_EXPECTED = "mention[<TAB>context[<TAB>types]] with a non-empty mention"


def read_link_input(path: str | Path, fmt: str = "auto", report: SkipReport | None = None) -> list[LinkInput]:
    """The mentions of an ``xenc link`` input file (see the module docs); an empty file gives none.

    Raises:
        MissingInputError: the file does not exist.
        InputFormatError: a line is not UTF-8 or not in the format (file, line, what was expected);
            with a lenient ``report`` such lines are counted and skipped instead.
    """
    path = check_file(path, "input file")
    report = report if report is not None else SkipReport()
    fmt = _detect(path, fmt)
    records: list[LinkInput] = []
    for item in iter_lines(path, report, what="input file", reason="link input: not valid UTF-8"):
        number, line = item.number, item.text
        if not line.strip():
            continue
        if fmt == "text":
            records.append(LinkInput(str(number), line.strip()))
        elif fmt == "tsv":
            fields = line.split("\t")
            if number == 1 and fields[0].strip().lower() == "mention":
                continue
            if len(fields) > 3 or not fields[0].strip():
                error = InputFormatError(path, number, f"{len(fields)} column(s), first {fields[0]!r}", _TSV_EXPECTED)
                report.handle(error, "link input: bad TSV line")
                continue
            context = fields[1] if len(fields) > 1 and fields[1] else None
            types = _types(fields[2]) if len(fields) > 2 else None
            records.append(LinkInput(str(number), fields[0].strip(), context, types))
        else:
            try:
                records.append(_json_record(path, number, line))
            except InputFormatError as error:
                report.handle(error, "link input: bad JSON line")
    return records


_JSON_EXPECTED = '{"mention": "...", "context": "..." | "left_context"/"right_context": "...", "types": [...]}'


def _json_record(path: Path, number: int, line: str) -> LinkInput:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputFormatError(path, number, f"invalid JSON ({exc.msg})", "one JSON object per line") from None
    except RecursionError:
        raise InputFormatError(path, number, "JSON nested too deeply", "one JSON object per line") from None
    if not isinstance(data, dict) or not isinstance(data.get("mention"), str) or not data["mention"].strip():
        raise InputFormatError(path, number, "no non-empty 'mention' string", _JSON_EXPECTED)
    for key in ("context", "left_context", "right_context"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise InputFormatError(path, number, f"'{key}' is a JSON {type(data[key]).__name__}", _JSON_EXPECTED)
    if "left_context" in data or "right_context" in data:
        context = (str(data.get("left_context") or ""), str(data.get("right_context") or ""))
    else:
        context = data.get("context")
    types = data.get("types")
    if isinstance(types, str):
        types = _types(types)
    elif isinstance(types, list) and all(isinstance(t, str) for t in types):
        types = tuple(t for t in types if t.strip()) or None
    elif types is not None:
        raise InputFormatError(path, number, f"'types' is {json.dumps(types)[:40]}", "a list of type strings")
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise InputFormatError(path, number, "a \\u escape of a lone surrogate", "valid Unicode text") from None
    return LinkInput(str(data.get("id", number)), data["mention"].strip(), context, types)


def result_rows(records: Sequence[LinkInput], results: Sequence) -> list[dict[str, Any]]:
    return [{"id": r.id, **res.to_dict()} for r, res in zip(records, results, strict=True)]


def format_jsonl(records, results) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in result_rows(records, results))


OUTPUT_FORMATS = {
    ".jsonl": "jsonl",
    ".json": "jsonl",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".csv": "csv",
    ".parquet": "parquet",
}
TABLE_COLUMNS = ("id", "mention", "concept_id", "name", "probability", "margin", "tier", "nil_reason")


def output_format(path: str | Path, fmt: str = "auto") -> str:
    """The format to write: ``fmt``, or (``auto``) the one the file extension names (JSONL otherwise)."""
    return OUTPUT_FORMATS.get(Path(path).suffix.lower(), "jsonl") if fmt == "auto" else fmt


def table_rows(records, results) -> list[dict[str, Any]]:
    """One flat row per linked mention (the columns of :data:`TABLE_COLUMNS`); alternatives are in JSONL only."""
    return [
        {
            "id": r.id,
            "mention": res.mention,
            "concept_id": res.concept_id or "",
            "name": res.name or "",
            "probability": round(float(res.probability), 4),
            "margin": round(float(res.margin), 4),
            "tier": res.tier,
            "nil_reason": res.nil_reason or "",
        }
        for r, res in zip(records, results, strict=True)
    ]


def write_link_output(records, results, path: str | Path, fmt: str = "auto") -> Path:
    """Write linked mentions as JSONL (every field, alternatives included), TSV, CSV or Parquet (flat rows)."""
    import csv
    import io

    path = Path(path)
    fmt = output_format(path, fmt)
    if fmt == "jsonl":
        return atomic_write_text(path, format_jsonl(records, results))
    rows = table_rows(records, results)
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        from ..utils.io import atomic_write_bytes

        table = pa.Table.from_pylist(rows) if rows else pa.table({c: pa.array([], pa.string()) for c in TABLE_COLUMNS})
        buffer = io.BytesIO()
        pq.write_table(table, buffer)
        return atomic_write_bytes(path, buffer.getvalue())
    text = io.StringIO()
    writer = csv.DictWriter(
        text, fieldnames=TABLE_COLUMNS, delimiter="\t" if fmt == "tsv" else ",", lineterminator="\n"
    )
    writer.writeheader()
    writer.writerows(rows)
    return atomic_write_text(path, text.getvalue())
