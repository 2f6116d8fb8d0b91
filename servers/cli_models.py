"""``iomodels models``: list the registered IO models."""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    from servers.registry import MODELS

    width = max(map(len, MODELS))
    for info in MODELS.values():
        reason = info.unavailable()
        print(
            f"{info.name:<{width}}  {info.summary}" + (f" [not here: {reason}]" if reason else "")
        )
    return 0
