"""The layout shows the architecture: a small kernel under feature folders, and imports that run one way.

Every import of a reporting module is read, the function-local ones too, so that no import hides a
circle or an upward step inside a function."""
import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
REPORTING = ROOT / "reporting"

#: the feature folders from the bottom up: each may import the kernel and the folders before it
LAYERS = ["regions", "calendar", "basis", "campaigns", "accounts", "progress", "filing", "departments",
          "reminders", "review", "supervision", "circulars", "dashboard", "home", "api", "demo"]


def module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, pathlib.Path]:
    return {module_name(path): path for path in REPORTING.rglob("*.py")}


def imports_of(name: str, path: pathlib.Path, known: set[str]) -> set[str]:
    """The reporting modules `name` imports, anywhere in its source (`from reporting.x import y` counts
    reporting.x.y when that is a module, else reporting.x)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, f"{name}: a relative import ({node.module})"
            targets = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in known else node.module
                       for alias in node.names]
        else:
            continue
        found |= {target for target in targets if target in known and target != name}
        assert not any(target == "app" or target.startswith("app.") for target in targets), \
            f"{name} imports app.py: the composition root imports the features, never the reverse"
    return found


def folder(name: str) -> str:
    """The feature folder of a module, or "kernel" for the modules directly in reporting/."""
    parts = name.split(".")
    return parts[1] if len(parts) > 2 else "kernel"


def rank(folder_name: str) -> int:
    return 0 if folder_name == "kernel" else LAYERS.index(folder_name) + 1


def graph() -> dict[str, set[str]]:
    found = modules()
    names = set(found) - {"reporting"}
    return {name: imports_of(name, found[name], names) for name in sorted(names)}


def test_every_folder_has_its_place_in_the_layers():
    folders = {path.name for path in REPORTING.iterdir() if path.is_dir() and (path / "__init__.py").exists()}
    assert folders == set(LAYERS)
    assert len(graph()) > 60  # the modules are really read


def upward(edges: dict[str, set[str]]) -> list[str]:
    return [f"{name} -> {target}" for name, targets in edges.items() for target in sorted(targets)
            if rank(folder(target)) > rank(folder(name))]


def circles(edges: dict[str, set[str]]) -> list[str]:
    """Each import that closes a circle, with the circle it closes (a depth-first search)."""
    state: dict[str, int] = {}
    found = []

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for target in sorted(edges.get(name, ())):
            if state.get(target) == 1:
                path = trail + [name]
                found.append(" -> ".join(path[path.index(target):] + [target]))
            elif target not in state:
                visit(target, trail + [name])
        state[name] = 2
    for name in sorted(edges):
        if name not in state:
            visit(name, [])
    return found


def test_no_import_runs_upward_between_folders():
    assert upward(graph()) == []


def test_the_modules_import_no_circle():
    assert circles(graph()) == []


def test_the_checks_find_an_upward_import_and_a_circle():
    made_up = {"reporting.progress.rollup": {"reporting.filing.filing", "reporting.models"},
               "reporting.filing.filing": {"reporting.progress.rollup"}, "reporting.models": set()}
    assert upward(made_up) == ["reporting.progress.rollup -> reporting.filing.filing"]
    assert circles(made_up) == ["reporting.filing.filing -> reporting.progress.rollup -> reporting.filing.filing"]
    assert upward({"reporting.clock": {"reporting.regions.hierarchy"}}) == [
        "reporting.clock -> reporting.regions.hierarchy"]
