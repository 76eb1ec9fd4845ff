"""Wake word detection: one ``WakeEngine`` interface, two engines (openWakeWord, microWakeWord).

Build an engine from settings with :func:`speaker.wake.factory.build_wake_engine`."""
