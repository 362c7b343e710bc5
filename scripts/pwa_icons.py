"""Draw the app icons (static/icons/*.png) from static/favicon.svg with Debian's Chromium.

The PNGs are committed; run this again only when the logo changes:
    .venv/bin/python scripts/pwa_icons.py
"any" icons are the logo as it is (rounded square); "maskable" ones fill the square with the brand
colour and keep the mark inside the central 80 % safe zone, so a launcher's circle or squircle mask
never cuts it.
"""

from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
SVG = (ROOT / "static" / "favicon.svg").read_text()
MASKABLE = SVG.replace('rx="7"', 'rx="0"').replace(
    '<rect x="14"', '<g transform="translate(16 16) scale(0.72) translate(-16 -16)"><rect x="14"').replace(
    "</svg>", "</g></svg>")
ICONS = [("icon-192.png", 192, SVG), ("icon-512.png", 512, SVG), ("apple-touch-icon.png", 180, MASKABLE),
         ("maskable-192.png", 192, MASKABLE), ("maskable-512.png", 512, MASKABLE), ("badge-96.png", 96, SVG)]


def main():
    out = ROOT / "static" / "icons"
    out.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                             args=["--no-sandbox", "--disable-gpu"])
        for name, size, svg in ICONS:
            page = browser.new_page(viewport={"width": size, "height": size})
            sized = svg.replace("<svg ", f"<svg width={size} height={size} ")
            page.set_content(f"<html><body style='margin:0;background:transparent'>{sized}</body></html>")
            page.screenshot(path=str(out / name), omit_background=True)
            page.close()
        browser.close()
    print("\n".join(  # noqa: T201 - a script that says what it wrote
        f"static/icons/{name} {size}x{size}" for name, size, _ in ICONS))


if __name__ == "__main__":
    main()
