"""Audio analysis: a sensor on the audio landing folder, per-track librosa features, the combined table."""
