"""The study report as one self-contained HTML file (a pure function of the stored study).

Sections, each present when the study holds its data: the reference rows and the verdict,
the results table, the optimization history by optimizer phase, parallel coordinates,
hyperparameter importances (Optuna's fANOVA, or PED-ANOVA without scikit-learn), learning
curves (Optuna intermediate values), the Pareto front of ``llmhpo assess``, sample answers of
the base / default / best models, the human (and, apart, LLM-judge) ranking of ``llmhpo
compare`` next to the validation-loss ranking, and every other record stored with the study.
Figures are inline SVG (see :mod:`llmhpo.reporting.figures_svg`); the page has no script and
loads nothing from the network.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from pathlib import Path
from typing import Any

from llmhpo.evaluation.assess import ASSESSMENT_KEY, get_assessment
from llmhpo.evaluation.references import REFERENCES_KEY
from llmhpo.reporting.importance import param_importances
from llmhpo.reporting.metrics import format_metric
from llmhpo.reporting.table import results_table
from llmhpo.reporting.verdict import make_verdict
from llmhpo.study.trial import TrialState

__all__ = ["html_report", "write_html_report", "param_importances", "learning_curves"]

_CSS = """
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2330;
background:#f6f7f9}
main{max-width:1080px;margin:0 auto;padding:24px}
h1{font-size:1.6em;margin:0 0 4px}h2{font-size:1.2em;margin:0 0 10px}
section{background:#fff;border:1px solid #dde1e7;border-radius:8px;padding:16px 20px;
margin:16px 0}
.muted{color:#5b6475}.verdict{font-size:1.05em;border-left:4px solid #2f7d32;padding-left:12px}
.verdict.suspicious{border-color:#c62828}
table{border-collapse:collapse;font-size:13px;margin:6px 0;overflow-x:auto;display:block}
th,td{border-bottom:1px solid #e3e6eb;padding:4px 10px;text-align:left;white-space:nowrap}
th{background:#f0f2f5}tr.ref td{background:#fff8e1}
td.answer{white-space:pre-wrap;font-family:ui-monospace,Menlo,monospace;max-width:520px}
svg{max-width:100%;height:auto}
nav a{margin-right:12px}pre{background:#f0f2f5;padding:8px;overflow:auto;font-size:12px}
"""

_KNOWN_ATTRS = {REFERENCES_KEY, ASSESSMENT_KEY}


def _e(x: Any) -> str:
    return html.escape(str(x))


def _md_table_html(md: str, ref_rows: int = 0) -> str:
    """A markdown pipe table (as :func:`results_table` writes it) as an HTML table."""
    lines = [ln for ln in md.strip().splitlines() if ln.startswith("|")]
    if len(lines) < 2:
        return f"<pre>{_e(md)}</pre>"
    cells = [[c.strip() for c in ln.strip().strip("|").split("|")] for ln in lines]
    head, body = cells[0], cells[2:]
    out = ["<table><thead><tr>", *(f"<th>{_e(h)}</th>" for h in head), "</tr></thead><tbody>"]
    for i, row in enumerate(body):
        cls = ' class="ref"' if i < ref_rows else ""
        out.append(f"<tr{cls}>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _section(sid: str, title: str, body: str) -> str:
    return f'<section id="{sid}"><h2>{_e(title)}</h2>{body}</section>'


def _svg_or_note(make: Any, note: str) -> str:
    """The figure ``make()`` as inline SVG; ``note`` (escaped) when matplotlib is missing."""
    from llmhpo.exceptions import OptionalDependencyError

    try:
        from llmhpo.reporting.figures_svg import figure_svg

        return f'<div class="figure">{figure_svg(make())}</div>'
    except OptionalDependencyError as exc:
        return f'<p class="muted">{_e(note)} ({_e(exc)})</p>'


def learning_curves(study: Any) -> dict[int, dict[int, float]]:
    """``{trial number: {step: value}}`` of the trials that reported intermediate values."""
    out: dict[int, dict[int, float]] = {}
    for t in study.to_optuna().get_trials(deepcopy=False):
        if t.intermediate_values:
            out[t.number] = {int(s): float(v) for s, v in t.intermediate_values.items()}
    return out


def _references_html(study: Any) -> str:
    from llmhpo.evaluation.references import get_references

    refs = get_references(study)
    if not refs:
        return '<p class="muted">No reference rows are stored with this study.</p>'
    metrics: list[str] = []
    for r in refs.values():
        metrics += [m for m, v in (r.get("metrics") or {}).items()
                    if isinstance(v, (int, float)) and m not in metrics]
    objective = study.metric or "value"
    first = [m for m in (objective,) if m in metrics]
    shown = first + [m for m in metrics if m.startswith(("val_", "test_")) and m not in first]
    rows = []
    for name, r in refs.items():
        m = r.get("metrics") or {}
        rows.append(
            f"<tr class=\"ref\"><td>{_e(r.get('label') or name)}</td><td>{_e(r.get('state'))}</td>"
            + "".join(f"<td>{_e(format_metric(m.get(c)))}</td>" for c in shown)
            + f"<td>{_e(r.get('error') or '')}</td></tr>"
        )
    head = "".join(f"<th>{_e(h)}</th>" for h in ["reference", "state", *shown, "error"])
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _verdict_html(study: Any) -> str:
    v = make_verdict(study)
    cls = "verdict suspicious" if v.suspicious else "verdict"
    paras = "".join(f"<p>{_e(p)}</p>" for p in v.text.split("\n") if p.strip())
    warn = "".join(f"<li>{_e(w)}</li>" for w in v.warnings)
    return f'<div class="{cls}">{paras}</div>' + (f"<ul>{warn}</ul>" if warn else "")


def _importance_html(study: Any) -> str:
    try:
        res = param_importances(study)
    except Exception as exc:  # an evaluator failing on odd data must not lose the report
        return f'<p class="muted">Importances could not be computed: {_e(exc)}</p>'
    if res is None:
        return ('<p class="muted">Importances need at least 3 complete trials and 2 free '
                "hyperparameters.</p>")
    imp, name = res
    from llmhpo.reporting.figures_svg import importance_figure

    rows = "".join(f"<tr><td>{_e(k)}</td><td>{v:.3f}</td></tr>" for k, v in imp.items())
    return (
        f'<p class="muted">Optuna\'s {name} importance evaluator on the {study.metric or "value"}'
        " of the stored complete trials: the share of its variation each hyperparameter "
        "explains.</p>"
        + _svg_or_note(lambda: importance_figure(imp, name), "no figure")
        + f"<table><thead><tr><th>hyperparameter</th><th>importance</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


def _curves_html(study: Any) -> str:
    curves = learning_curves(study)
    if not curves:
        return ('<p class="muted">No trial reported intermediate values (learning curves '
                "appear here once the objective reports them with <code>ctx.report</code>)."
                "</p>")
    from llmhpo.reporting.figures_svg import learning_curves_figure

    values = {t.number: t.value for t in study.trials}
    return (
        f'<p class="muted">{len(curves)} trials reported intermediate values.</p>'
        + _svg_or_note(lambda: learning_curves_figure(
            curves, values, minimize=study.direction == "minimize"), "no figure")
    )


def _pareto_html(study: Any) -> str:
    a = get_assessment(study)
    if a is None:
        from llmhpo.reporting.report import pareto_section

        return (f"<p>{_e(pareto_section(study))}</p><p class=\"muted\">Run <code>llmhpo assess"
                "</code> to re-evaluate the best trials on more metrics.</p>")
    body = _md_table_html(a.table(), 0) + f"<p>{_e(a.summary())}</p>"
    ms = list(a.metrics)
    if len(ms) >= 2:
        x_m, y_m = ms[0], ms[1]
        pts = []
        for r in a.rows:
            x = r.value if x_m == a.objective_metric else r.metrics.get(x_m)
            y = r.value if y_m == a.objective_metric else r.metrics.get(y_m)
            if isinstance(x, (int, float)) and isinstance(y, (int, float)):
                label = f"trial {r.trial}" if r.trial is not None else r.name
                pts.append((label, float(x), float(y), r.pareto))
        if pts:
            from llmhpo.reporting.figures_svg import pareto_figure

            body += _svg_or_note(lambda: pareto_figure(pts, x_m, y_m), "no figure")
    return body


def _answers_html(study: Any) -> str | None:
    from llmhpo.compare.store import get_answers

    ans = get_answers(study)
    if not ans:
        return None
    cands = ans["candidates"]
    parts = []
    for i, p in enumerate(ans["prompts"]):
        rows = "".join(
            f"<tr><td>{_e(c.get('label', key))}</td>"
            f"<td class=\"answer\">{_e(c['answers'][i] if i < len(c['answers']) else '')}</td>"
            "</tr>"
            for key, c in cands.items()
        )
        parts.append(
            f'<div class="prompt"><p><b>Prompt {i + 1}.</b> {_e(p["prompt"])}</p>'
            + (f'<p class="muted">expected: {_e(p["expected"])}</p>' if p.get("expected") else "")
            + f"<table><thead><tr><th>model</th><th>answer</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></div>"
        )
    return "".join(parts)


def _judgements_html(study: Any) -> str | None:
    from llmhpo.compare.ranking import ranking_table
    from llmhpo.compare.store import get_answers, get_votes

    ans = get_answers(study)
    human, llm = get_votes(study, "human"), get_votes(study, "llm")
    if not ans or not (human or llm):
        return None
    out = []
    for judge, votes in (("human", human), ("LLM judge", llm)):
        if not votes:
            continue
        tab = ranking_table(study, votes)
        out.append(f"<h3>{_e(judge)} judgements ({len(votes)} votes)</h3>" + tab)
    return "".join(out)


def _other_records_html(study: Any) -> str | None:
    from llmhpo.compare.store import STORE_KEYS

    extra = {k: v for k, v in study.user_attrs.items()
             if k not in _KNOWN_ATTRS and k not in STORE_KEYS}
    if not extra:
        return None
    return "".join(
        f"<details><summary>{_e(k)}</summary><pre>{_e(json.dumps(v, indent=2, default=str))}"
        "</pre></details>"
        for k, v in sorted(extra.items())
    )


def _untitled(fig: Any) -> Any:
    for ax in fig.axes:
        ax.set_title("")
    return fig


def html_report(study: Any, *, top_k: int = 10) -> str:
    """The whole report of ``study`` as an HTML document (a string)."""
    from llmhpo.evaluation.references import get_references
    from llmhpo.reporting.figures_svg import history_by_phase_figure
    from llmhpo.reporting.plots import parallel_coordinates_figure

    trials = study.trials
    n_done = sum(t.state is TrialState.COMPLETE and not t.warm_start for t in trials)
    n_bad = sum(t.state not in (TrialState.COMPLETE, TrialState.RUNNING) for t in trials)
    opt = (study._records.get_attr("optimizer") or {}).get("name", "?")
    metric = study.metric or "value"
    sections = [
        _section("references", "Reference rows", _references_html(study)),
        _section("verdict", "Verdict", _verdict_html(study)),
        _section("results", "Results", _md_table_html(
            results_table(study, top_k=top_k), len(get_references(study)))),
        _section("history", "Optimization history by optimizer phase", _svg_or_note(
            lambda: history_by_phase_figure(study), "no figure")),
        _section("parallel", "Parallel coordinates (darker = better)", _svg_or_note(
            lambda: _untitled(parallel_coordinates_figure(study)), "no figure")),
        _section("importance", "Hyperparameter importances", _importance_html(study)),
        _section("curves", "Learning curves", _curves_html(study)),
        _section("pareto", "Pareto front", _pareto_html(study)),
    ]
    for sid, title, body in (
        ("answers", "Sample answers", _answers_html(study)),
        ("judgements", "Human judgements (llmhpo compare)", _judgements_html(study)),
        ("records", "Other records stored with the study", _other_records_html(study)),
    ):
        if body:
            sections.append(_section(sid, title, body))
    nav = "".join(f'<a href="#{s.split(chr(34))[1]}">{s.split("<h2>")[1].split("</h2>")[0]}</a>'
                  for s in sections)
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>llmhpo report: {_e(study.study_name)}</title>"
        "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
        f"<style>{_CSS}</style></head><body><main>"
        f"<header id=\"summary\"><h1>Study {_e(study.study_name)}</h1>"
        f"<p class=\"muted\">objective {_e(metric)} ({_e(study.direction)}), optimizer "
        f"{_e(opt)}, {n_done} complete trials, {n_bad} failed / infeasible / timed out / "
        f"interrupted; written {now} by llmhpo.</p><nav>{nav}</nav></header>"
        + "".join(sections)
        + "</main></body></html>\n"
    )


def write_html_report(study: Any, path: str | Path, *, top_k: int = 10) -> Path:
    """Write :func:`html_report` to ``path`` (parents created); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html_report(study, top_k=top_k), encoding="utf-8")
    return path
