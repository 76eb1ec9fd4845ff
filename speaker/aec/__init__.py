"""Acoustic echo cancellation: the speaker's own voice out of its microphone signal.

The frame path (see the README's architecture section)::

    source ──► CancellingSource(source, canceller, tap) ──► front end (wake word, VAD, uplink)
    ReferenceTap(sink) ── what was really played (played_ms) ──► canceller.add_reference

``port`` holds the :class:`EchoCanceller` protocol, ``framing`` the 10 ms framing every adapter
shares, ``webrtc`` the engine (WebRTC AEC3 through livekit), ``passthrough`` the bypass,
``reference`` the sink tap, ``delay`` the playback → capture delay estimator, ``monitor`` the ERLE
monitor that says whether speech barge-in is safe, ``factory`` builds them from settings."""
