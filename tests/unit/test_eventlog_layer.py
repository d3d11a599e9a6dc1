"""The event log's scripts are called through `contracts.eventlog` only: no other module of the
services (or of contracts) names a script, so none builds a script's key or argument list."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = {"SUBMIT", "START", "APPEND", "CANCEL", "DEAD_LETTER"}
LAYER = ROOT / "contracts" / "eventlog.py"


def script_uses(path: Path) -> list[str]:
    """Where `path` names a script of `contracts.log`: `from contracts.log import APPEND`, or
    `log.APPEND` through any alias of the module."""
    tree = ast.parse(path.read_text(), str(path))
    aliases: set[str] = set()
    uses: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "contracts.log":
            uses += [f"{path}:{node.lineno}" for name in node.names if name.name in SCRIPTS]
        if isinstance(node, ast.ImportFrom) and node.module == "contracts":
            aliases |= {name.asname or name.name for name in node.names if name.name == "log"}
        if isinstance(node, ast.Import):
            aliases |= {
                name.asname or name.name for name in node.names if name.name == "contracts.log"
            }
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in SCRIPTS
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
        ):
            uses.append(f"{path}:{node.lineno}")
    return uses


def test_only_the_event_log_layer_names_the_scripts() -> None:
    sources = [*ROOT.joinpath("services").rglob("*.py"), *ROOT.joinpath("contracts").rglob("*.py")]
    offenders = [use for path in sources if path != LAYER for use in script_uses(path)]
    assert offenders == []
    assert len(script_uses(LAYER)) == len(SCRIPTS)  # the check sees the layer's own uses


def test_the_check_sees_both_ways_of_naming_a_script(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "from contracts import log as event_log\nfrom contracts.log import APPEND\n"
        "x = event_log.SUBMIT\ny = event_log.AppendResult\n"
    )
    assert [use.rsplit(":", 1)[1] for use in script_uses(module)] == ["2", "3"]
