"""Warm start and export: importing evaluated points into a study, and writing its trials as
rows or CSV (the format the import reads back; Tribes et al. 2023 keep such a cache file)."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmhpo.exceptions import InvalidConfigError, InvalidSearchSpaceError
from llmhpo.space import SearchSpace
from llmhpo.study.trial import TrialState

if TYPE_CHECKING:
    from llmhpo.study.study import Study

__all__ = ["import_points", "read_warm_start_csv", "trial_rows", "write_csv"]

Row = tuple[dict[str, Any], "float | None", dict[str, Any]]


def import_points(study: Study, source: Study | str | Path | Iterable[Row]) -> int:
    """Import evaluated points from another study, a CSV file or rows read beforehand by
    :func:`read_warm_start_csv`; see :meth:`Study.warm_start <llmhpo.study.Study.warm_start>`."""
    from llmhpo.study.study import Study

    # Read (and validate) every row before importing any, so a bad file imports nothing.
    if isinstance(source, Study):
        rows = list(_rows_from_study(source))
    elif isinstance(source, (str, Path)):
        rows = read_warm_start_csv(Path(source), study.space)
    else:
        rows = list(source)
    known = {study.space.key(t.params) for t in study.trials}
    n = 0
    for params, value, metrics in rows:
        params = study.space.validate(params)
        if study.space.key(params) in known:
            continue
        known.add(study.space.key(params))
        study._record_warm_start(params, value, metrics)
        n += 1
    return n


def trial_rows(study: Study) -> list[dict[str, Any]]:
    """One flat dict per trial: number, state, value, params, metrics, attrs."""
    rows = []
    for t in study.trials:
        row: dict[str, Any] = {
            "number": t.number,
            "state": t.state.value,
            "value": t.value,
            "warm_start": t.warm_start,
            "duration_s": None if t.duration is None else round(t.duration, 3),
        }
        row.update(t.params)
        row.update({k: v for k, v in t.metrics.items()  # per-example lists: not a cell
                    if k not in row and k != "per_example"})
        # llm_log (the LLM optimizer's prompts and answers) is exported on its own
        # (`llmhpo export --conversation`), not as a CSV cell.
        row.update({f"attr:{k}": v for k, v in t.attrs.items() if k != "llm_log"})
        if t.error:
            row["error"] = t.error.strip().splitlines()[-1]
        rows.append(row)
    return rows


def write_csv(study: Study, path: str | Path) -> Path:
    """Write every trial to a CSV file (the format :func:`import_points` reads back)."""
    rows = trial_rows(study)
    cols: list[str] = []
    for r in rows:
        cols += [c for c in r if c not in cols]
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if v is None else v) for k, v in r.items()})
    return path


def _rows_from_study(study: Study) -> Iterable[Row]:
    for t in study.trials:
        # a PRUNED trial's value is a low-fidelity one: imported as complete it could become
        # the best trial of the importing study, so it is left out
        if t.state in (TrialState.RUNNING, TrialState.INTERRUPTED, TrialState.PRUNED):
            continue
        yield t.params, t.value, dict(t.metrics)


def read_warm_start_csv(path: str | Path, space: SearchSpace) -> list[Row]:
    """Read and check every row of a warm-start CSV (see :meth:`Study.warm_start`).

    Any problem (missing file, a directory, binary or non-UTF-8 content, rows longer or shorter
    than the header, values outside the space) is one :class:`InvalidConfigError` naming the
    file and line; nothing is imported.
    """
    path = Path(path)
    if not path.exists():
        raise InvalidConfigError(f"warm-start file {str(path)!r} does not exist")
    if not path.is_file():
        raise InvalidConfigError(
            f"warm-start file {str(path)!r}: got a directory, expected a CSV file"
        )
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InvalidConfigError(
            f"warm-start file {str(path)!r} cannot be read: {exc.strerror}"
        ) from None
    if b"\x00" in raw:
        raise InvalidConfigError(
            f"warm-start file {str(path)!r}: got binary data, expected a CSV text file"
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InvalidConfigError(
            f"{path}:{line}: got a byte that is not UTF-8 ({raw[exc.start:exc.start + 1]!r}), "
            "expected UTF-8 text"
        ) from None
    try:
        return list(_rows_from_csv(path, text, space))
    except csv.Error as exc:
        raise InvalidConfigError(f"warm-start file {str(path)!r}: not valid CSV: {exc}") from None


def _rows_from_csv(path: Path, text: str, space: SearchSpace) -> Iterable[Row]:
    import io

    with io.StringIO(text, newline="") as fh:
        reader = csv.DictReader(fh)
        cols = reader.fieldnames or []
        missing = [n for n in space.names if n not in cols]
        if missing or "value" not in cols:
            raise InvalidConfigError(
                f"warm-start file {str(path)!r} needs columns {space.names + ['value']}; "
                f"missing {missing + ([] if 'value' in cols else ['value'])}"
            )
        for i, row in enumerate(reader, start=2):
            if None in row or any(v is None for v in row.values()):
                raise InvalidConfigError(
                    f"{path}:{i}: got a row whose length differs from the header's, expected "
                    f"{len(cols)} fields (one per column)"
                )
            if row.get("state") in ("running", "interrupted", "pruned"):
                continue
            try:
                params = {v.name: _parse_cell(row[v.name]) for v in space.variables}
                space.validate(params)
            except InvalidSearchSpaceError as exc:
                raise InvalidConfigError(f"{path}:{i}: {exc}") from None
            raw = (row.get("value") or "").strip()
            try:
                value = float(raw) if raw else None
            except ValueError:
                raise InvalidConfigError(
                    f"{path}:{i}: column 'value': got {raw!r}, expected a number or empty"
                ) from None
            if value is not None and not math.isfinite(value):
                value = None
            skip = {"number", "state", "value", "warm_start", "duration_s", "error"}
            metrics = {
                k: _parse_cell(v)
                for k, v in row.items()
                if k not in skip and k not in space.names and not k.startswith("attr:") and v
            }
            yield params, value, metrics


def _parse_cell(text: str) -> Any:
    t = text.strip()
    for conv in (int, float):
        try:
            return conv(t)
        except ValueError:
            pass
    if t in ("True", "False"):
        return t == "True"
    return t
