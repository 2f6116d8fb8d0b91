"""iomodels' Locust scenario: the users, the raw-TCP EchoUser and the server-stats plugin.

    locust -f loadtests/locustfile.py --class-picker --host http://127.0.0.1:8000

Pick a class in the web UI (or name one: ``HelloUser``) and tune the knobs
(``--message-size``, ``--io-ms``, ``--cpu-n``, ``--think-ms``) on the command
line or in the start form. ``make locust`` / ``make loadtest`` / ``make compare``
start a server for you.
"""

from loadtests import bucketing, final_csv
from loadtests import class_picker as _class_picker  # noqa: F401  (the picker's first ticks)
from loadtests import interrupt as _interrupt  # noqa: F401  (Ctrl-C without a traceback)
from loadtests import no_answer as _no_answer  # noqa: F401  (one line when the host is not there)
from loadtests import options as _options  # noqa: F401  (registers the command-line arguments)
from loadtests import server_plugin as _server_plugin  # noqa: F401  (registers the plugin)
from loadtests.echo_user import EchoUser
from loadtests.http_users import CpuUser, DbUser, HelloUser, IoUser, WebsiteUser

bucketing.install()
final_csv.install()

__all__ = ["WebsiteUser", "HelloUser", "IoUser", "CpuUser", "DbUser", "EchoUser"]
