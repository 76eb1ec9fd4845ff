"""Kitchen timers that live in the daemon, not in the Realtime session: the model sets them with a tool,
they persist in ``state_dir`` and ring through the speaker until the wake word or the stop command."""
