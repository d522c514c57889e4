"""Writes a benchmark's table into the docs between two markers, so the
figures in docs/figures.md are the scripts' output, never edited by hand:

    <!-- figures: NAME (written by COMMAND; do not edit by hand) -->
    ...
    <!-- /figures: NAME -->
"""

import datetime
import os
import platform
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIGURES = os.path.join(ROOT, "docs", "figures.md")


def replace_block(name, command, table, path=FIGURES):
    """Replaces the block `name` in `path` with `table` and a line saying
    which command wrote it, when and where. Fails when the markers are
    missing (the docs moved: say where the figures go)."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    pattern = re.compile(
        r"<!-- figures: " + re.escape(name) + r" .*?-->\n.*?<!-- /figures: " + re.escape(name) + r" -->",
        re.S)
    if not pattern.search(text):
        raise SystemExit(f"{path} has no block `<!-- figures: {name} ... -->`; add the markers where the table goes")
    when = datetime.date.today().isoformat()
    machine = f"{platform.machine()}, {os.cpu_count()} cores"
    block = (f"<!-- figures: {name} (written by `{command}`; do not edit by hand) -->\n"
             f"{table.rstrip()}\n\n"
             f"Written by `{command}` on {when} ({machine}).\n"
             f"<!-- /figures: {name} -->")
    with open(path, "w", encoding="utf-8") as f:
        f.write(pattern.sub(lambda _: block, text, count=1))
    print(f"wrote the `{name}` figures into {os.path.relpath(path, ROOT)}")
