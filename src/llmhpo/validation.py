"""Checks of user-given values, shared by config loading, spaces, optimizers and the CLI.

Every check returns the value in canonical form or raises an :mod:`llmhpo.exceptions` error
whose message reads ``KEY: got VALUE, expected WHAT``. Values are shown through
:func:`short_repr`, which never builds the whole ``repr`` of a huge or self-similar structure
(a YAML alias bomb expands to billions of elements; echoing it whole once took 87 s and 2 GB
of stderr).

Checks are strict about types: a YAML ``'false'`` (a string) is not a boolean, ``True`` is not
an integer, ``"3"`` is not a number of workers.
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Mapping, Sequence
from typing import Any

from llmhpo.exceptions import InvalidConfigError, LLMHPOError

__all__ = [
    "short_repr",
    "bad_value",
    "check_bool",
    "check_int",
    "check_number",
    "check_choice",
    "check_str",
    "check_mapping",
    "check_str_list",
    "check_str_mapping",
    "one_line",
]

_REPR = reprlib.Repr()
_REPR.maxlevel = 3
_REPR.maxlist = _REPR.maxtuple = _REPR.maxset = _REPR.maxdict = 6
_REPR.maxstring = 60
_REPR.maxother = 60
_REPR.maxlong = 40
_MAX_REPR = 120


def short_repr(value: Any, limit: int = _MAX_REPR) -> str:
    """``repr(value)`` cut to about ``limit`` characters, without building the full repr.

    ``reprlib`` stops at a few elements per container and a few levels of nesting, so the
    cost is bounded whatever the size of ``value``.
    """
    try:
        text = _REPR.repr(value)
    except Exception:  # noqa: BLE001 - a broken __repr__ must not hide the real error
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def one_line(text: str, limit: int = 2000) -> str:
    """``text`` on one line (whitespace runs collapsed), cut to ``limit`` characters."""
    out = " ".join(str(text)[: limit * 2].split())
    return out if len(out) <= limit else out[: limit - 3] + "..."


def bad_value(
    key: str, value: Any, expected: str, cls: type[LLMHPOError] = InvalidConfigError
) -> LLMHPOError:
    """The error ``KEY: got VALUE, expected EXPECTED`` (value shown through short_repr)."""
    return cls(f"{key}: got {short_repr(value)}, expected {expected}")


def check_bool(key: str, value: Any, cls: type[LLMHPOError] = InvalidConfigError) -> bool:
    """A real boolean; the strings ``'true'``/``'false'`` and the numbers 0/1 are errors."""
    if not isinstance(value, bool):
        raise bad_value(key, value, "true or false (unquoted)", cls)
    return value


def _is_int(value: Any) -> bool:
    import numbers

    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_int(
    key: str,
    value: Any,
    *,
    low: int | None = None,
    high: int | None = None,
    none_ok: bool = False,
    cls: type[LLMHPOError] = InvalidConfigError,
) -> int | None:
    """An integer in ``[low, high]`` (either bound optional); floats such as 3.0 are refused."""
    if value is None and none_ok:
        return None
    if not _is_int(value) or (low is not None and value < low) or (
        high is not None and value > high
    ):
        raise bad_value(key, value, _int_expectation(low, high, none_ok), cls)
    return int(value)


def _int_expectation(low: int | None, high: int | None, none_ok: bool) -> str:
    if low == 1:
        text = "a positive integer"
    elif low == 0:
        text = "a non-negative integer"
    elif low is not None:
        text = f"an integer >= {low}"
    else:
        text = "an integer"
    if high is not None:
        text += f" <= {high}"
    return text + (" or null" if none_ok else "")


def check_number(
    key: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    none_ok: bool = False,
    what: str | None = None,
    cls: type[LLMHPOError] = InvalidConfigError,
) -> float | None:
    """A finite real number (int or float, not bool, not a string) within the bounds.

    ``what`` replaces the generated description of the expected value."""
    if value is None and none_ok:
        return None
    import numbers

    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if ok:
        v = float(value)
        ok = math.isfinite(v)
        if ok and low is not None:
            ok = v > low if low_open else v >= low
        if ok and high is not None:
            ok = v < high if high_open else v <= high
    if not ok:
        if low is not None and high is not None:
            lb, hb = "(" if low_open else "[", ")" if high_open else "]"
            text = f"a number in {lb}{low:g}, {high:g}{hb}"
        elif low == 0 and low_open:
            text = "a positive number"
        elif low is not None:
            text = f"a number {'>' if low_open else '>='} {low:g}"
        elif high is not None:
            text = f"a number {'<' if high_open else '<='} {high:g}"
        else:
            text = "a finite number"
        raise bad_value(key, value, (what or text) + (" or null" if none_ok else ""), cls)
    return float(value)


def check_choice(
    key: str, value: Any, choices: Sequence[Any], cls: type[LLMHPOError] = InvalidConfigError
) -> Any:
    """One of ``choices`` (compared with ``==`` and the same type)."""
    for c in choices:
        if type(c) is type(value) and c == value:
            return c
    raise bad_value(key, value, "one of " + ", ".join(repr(c) for c in choices), cls)


def check_str(
    key: str,
    value: Any,
    *,
    empty_ok: bool = False,
    none_ok: bool = False,
    what: str = "a string",
    cls: type[LLMHPOError] = InvalidConfigError,
) -> str | None:
    """A string (non-empty unless ``empty_ok``)."""
    if value is None and none_ok:
        return None
    if not isinstance(value, str) or (not empty_ok and not value.strip()):
        expected = what if empty_ok else f"a non-empty {what.removeprefix('a ')}"
        raise bad_value(key, value, expected + (" or null" if none_ok else ""), cls)
    return value


def check_mapping(
    key: str, value: Any, *, what: str = "a mapping", cls: type[LLMHPOError] = InvalidConfigError
) -> dict[str, Any]:
    """A mapping with string keys, returned as a plain dict."""
    if not isinstance(value, Mapping):
        raise bad_value(key, value, what, cls)
    for k in value:
        if not isinstance(k, str):
            raise bad_value(f"{key} key", k, "a string", cls)
    return dict(value)


def check_str_list(
    key: str, value: Any, *, cls: type[LLMHPOError] = InvalidConfigError
) -> list[str]:
    """A non-empty list of strings."""
    if (
        isinstance(value, (str, bytes))
        or not isinstance(value, Sequence)
        or not value
        or not all(isinstance(v, str) for v in value)
    ):
        raise bad_value(key, value, "a non-empty list of strings", cls)
    return list(value)


def check_str_mapping(
    key: str, value: Any, *, cls: type[LLMHPOError] = InvalidConfigError
) -> dict[str, str]:
    """A mapping of names to scalar values (environment variables), as strings."""
    m = check_mapping(key, value, what="a mapping of NAME: value", cls=cls)
    out = {}
    for k, v in m.items():
        if not isinstance(v, (str, int, float, bool)):
            raise bad_value(f"{key}.{k}", v, "a string or a number", cls)
        out[k] = str(v)
    return out


# ----- storage URLs -----------------------------------------------------------------------------
# SQLAlchemy dialect -> (default driver module, pip package). A URL may name its driver
# (``postgresql+psycopg://``); the pip package of a named driver is in _DRIVER_PACKAGES.
_DIALECTS = {
    "sqlite": ("sqlite3", None),
    "postgresql": ("psycopg2", "psycopg2-binary"),
    "mysql": ("MySQLdb", "mysqlclient"),
    "mariadb": ("MySQLdb", "mysqlclient"),
}
_DRIVER_PACKAGES = {
    "psycopg2": ("psycopg2", "psycopg2-binary"),
    "psycopg": ("psycopg", "psycopg[binary]"),
    "pg8000": ("pg8000", "pg8000"),
    "asyncpg": ("asyncpg", "asyncpg"),
    "pymysql": ("pymysql", "pymysql"),
    "mysqldb": ("MySQLdb", "mysqlclient"),
    "mysqlconnector": ("mysql.connector", "mysql-connector-python"),
    "pysqlite": ("sqlite3", None),
}
_SQLITE_MAGIC = b"SQLite format 3\x00"


def sqlite_path(url: str) -> str | None:
    """The file of a SQLite URL or bare path (``None`` for other databases and memory)."""
    if url == ":memory:":
        return None
    if "://" not in url:
        return url
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):].split("?", 1)[0]
        return None if path in ("", ":memory:") else path
    return None


def check_storage_url(url: Any, *, key: str = "storage", must_exist: bool = False) -> str:
    """Check a storage URL without creating anything; returns it unchanged.

    Accepted: ``sqlite:///relative.db``, ``sqlite:////abs/path.db``, a bare file path (taken as
    SQLite), ``:memory:``, ``postgresql[+driver]://...``, ``mysql[+driver]://...``. The driver
    of a server database must be importable (the error names the pip package). A SQLite file
    that exists must be a SQLite database; its directory must be a directory. With
    ``must_exist`` (commands that only read: status, export, report) the file must exist.
    """
    import importlib.util
    import os

    expected = "sqlite:///FILE.db, a file path, or postgresql://USER@HOST/DB"
    check_str(key, url, what=f"a database URL ({expected})")
    if "\x00" in url:
        raise bad_value(key, url, expected)
    if "://" in url:
        scheme = url.split("://", 1)[0].lower()
        dialect, _, driver = scheme.partition("+")
        if dialect == "postgres":
            raise bad_value(key, url, "the scheme postgresql:// (SQLAlchemy does not accept "
                            "postgres://)")
        if dialect not in _DIALECTS:
            raise bad_value(key, url, f"a URL whose scheme is one of {sorted(_DIALECTS)}")
        if dialect == "sqlite":
            if not url.startswith("sqlite:///"):
                raise bad_value(
                    key, url, "sqlite:///relative/path.db or sqlite:////absolute/path.db "
                    "(three slashes before the path)"
                )
        else:
            module, package = _DIALECTS[dialect]
            if driver:
                if driver not in _DRIVER_PACKAGES:
                    raise bad_value(key, url, f"a known {dialect} driver: "
                                    f"{', '.join(sorted(_DRIVER_PACKAGES))}")
                module, package = _DRIVER_PACKAGES[driver]
            try:
                found = importlib.util.find_spec(module) is not None
            except (ImportError, ValueError):
                found = False
            if not found:
                from llmhpo.exceptions import OptionalDependencyError

                raise OptionalDependencyError(
                    f"{key}: {dialect} needs the Python driver {module!r}, which is not "
                    f"installed. Install it with: pip install {package}"
                )
    path = sqlite_path(url)
    if path is None:
        return url
    p = os.path.abspath(path)
    if os.path.isdir(p):
        raise bad_value(key, url, "a SQLite file, not a directory")
    if os.path.exists(p):
        try:
            with open(p, "rb") as fh:
                head = fh.read(len(_SQLITE_MAGIC))
        except OSError as exc:
            raise bad_value(key, url, f"a readable SQLite file ({exc.strerror})") from None
        if head and head != _SQLITE_MAGIC:
            raise bad_value(key, url, "a SQLite database file (this file is something else)")
    elif must_exist:
        raise InvalidConfigError(f"{key}: no database at {url!r} (nothing was created)")
    else:
        parent = os.path.dirname(p)
        while parent and not os.path.exists(parent):  # the nearest existing ancestor
            up = os.path.dirname(parent)
            if up == parent:
                break
            parent = up
        if parent and not os.path.isdir(parent):
            raise bad_value(key, url, f"a path whose parent is a directory ({parent!r} is a "
                            "file)")
    return url


def safe_filename(name: str, limit: int = 100) -> str:
    """``name`` made safe as one path component: no separators, no ``..``, no leading dot.

    A study name is free text (``../../x`` is a legal study name); wherever it becomes part of
    a path (``{study_name}-report``) it goes through this, so nothing is written outside the
    intended directory.
    """
    import re

    out = re.sub(r"[^A-Za-z0-9._+-]", "_", str(name))[:limit].lstrip(".")
    return out or "study"


def check_output_file(key: str, path: Any) -> str:
    """A file path that can be written: its directory exists, it is not a directory."""
    import os

    check_str(key, path, what="a file path")
    if os.path.isdir(path):
        raise bad_value(key, path, "a file path, not a directory")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise bad_value(key, path, f"a path in an existing directory ({parent!r} is not one)")
    return path


def check_output_dir(key: str, path: Any) -> str:
    """A directory path that is not an existing file (it is created if missing)."""
    import os

    check_str(key, path, what="a directory path")
    if os.path.exists(path) and not os.path.isdir(path):
        raise bad_value(key, path, "a directory, not an existing file")
    p = os.path.abspath(path)
    while not os.path.exists(p):
        p = os.path.dirname(p)
    if not os.path.isdir(p):
        raise bad_value(key, path, f"a path under a directory ({p!r} is a file)")
    return path
