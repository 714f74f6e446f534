"""Apps depend downward: accounts at the bottom, aliases on it, deploys and maillog on it, webhooks on top.

A static check: every import statement of every module (lazy ones inside functions and
``TYPE_CHECKING`` ones included) and every ``import_module("...")`` with a literal name.
Migrations are left out; they name other apps' models by string. What accounts needs of
domains, aliases hands it at start-up (``aliasdesk.accounts.domains``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "aliasdesk"

BELOW = {
    "accounts": ["aliasdesk.aliases", "aliasdesk.deploys", "aliasdesk.maillog", "aliasdesk.webhooks"],
    "aliases": ["aliasdesk.deploys", "aliasdesk.maillog", "aliasdesk.webhooks"],
    "deploys": ["aliasdesk.webhooks"],
}


def imported_names(path: Path, root: Path = PACKAGE.parent) -> set[str]:
    """Every module ``path`` imports, by full name; ``from a import b`` counts as ``a`` and ``a.b``.
    ``root`` is the folder the top package is in (for relative imports)."""
    parts = path.relative_to(root).with_suffix("").parts
    package = ".".join(parts[:-1])
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.add(node.args[0].value)
    return names


def sources(app: str) -> list[Path]:
    return sorted(p for p in (PACKAGE / app).rglob("*.py") if "migrations" not in p.parts)


def reaches(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


@pytest.mark.parametrize("app", sorted(BELOW))
def test_an_app_imports_no_app_above_it(app: str) -> None:
    found = [
        f"{path.relative_to(PACKAGE.parent)} imports {name}"
        for path in sources(app)
        for name in sorted(imported_names(path))
        if any(reaches(name, above) for above in BELOW[app])
    ]
    assert found == []


def test_the_check_sees_lazy_relative_and_package_imports(tmp_path: Path) -> None:
    # the middleware imports the directory inside a function, on first use
    assert "aliasdesk.accounts.directory" in imported_names(PACKAGE / "accounts" / "middleware.py")
    assert "aliasdesk.accounts.models" in imported_names(PACKAGE / "aliases" / "grants.py")
    app = tmp_path / "aliasdesk" / "accounts"
    app.mkdir(parents=True)
    module = app / "sample.py"
    module.write_text(
        "from ..aliases import models\n"
        "from aliasdesk import deploys\n"
        "def later():\n"
        "    import importlib\n"
        "    importlib.import_module('aliasdesk.maillog.models')\n"
    )
    names = imported_names(module, tmp_path)
    assert {"aliasdesk.aliases.models", "aliasdesk.deploys", "aliasdesk.maillog.models"} <= names
