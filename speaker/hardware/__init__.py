"""The Raspberry Pi hardware around the speaker: a ReSpeaker HAT's APA102 LEDs and its button."""
