"""The evaluation report: ``report.md`` (plots linked by relative path) and a self-contained
``report.html`` (plots embedded as base64), rendered from the same content.

The report is built as a list of blocks (headings, paragraphs, lists, tables, images,
code) and each block is rendered once as Markdown and once as HTML, so both files
always say the same thing.
"""

from __future__ import annotations

import base64
import html as html_lib
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..kb.semantic_types import load_semantic_network
from ..utils.io import atomic_write_text, to_json
from .error_causes import cause_table

__all__ = ["write_report", "STAGE3_DEFINITIONS"]

STAGE3_DEFINITIONS = {
    "high_confidence_pct": "share (%) of mentions whose top candidate's calibrated probability is >= the high-confidence threshold",
    "mean_top_score": "mean calibrated probability of each mention's top-ranked candidate",
    "mean_margin": "mean difference between the top and the second candidate's probabilities (0 for the second when a mention has one candidate)",
    "threshold": "the high-confidence probability threshold",
}

PAIR_ROWS = [
    ("accuracy", "accuracy"),
    ("precision", "precision"),
    ("recall", "recall"),
    ("f1", "F1"),
    ("specificity", "specificity"),
    ("roc_auc", "ROC AUC"),
    ("pr_auc", "PR AUC (average precision)"),
    ("ece", "ECE (expected calibration error)"),
    ("mce", "MCE (maximum calibration error)"),
    ("brier_score", "Brier score"),
    ("threshold", "decision threshold"),
    ("n_pairs", "pairs"),
    ("n_positive", "positive pairs"),
]


# --------------------------------------------------------------------------- blocks
@dataclass
class _Block:
    kind: str  # h1 h2 h3 p strong list table img code
    text: str = ""
    items: list = field(default_factory=list)
    headers: list = field(default_factory=list)
    path: Path | None = None


def _fmt(value, digits: int = 4) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value:  # nan
            return "n/a"
        if value.is_integer() and abs(value) >= 1000:
            return f"{int(value):,}"
        return f"{value:.{digits}f}"
    if isinstance(value, list | tuple):
        return ", ".join(_fmt(v, digits) for v in value)
    return str(value)


def _gain(new, old) -> str:
    if new is None or old is None:
        return "n/a"
    return f"{new - old:+.4f}"


def _is_scalar(value) -> bool:
    return value is None or isinstance(value, bool | int | float | str)


def _label(key: str) -> str:
    return "MRR" if key == "mrr" else key


def _metric_order(metrics: dict) -> list[str]:
    """acc@1, recall@k by k, mrr: the rate keys of a linking-metrics dict, in reading order."""
    recall = sorted((k for k in metrics if k.startswith("recall@")), key=lambda k: int(k.split("@")[1]))
    if "acc@1" in metrics:
        recall = [k for k in recall if k != "recall@1"]  # the same number as acc@1
    keys = [k for k in ("acc@1",) if k in metrics] + recall
    return keys + (["mrr"] if "mrr" in metrics else [])


# --------------------------------------------------------------------------- sections
def _headline(blocks: list[_Block], linking: dict, retrieval: dict | None) -> None:
    blocks.append(_Block("h2", "Headline: retrieval vs reranked"))
    keys = _metric_order(linking)
    if retrieval:
        rows = [
            [_label(k), _fmt(retrieval.get(k)), _fmt(linking.get(k)), _gain(linking.get(k), retrieval.get(k))]
            for k in keys
        ]
        blocks.append(_Block("table", headers=["metric", "retrieval", "reranked", "gain"], items=rows))
    else:
        blocks.append(
            _Block("table", headers=["metric", "reranked"], items=[[_label(k), _fmt(linking.get(k))] for k in keys])
        )
    items = [f"mentions: {_fmt(linking.get('n_mentions'))}"]
    if linking.get("reranker_only_acc@1") is not None:
        items.append(f"reranker alone (no retrieval score): acc@1 {_fmt(linking['reranker_only_acc@1'])}")
    if "fusion_weight" in linking:
        weight = linking["fusion_weight"]
        items.append(
            "ranking: reranker logit alone (no fusion fitted)"
            if weight is None
            else f"ranking: reranker logit + {_fmt(weight)} x retrieval score (weight fitted on held-out lists)"
        )
    if "n_gold_in_candidates" in linking:
        items.append(f"gold concept among the candidates: {_fmt(linking['n_gold_in_candidates'])}")
    if "n_gold_not_in_kb" in linking:
        items.append(f"gold concept not in the KB (counted as misses): {_fmt(linking['n_gold_not_in_kb'])}")
    if "n_gold_in_kb_not_in_candidates" in linking:
        items.append(
            f"gold concept in the KB but not retrieved (counted as misses): {_fmt(linking['n_gold_in_kb_not_in_candidates'])}"
        )
    blocks.append(_Block("list", items=items))
    blocks.append(
        _Block(
            "p",
            "acc@1 = share of mentions whose top candidate is the gold concept; recall@k = share with the gold in "
            "the top k; MRR = mean reciprocal rank of the gold (0 when absent). Every mention is in the "
            "denominator, including those whose gold concept was not retrieved or is not in the KB.",
        )
    )


def _pairs(blocks: list[_Block], metrics: dict) -> None:
    blocks.append(_Block("h2", "Pair classification"))
    rows = [[label, _fmt(metrics.get(key))] for key, label in PAIR_ROWS if key in metrics]
    blocks.append(_Block("table", headers=["metric", "value"], items=rows))
    cm = metrics.get("confusion_matrix")
    if cm:
        blocks.append(_Block("h3", "Confusion matrix"))
        blocks.append(
            _Block(
                "table",
                headers=["", "predicted positive", "predicted negative"],
                items=[
                    ["actual positive", _fmt(cm.get("tp")), _fmt(cm.get("fn"))],
                    ["actual negative", _fmt(cm.get("fp")), _fmt(cm.get("tn"))],
                ],
            )
        )
    if metrics.get("notes"):
        blocks.append(_Block("list", items=[f"note: {n}" for n in metrics["notes"]]))


def _negative_kinds(blocks: list[_Block], per_kind: dict) -> None:
    blocks.append(_Block("h3", "Pairs by kind"))
    rows = [
        [kind, _fmt(v.get("n_pairs")), _fmt(v.get("mean_probability")), _fmt(v.get("accuracy"))]
        for kind, v in per_kind.items()
    ]
    blocks.append(_Block("table", headers=["kind", "pairs", "mean probability", "accuracy"], items=rows))


def _calibration(blocks: list[_Block], calibration: dict) -> None:
    blocks.append(_Block("h2", "Calibration"))
    scalars = [[k, _fmt(v)] for k, v in calibration.items() if _is_scalar(v)]
    if scalars:
        blocks.append(_Block("table", headers=["field", "value"], items=scalars))
    selected = calibration.get("method")
    for key, value in calibration.items():
        if not isinstance(value, dict) or not value:
            continue
        if all(isinstance(v, dict) for v in value.values()):
            columns: list[str] = []
            for row in value.values():
                columns += [c for c, v in row.items() if _is_scalar(v) and c not in columns]
            rows = []
            for name, row in value.items():
                label = f"{name} (selected)" if name == selected else name
                rows.append([label] + [_fmt(row.get(c)) for c in columns])
            blocks.append(_Block("h3", key.replace("_", " ")))
            first = "method" if "cv" in key or "method" in key else "name"
            blocks.append(_Block("table", headers=[first] + columns, items=rows))
        elif all(_is_scalar(v) for v in value.values()):
            blocks.append(_Block("h3", key.replace("_", " ")))
            blocks.append(_Block("table", headers=["field", "value"], items=[[k, _fmt(v)] for k, v in value.items()]))
    blocks.append(
        _Block(
            "p",
            "ECE = sum over equal-width probability bins of (pairs in bin / all pairs) x |mean predicted probability - "
            "fraction of positives|; MCE = the largest such gap over non-empty bins. Lower is better; 0 is perfect.",
        )
    )


def _stage3(blocks: list[_Block], stage3: dict) -> None:
    blocks.append(_Block("h2", "Stage 3: linking decisions"))
    rows = []
    for key in ("high_confidence_pct", "mean_top_score", "mean_margin", "threshold", "n_mentions"):
        if key in stage3:
            value = stage3[key]
            text = f"{value:.2f}%" if key == "high_confidence_pct" and value is not None else _fmt(value)
            rows.append([key, text, STAGE3_DEFINITIONS.get(key, "mentions evaluated")])
    blocks.append(_Block("table", headers=["figure", "value", "definition"], items=rows))


SELECTIVE_ROWS = [
    ("aurc", "AURC: mean risk over all coverages (lower is better)"),
    ("coverage_at_precision_095", "share of mentions linked at precision >= 0.95"),
    ("coverage_at_precision_099", "share of mentions linked at precision >= 0.99"),
    ("precision_at_coverage_080", "precision of the 80% most confident links"),
    ("precision_at_coverage_060", "precision of the 60% most confident links"),
]


def _selective(blocks: list[_Block], selective: dict) -> None:
    blocks.append(_Block("h2", "Selective linking: P(top-1 correct), tiers and NIL"))
    if selective.get("in_sample"):
        blocks.append(
            _Block(
                "strong",
                f"In-sample: the confidence and calibration were fitted on this split "
                f"({selective.get('fit_on_split')}); these figures overstate them. Evaluate on a held-out split.",
            )
        )
    blocks.append(
        _Block(
            "p",
            f"Each linked mention gets P(the linked concept is correct) ({selective.get('confidence')}). "
            f"ECE of that probability: {_fmt(selective.get('ece_top1'))} (MCE {_fmt(selective.get('mce_top1'))}). "
            "Beside it, the confidences a user has without the reranker: retrieval's top score and top-1 margin "
            "(ranking retrieval's own top candidate).",
        )
    )
    retrieval = selective.get("retrieval") or {}
    xenc = {"aurc": selective.get("aurc_xenc"), **{k: selective.get(k) for k, _ in SELECTIVE_ROWS[1:]}}
    rows = [
        [
            label,
            _fmt(xenc.get(key)),
            _fmt((retrieval.get("score") or {}).get(key)),
            _fmt((retrieval.get("margin") or {}).get(key)),
        ]
        for key, label in SELECTIVE_ROWS
    ]
    blocks.append(
        _Block("table", headers=["figure", "xenc P(correct)", "retrieval score", "retrieval margin"], items=rows)
    )
    tiers = selective.get("tiers") or {}
    if tiers:
        high = selective.get("high_threshold")
        blocks.append(
            _Block(
                "p",
                f"Tiers: high = P >= {_fmt(high)} (the level that was 95% precise out of sample, per semantic "
                f"group where there was data), low = below the NIL threshold (no concept is returned), review = "
                "in between.",
            )
        )
        blocks.append(
            _Block(
                "table",
                headers=["tier", "mentions", "share", "precision"],
                items=[
                    [tier, _fmt(v["mentions"]), _fmt(v["share"]), _fmt(v["precision"])]
                    for tier, v in sorted(tiers.items(), key=lambda kv: ("high", "review", "low").index(kv[0]))
                ],
            )
        )
    nil = selective.get("nil") or {}
    blocks.append(
        _Block(
            "p",
            f"NIL (concept not in the KB): {_fmt(nil.get('nil_mentions'))} mentions; AUROC of 1 - P(correct) "
            f"{_fmt(selective.get('nil_auroc'))}, F1 at the NIL threshold {_fmt(nil.get('nil_threshold'))}: "
            f"{_fmt(selective.get('nil_f1'))}.",
        )
    )


def _groups(blocks: list[_Block], title: str, per_group: dict, names: dict[str, str], limit: int | None) -> None:
    items = sorted(per_group.items(), key=lambda kv: (-int(kv[1].get("n_mentions", 0)), kv[0]))
    total = len(items)
    if limit is not None:
        items = items[:limit]
    blocks.append(_Block("h2", title))
    if limit is not None and total > limit:
        blocks.append(_Block("p", f"The {limit} largest of {total} by mentions (all are in the JSON results)."))
    if not items:
        blocks.append(_Block("p", "No groups."))
        return
    has_base = any("retrieval_acc@1" in v for _, v in items)
    recall_keys = [k for k in _metric_order(items[0][1]) if k.startswith("recall@")][:2]
    headers = ["key", "name", "mentions", "acc@1"]
    if has_base:
        headers += ["retrieval acc@1", "gain"]
    headers += recall_keys + ["MRR"]
    rows = []
    for key, v in items:
        row = [key, names.get(key, ""), _fmt(v.get("n_mentions")), _fmt(v.get("acc@1"))]
        if has_base:
            row += [_fmt(v.get("retrieval_acc@1")), _gain(v.get("acc@1"), v.get("retrieval_acc@1"))]
        row += [_fmt(v.get(k)) for k in recall_keys] + [_fmt(v.get("mrr"))]
        rows.append(row)
    blocks.append(_Block("table", headers=headers, items=rows))


def _build(results: dict, plots: dict[str, Path], top_types: int) -> list[_Block]:
    network = load_semantic_network()
    blocks = [_Block("h1", "xenc evaluation report")]
    config = results.get("config") or {}
    facts = [f"generated {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}"]
    for key in ("model_dir", "split", "pairs_dir", "calibration_file"):
        if config.get(key) is not None:
            facts.append(f"{key}: {config[key]}")
    blocks.append(_Block("p", "; ".join(facts)))

    linking = results.get("linking_metrics") or {}
    if linking:
        _headline(blocks, linking, results.get("retrieval_metrics"))
    if results.get("selective"):
        _selective(blocks, results["selective"])
    if results.get("error_causes"):
        sentence, headers, rows = cause_table(results["error_causes"])
        blocks += [_Block("h2", "Errors by cause"), _Block("p", sentence), _Block("table", headers=headers, items=rows)]
    if results.get("overall_metrics"):
        _pairs(blocks, results["overall_metrics"])
        if results.get("per_negative_kind"):
            _negative_kinds(blocks, results["per_negative_kind"])
    if results.get("calibration"):
        _calibration(blocks, results["calibration"])
    if results.get("stage3_metrics"):
        _stage3(blocks, results["stage3_metrics"])
    if results.get("per_group"):
        _groups(blocks, "Per semantic group", results["per_group"], network.group_names, None)
    if results.get("per_type"):
        _groups(
            blocks,
            "Per semantic type",
            results["per_type"],
            {k: network.type_name(k) for k in results["per_type"]},
            top_types,
        )
    if results.get("counts"):
        blocks.append(_Block("h2", "Counts"))
        rows = [[k, _fmt(v) if _is_scalar(v) else to_json(v, indent=None)] for k, v in results["counts"].items()]
        blocks.append(_Block("table", headers=["count", "value"], items=rows))
    if plots:
        blocks.append(_Block("h2", "Plots"))
        for name, path in plots.items():
            blocks.append(_Block("h3", name.replace("_", " ")))
            blocks.append(_Block("img", text=name.replace("_", " "), path=Path(path)))
    if config:
        blocks.append(_Block("h2", "Configuration"))
        blocks.append(_Block("code", to_json(config)))
    return blocks


# --------------------------------------------------------------------------- rendering
def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _render_markdown(blocks: list[_Block], output_dir: Path) -> str:
    out: list[str] = []
    for b in blocks:
        if b.kind in ("h1", "h2", "h3"):
            out.append("#" * int(b.kind[1]) + " " + b.text)
        elif b.kind == "p":
            out.append(b.text)
        elif b.kind == "strong":
            out.append(f"**{b.text}**")
        elif b.kind == "list":
            out.append("\n".join(f"- {item}" for item in b.items))
        elif b.kind == "table":
            lines = ["| " + " | ".join(_md_cell(h) for h in b.headers) + " |"]
            numeric = _numeric_columns(b)
            lines.append("|" + "|".join("--:" if num else "---" for num in numeric) + "|")
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in b.items]
            out.append("\n".join(lines))
        elif b.kind == "img":
            if b.path is not None and b.path.exists():
                rel = Path(os.path.relpath(b.path.resolve(), output_dir.resolve())).as_posix()
                out.append(f"![{b.text}](<{rel}>)")
            else:
                out.append(f"*(plot missing: {b.path})*")
        elif b.kind == "code":
            out.append("```json\n" + b.text + "\n```")
    return "\n\n".join(out) + "\n"


_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{border-bottom:2px solid #2166ac;padding-bottom:.2em}h2{margin-top:1.8em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.8em 0}th,td{border:1px solid #ccc;padding:.3em .7em}
th{background:#f0f4f8;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
img{max-width:100%;border:1px solid #eee}pre{background:#f6f8fa;padding:1em;overflow:auto;font-size:.85em}
""".strip()


def _looks_numeric(text: str) -> bool:
    return (
        text == "n/a"
        or text.replace(",", "").replace("+", "").replace("-", "").replace(".", "").replace("%", "").isdigit()
    )


def _numeric_columns(block: _Block) -> list[bool]:
    """A column is right-aligned when every cell in it is a number (or n/a), the first never."""
    out = []
    for i in range(len(block.headers)):
        cells = [str(row[i]) for row in block.items if i < len(row)]
        out.append(i > 0 and bool(cells) and all(_looks_numeric(c) for c in cells))
    return out


def _render_html(blocks: list[_Block]) -> str:
    esc = html_lib.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>xenc evaluation report</title>",
        f"<style>{_CSS}</style></head><body>",
    ]
    for b in blocks:
        if b.kind in ("h1", "h2", "h3"):
            out.append(f"<{b.kind}>{esc(b.text)}</{b.kind}>")
        elif b.kind == "p":
            out.append(f"<p>{esc(b.text)}</p>")
        elif b.kind == "strong":
            out.append(f"<p><strong>{esc(b.text)}</strong></p>")
        elif b.kind == "list":
            out.append("<ul>" + "".join(f"<li>{esc(str(i))}</li>" for i in b.items) + "</ul>")
        elif b.kind == "table":
            head = "".join(f"<th>{esc(str(h))}</th>" for h in b.headers)
            numeric = _numeric_columns(b)
            rows = []
            for row in b.items:
                cells = "".join(
                    f'<td class="n">{esc(str(c))}</td>' if numeric[i] else f"<td>{esc(str(c))}</td>"
                    for i, c in enumerate(row)
                )
                rows.append(f"<tr>{cells}</tr>")
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")
        elif b.kind == "img":
            if b.path is not None and b.path.exists():
                data = base64.b64encode(b.path.read_bytes()).decode("ascii")
                out.append(f'<p><img alt="{esc(b.text)}" src="data:image/png;base64,{data}"></p>')
            else:
                out.append(f"<p><em>(plot missing: {esc(str(b.path))})</em></p>")
        elif b.kind == "code":
            out.append(f"<pre>{esc(b.text)}</pre>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def write_report(
    results: dict,
    output_dir,
    plots: dict[str, Path],
    html: bool = True,
    *,
    top_types: int = 20,
) -> dict[str, Path]:
    """Write ``report.md`` (and ``report.html`` unless ``html=False``) into ``output_dir``.

    ``results`` holds ``linking_metrics`` (reranked), ``overall_metrics`` (pair metrics),
    ``stage3_metrics``, ``per_type`` and optionally ``retrieval_metrics``, ``per_group``,
    ``calibration`` (any dict: its scalar fields are tabulated, a dict of dicts such as a
    ``cv_report`` becomes a table with the ``method`` marked as selected), ``counts`` and
    ``config``; missing sections are left out. ``plots`` maps a caption key to a PNG path:
    report.md links it by its path relative to ``output_dir``, report.html embeds it as
    base64. The per-type table shows the ``top_types`` types with most mentions.

    Returns ``{"markdown": path, "html": path}`` (``"html"`` only when written).
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    blocks = _build(results, plots or {}, top_types)
    written = {"markdown": atomic_write_text(output_dir / "report.md", _render_markdown(blocks, output_dir))}
    if html:
        written["html"] = atomic_write_text(output_dir / "report.html", _render_html(blocks))
    return written
