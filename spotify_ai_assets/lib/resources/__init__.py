"""Resources: one module per external system. Where the sandbox and a deployment differ (Spotify, the token store,
the landing folders, the ground truth) there is an abstract resource with a live and a sandbox implementation, and
assets name only the abstract one; `spotify_ai_assets.lib.environments.build_resources` picks the implementations."""
