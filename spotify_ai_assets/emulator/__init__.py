"""A loopback Spotify Web API emulator serving the deterministic sandbox world to the real spotipy client."""

from spotify_ai_assets.emulator.faults import Fault
from spotify_ai_assets.emulator.server import SpotifyEmulator

__all__ = ["Fault", "SpotifyEmulator"]
