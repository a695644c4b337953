"""spotify_ai_assets: the data-asset platform behind a music AI agent.

`defs` is Dagster's entry point (`dagster ... -m spotify_ai_assets`). It is lazy twice over: Dagster itself is only
imported when something asks for `defs` (so the pure core, the sandbox, the emulator and the audio command never pay
for it), and environment variables are read when Dagster loads the definitions, not when this package is imported.
"""

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "defs":
        from spotify_ai_assets.entry import defs

        return defs
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    # Dagster's module loader lists members with dir(): `defs` must show up before it has been loaded.
    return sorted([*globals(), "defs"])
