"""Without a broker the demo's device tools run as a dry run: validated, reported, nothing sent."""

from __future__ import annotations

import json
from pathlib import Path

from speaker.config import load_settings
from speaker.mqtt.dryrun import DryRunMqtt
from speaker.tools.loader import build_tools

ROOT = Path(__file__).resolve().parents[2]


class _Host:
    def end_conversation(self) -> None: ...

    def set_volume(self, percent: int) -> None: ...

    def volume(self) -> int:
        return 50


async def test_dry_run_reports_the_publish_and_says_it_is_unconfirmed() -> None:
    settings = load_settings([ROOT / "config" / "speaker.yaml"]).settings
    seen: list[tuple[str, str]] = []
    mqtt = DryRunMqtt(settings.mqtt, on_publish=lambda t, p: seen.append((t, p)))
    registry = build_tools(settings, ROOT / "config", mqtt, _Host())
    out = await registry.execute("z2m_light_set", '{"device": "kitchen_ceiling", "state": "ON"}')
    assert seen == [("zigbee2mqtt/Kitchen Ceiling/set", '{"state":"ON"}')]
    assert out.ok and "confirm" in json.dumps(json.loads(out.output)).lower()
    # validation still applies: a hostile argument publishes nothing
    bad = await registry.execute("z2m_light_set", '{"device": "kitchen_ceiling/#", "state": "ON"}')
    assert not bad.ok and len(seen) == 1
