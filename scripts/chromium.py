"""Debian's chromium as every browser run here starts it (the tests' fixtures, the screenshots):
never a downloaded browser, no sandbox (containers, root), nothing that reaches the network."""

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
