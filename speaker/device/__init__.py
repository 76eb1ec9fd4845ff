"""The speaker as a local device: what it remembers across restarts (volume, mute, the wake word
choice, today's spend), its feedback sounds and which wake words may fire. No MQTT here: the Home
Assistant/MQTT adapter (``speaker.ha``) shows and drives these."""
