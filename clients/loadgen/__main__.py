"""``python -m clients.loadgen URL ...``: see :mod:`clients.loadgen.cli`."""

import argparse
import sys

from clients.loadgen import cli

parser = argparse.ArgumentParser(prog="python -m clients.loadgen", description=cli.__doc__)
cli.configure(parser)
sys.exit(cli.run(parser.parse_args()))
