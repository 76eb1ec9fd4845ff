"""README.md's configuration reference is generated from the schema: it must be current."""

from pathlib import Path

from speaker.config.reference import reference

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_reference_is_current() -> None:
    assert reference() in README.read_text(), (
        "README.md's configuration reference is stale: run `python -m speaker.config.reference` and paste it"
    )


def test_every_setting_is_documented() -> None:
    undocumented = [line for line in reference().splitlines() if line.startswith("| `") and line.endswith("|  |")]
    assert undocumented == []
