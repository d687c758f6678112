"""Print docs/outcomes.md's table for one seed from `simulate_practice --compare --json` output.

python manage.py simulate_practice --providers 10 --days 30 --seed 1 --compare --json > seed1.json
python bench/outcomes_tables.py seed1.json
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cases.simulation.report import ROWS  # noqa: E402 - after the path is set


def table(results: list[dict]) -> str:
    by_mode = {r["mode"]: r for r in results}
    auto, manual = by_mode["automated"], by_mode["manual"]
    head = (
        f"### Seed {auto['seed']}: {auto['providers']} providers × {auto['days']} days ({auto['orders']} orders; "
        f"{auto['elapsed_seconds']:.0f} s automated, {manual['elapsed_seconds']:.0f} s by hand, "
        f"tasks on {auto['workers']} workers)"
    )
    lines = [head, "", "| figure | automated | by hand |", "| --- | ---: | ---: |"]
    lines += [f"| {label} | {auto[key]} | {manual[key]} |" for key, label in ROWS]
    return "\n".join(lines)


if __name__ == "__main__":
    for name in sys.argv[1:]:
        data = json.loads(Path(name).read_text())
        print(table(data if isinstance(data, list) else [data]), end="\n\n")
