"""Small helpers that servers, clients and the command line all may import.

Nothing here depends on another package of the project, and nothing imports
more than the standard library and psutil: a server process can use it without
loading what the load tools need.

* :mod:`common.process_tree`: a process and its descendants (CPU, memory, stop).
* :mod:`common.argtypes`: argparse value types with messages that say the fix.
* :mod:`common.fd_limit`: lift the open-files limit for many sockets.
* :mod:`common.bench_lock`: one load at a time on this machine.
"""
