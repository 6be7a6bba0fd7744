"""Regenerate the screenshots in docs/images/ from the shipped samples.

    python tools/screenshots.py            # or: .venv/bin/python tools/screenshots.py

Runs the ``npsdiag`` command as an admin would (a subprocess, on samples/), then:

- terminal-80.png: the first screen of ``npsdiag analyze samples/cert-expired`` in an 80x30
  colour terminal (its ANSI output drawn by rich's SVG export, photographed by Chromium);
- html-1366.png and html-420.png: the first screen of the HTML report of samples/mixed in a
  1366x900 browser window and on a 420 px wide phone;
- index-1366.png: the first screen of ``npsdiag batch samples``'s index.

Needs Debian's ``chromium`` (headless); ``pngquant``, when installed, makes the files about
three times smaller. Writes nothing but docs/images/*.png.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.terminal_theme import NIGHT_OWLISH
from rich.text import Text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.browser import CHROMIUM_FLAGS  # noqa: E402  (the repository's root, just above)

IMAGES = ROOT / "docs" / "images"
SAMPLES = ROOT / "samples"
#: The browser tests' flags (headless, as root, fetching nothing), at one pixel per pixel.
CHROMIUM = (*CHROMIUM_FLAGS, "--force-device-scale-factor=1")
TERMINAL_LINES = 30


def npsdiag(*args: str, columns: int = 100) -> str:
    """Run ``npsdiag ARGS`` in colour at ``columns`` columns; return what it printed."""
    command = [sys.executable, "-m", "npsdiag", *args]
    environment = {**os.environ, "FORCE_COLOR": "1", "COLUMNS": str(columns)}
    environment.pop("NO_COLOR", None)
    done = subprocess.run(
        command, cwd=ROOT, env=environment, capture_output=True, text=True, check=False
    )
    if done.returncode not in (0, 1, 3):
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}): {done.stderr}")
    return done.stdout


def screenshot(url: str, target: Path, width: int, height: int, profile: Path) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SystemExit("chromium is not installed: apt-get install chromium")
    subprocess.run(
        [
            browser,
            *CHROMIUM,
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            f"--screenshot={target}",
            url,
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )


def terminal_page(ansi: str, columns: int, title: str, folder: Path) -> tuple[Path, int, int]:
    """The first screen of ``ansi`` drawn as rich draws a terminal, in an HTML page."""
    console = Console(
        record=True,
        file=io.StringIO(),  # recorded for the SVG, not printed
        width=columns,
        force_terminal=True,
        color_system="standard",
    )
    screen = "\n".join(ansi.splitlines()[:TERMINAL_LINES])
    console.print(Text.from_ansi(screen), soft_wrap=True)
    svg = console.export_svg(title=title, theme=NIGHT_OWLISH)
    box = re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', svg)
    assert box, "rich's SVG has no viewBox"
    width, height = (int(float(value)) + 1 for value in box.groups())
    page = folder / "terminal.html"
    page.write_text(
        f"<!DOCTYPE html><html><body style='margin:0;background:#fff'>{svg}</body></html>",
        encoding="utf-8",
    )
    return page, width, height


def shrink(image: Path) -> None:
    """Fewer colours, same look (pngquant), when pngquant is installed."""
    if shutil.which("pngquant") is None:
        return
    subprocess.run(
        ["pngquant", "--force", "--skip-if-larger", "--quality=70-95", "--output", str(image),
         str(image)],
        check=False,
    )  # fmt: skip


def main() -> int:
    IMAGES.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="npsdiag-screenshots-") as temporary:
        folder = Path(temporary)
        profile = folder / "profile"
        written: list[Path] = []

        command = "npsdiag analyze samples/cert-expired"
        ansi = npsdiag(*command.split()[1:], columns=80)
        page, width, height = terminal_page(ansi, 80, command, folder)
        target = IMAGES / "terminal-80.png"
        screenshot(page.as_uri(), target, width, height, profile)
        written.append(target)

        report = folder / "mixed.html"
        npsdiag("analyze", "samples/mixed", "--html", str(report), "-q")
        for name, width, height in (("html-1366.png", 1366, 900), ("html-420.png", 420, 900)):
            screenshot(report.as_uri(), IMAGES / name, width, height, profile)
            written.append(IMAGES / name)

        review = folder / "review"
        npsdiag("batch", "samples", "-o", str(review), "--no-progress")
        screenshot((review / "index.html").as_uri(), IMAGES / "index-1366.png", 1366, 900, profile)
        written.append(IMAGES / "index-1366.png")

        for image in written:
            shrink(image)
            print(f"wrote {image.relative_to(ROOT)} ({image.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
