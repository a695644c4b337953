"""How long loading the code location takes, against `import dagster` alone, measured in the same run.

    python benchmarks/code_location.py [--repeat 7]

Each sample is a fresh Python process (what the code server, the daemon and every step process of the multiprocess
executor pay): (1) `import dagster`; (2) `import dagster` then build the definitions and resolve the repository, as
a code server or step process does; (3) the same with Dagster's components loader (`load_from_defs_folder`) in place
of the package loader the code location uses, to show what that choice saves (the components loader also imports
every installed `dg` plugin, dagster-aws's among them). The medians and the differences are printed; the target is a
difference of at most 0.5 s for (2). The second figure is also the per-step overhead of the multiprocess executor,
whose every step starts a process that imports Dagster and loads the code location before it runs the step's own
code (the libraries a step uses, such as librosa or lightgbm, then load inside that step only).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import harness  # noqa: E402

DAGSTER_ONLY = "import time; t = time.perf_counter(); import dagster; print(time.perf_counter() - t)"
LOCATION = ("import time; t = time.perf_counter(); import dagster\n"
            "from spotify_ai_assets.definitions import build_defs\n"
            "repo = build_defs({'SPOTIFY_AI_HOME': %r}).get_repository_def(); repo.get_all_jobs(); repo.asset_graph\n"
            "print(time.perf_counter() - t)")
COMPONENTS = ("import time; t = time.perf_counter(); import dagster as dg\n"
              "from pathlib import Path\n"
              "import spotify_ai_assets\n"
              "from spotify_ai_assets.lib.environments import build_resources\n"
              "from spotify_ai_assets.settings import Settings\n"
              "loaded = dg.load_from_defs_folder(path_within_project=Path(spotify_ai_assets.__file__).parent)\n"
              "resources = build_resources(Settings.from_environ({'SPOTIFY_AI_HOME': %r}))\n"
              "repo = dg.Definitions.merge(loaded, dg.Definitions(resources=resources)).get_repository_def()\n"
              "repo.get_all_jobs(); repo.asset_graph\n"
              "print(time.perf_counter() - t)")


def _sample(code: str, args: list[str] | None = None) -> float:
    out = subprocess.run([sys.executable, "-c", code, *(args or [])], capture_output=True, text=True, check=True,
                         cwd=REPO_ROOT)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeat", type=int, default=7)
    args = p.parse_args()
    home = tempfile.mkdtemp(prefix="code-location-")
    bytecode = harness.compile_ahead(REPO_ROOT / "spotify_ai_assets")
    dagster_only, location, components = [], [], []
    for _ in range(args.repeat):  # interleaved, so a busy moment hurts all alike
        dagster_only.append(_sample(DAGSTER_ONLY))
        location.append(_sample(LOCATION % home))
        components.append(_sample(COMPONENTS % home))
    for name, value in harness.machine_facts():
        print(f"{name:9} {value}")
    print(f"bytecode  {bytecode}")
    a, b, c = statistics.median(dagster_only), statistics.median(location), statistics.median(components)
    print(json.dumps({"import_dagster_s": round(a, 3), "load_code_location_s": round(b, 3),
                      "overhead_s": round(b - a, 3), "target_s": 0.5,
                      "components_loader_s": round(c, 3), "components_overhead_s": round(c - a, 3),
                      "samples": args.repeat}))
    print(f"\nimport dagster: {a:.3f} s; dagster + definitions: {b:.3f} s; the definitions cost {b - a:.3f} s "
          f"({'met' if b - a <= 0.5 else 'MISSED'}: target <= 0.5 s)")
    print(f"with the components loader (load_from_defs_folder) instead: {c:.3f} s, {c - a:.3f} s over "
          "import dagster")
    print(f"per-step overhead of the multiprocess executor (process start, dagster, definitions): {b:.3f} s "
          f"+ interpreter start")
    return 0


if __name__ == "__main__":
    sys.exit(main())
