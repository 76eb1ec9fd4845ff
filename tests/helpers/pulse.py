"""A private PulseAudio server with null sinks (filled in with the audio adapters)."""
