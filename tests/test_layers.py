"""The import graph of ``src/llmhpo`` against the declared layers (docs/architecture.md).

Every ``import`` and ``from ... import`` in every module, function-level (lazy) imports
included, must point to a module of the same layer or a lower one. ``TYPE_CHECKING`` imports
are exempt (they never run).
"""

from __future__ import annotations

import ast
from pathlib import Path

import llmhpo

SRC = Path(llmhpo.__file__).resolve().parent

#: Low to high. A module belongs to the layer of its longest matching prefix.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("base", ("llmhpo.exceptions", "llmhpo.validation", "llmhpo._imports", "llmhpo._status",
              "llmhpo.metrics", "llmhpo.pareto")),
    ("space", ("llmhpo.space",)),
    ("contract", ("llmhpo.objectives.base", "llmhpo.study.trial", "llmhpo.study.ranking")),
    # bench.curve_tasks is a learning-curve objective the sklearn objective module builds
    ("components", ("llmhpo.optimizers", "llmhpo.executors", "llmhpo.objectives",
                    "llmhpo.bench.curve_tasks")),
    ("study", ("llmhpo.study",)),
    ("evaluation", ("llmhpo.evaluation",)),
    ("reporting", ("llmhpo.reporting", "llmhpo.compare", "llmhpo.tracking")),
    # the run config validates against every registry (and the re-check's seeds)
    ("assembly", ("llmhpo.config", "llmhpo.assembly", "llmhpo.bench", "llmhpo.testing")),
    ("cli", ("llmhpo.cli",)),
]

#: Compatibility re-exports that point up on purpose (old import paths kept working).
SHIMS = {
    "llmhpo.study.outcome",  # -> objectives.base (same layer as the records it sat with)
    "llmhpo.bench.sklearn_tasks",
}


def layer_of(module: str) -> int | None:
    best, level = -1, None
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > best:
                best, level = len(p), i
    return level


def module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for sub in node.body:
                skip.update(id(n) for n in ast.walk(sub))
    return skip


def imports_of(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_nodes(tree)
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            # `from llmhpo.x import y` may name a submodule y
            for a in node.names:
                sub = f"{target}.{a.name}"
                out.append((node.lineno, sub if (SRC.parent / (sub.replace(".", "/") + ".py"))
                            .exists() or (SRC.parent / sub.replace(".", "/")).is_dir()
                            else target))
    return [(ln, m) for ln, m in out if m == "llmhpo" or m.startswith("llmhpo.")]


def test_every_module_has_a_layer():
    missing = [module_name(p) for p in SRC.rglob("*.py")
               if module_name(p) != "llmhpo" and layer_of(module_name(p)) is None]
    assert missing == []


def test_no_module_imports_from_a_layer_above_it():
    bad = []
    for path in sorted(SRC.rglob("*.py")):
        me = module_name(path)
        if me == "llmhpo" or me in SHIMS:
            continue
        mine = layer_of(me)
        for line, target in imports_of(path):
            if target == "llmhpo":
                continue
            theirs = layer_of(target)
            if theirs is not None and mine is not None and theirs > mine:
                bad.append(f"{me}:{line} ({LAYERS[mine][0]}) imports {target} "
                           f"({LAYERS[theirs][0]})")
    assert bad == []
