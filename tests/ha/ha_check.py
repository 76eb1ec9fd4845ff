"""Run by tests/ha/test_ha_schemas.py with Home Assistant's own Python (a separate venv: HA needs 3.13):
validates discovery payloads against HA's MQTT platform schemas and renders templates with HA's engine.

stdin: {"configs": [[component, payload], ...], "renders": [[template, mqtt payload text], ...]}
stdout: {"errors": [[index, message], ...], "rendered": [text, ...]}"""

import asyncio
import importlib
import json
import sys
import tempfile


async def main() -> None:
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers import frame
    from homeassistant.helpers.template import Template

    request = json.load(sys.stdin)
    errors = []
    with tempfile.TemporaryDirectory() as config_dir:
        hass = HomeAssistant(config_dir)
        frame.async_setup(hass)  # template validators need it
        for i, (component, payload) in enumerate(request["configs"]):
            platform = importlib.import_module(f"homeassistant.components.mqtt.{component}")
            try:
                platform.DISCOVERY_SCHEMA(payload)
            except Exception as exc:  # voluptuous.Invalid and friends
                errors.append([i, f"{component}: {exc}"])
        rendered = [str(Template(template, hass).async_render_with_possible_json_value(text))
                    for template, text in request["renders"]]
        await hass.async_stop(force=True)
    json.dump({"errors": errors, "rendered": rendered}, sys.stdout)


asyncio.run(main())
