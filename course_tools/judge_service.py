"""The class's judge service: the instant ✓ or ✗ on a class server whose students' kernels hold no references.

On a graded class's server the students' environment leaves the references (``course_judges``) out, so
``exercises.check`` in a kernel cannot judge on the spot. With ``COURSE_JUDGE_URL`` set in the servers'
environment (classroom/jupyterhub_config.py), it sends the answer as plain JSON values to this service
instead, with the server's own hub token, and shows the verdict::

    POST <url>  {"exercise": "mlp.wider", "answer": 203530, "given": {}}   Authorization: token <hub token>
    200         {"right": false, "message": "..."}

JupyterHub runs it as a managed service, in a process of its own and, where the hub runs as root, as an
account of its own, so that the references are readable by it and not by the students. It accepts only
tokens that the hub vouches for and that may use this service (``access:services!service=course-judge``,
which the config grants to users and their servers), reads plain values only
(:func:`course_judges.verdict`), and never sends a reference, a worked answer or the praise back: a
student learns whether their answer is right and what looks wrong, as in their own set-up. The grade is
judged again by the grader, in its own process (course_tools/grading.py).
"""

from __future__ import annotations

import json
import os
import signal
from urllib.parse import urlparse

from jupyterhub.services.auth import HubAuthenticated
from jupyterhub.utils import url_path_join
from tornado import ioloop, web
from tornado.log import app_log, enable_pretty_logging

import course_judges

NAME = "course-judge"  # the service's name in classroom/jupyterhub_config.py
MAX_BODY = 16 << 20  # the largest answer with its given inputs (the RNN's images) is well under 1 MiB


class JudgeHandler(HubAuthenticated, web.RequestHandler):
    """POST an answer, get the verdict; the hub's token says who asks (kept in the log)."""

    def write_error(self, status_code: int, **kwargs: object) -> None:
        reason = self._reason
        exc_info = kwargs.get("exc_info")
        if exc_info and isinstance(exc_info[1], web.HTTPError) and exc_info[1].log_message:
            reason = exc_info[1].log_message
        self.finish({"right": False, "message": f"the class's judge refused the request: {reason}"})

    @web.authenticated
    def post(self) -> None:
        if len(self.request.body) > MAX_BODY:
            raise web.HTTPError(413, "the answer is too large to judge")
        try:
            body = json.loads(self.request.body)
            exercise, answer, given = body["exercise"], body["answer"], body.get("given", {})
        except (ValueError, KeyError, TypeError):
            raise web.HTTPError(400, 'send JSON: {"exercise": ..., "answer": ..., "given": {...}}') from None
        if not isinstance(exercise, str) or exercise not in course_judges.REFERENCES:
            raise web.HTTPError(404, f"there is no exercise {exercise!r}")
        if not isinstance(given, dict):
            raise web.HTTPError(400, "given must be a JSON object of the inputs the answer was given")
        message = course_judges.verdict(exercise, answer, given)
        verdict = "right" if message is None else "not right"
        app_log.info("%s: %s %s", self.current_user["name"], exercise, verdict)  # who asked what, never the answer
        self.finish({"right": message is None, "message": message or ""})


def main() -> None:
    """Serve at the URL and prefix the hub gives its managed service (JUPYTERHUB_SERVICE_URL, _PREFIX)."""
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", f"/services/{NAME}/")
    url = urlparse(os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:10101"))
    app = web.Application([(url_path_join(prefix, "judge"), JudgeHandler)])
    app.listen(url.port or 80, url.hostname or "127.0.0.1", max_body_size=MAX_BODY)
    enable_pretty_logging()  # into the hub's log, which collects its services' output
    app_log.info(
        "the course's judge serves %d exercises at %s%sjudge", len(course_judges.REFERENCES), url.geturl(), prefix
    )
    loop = ioloop.IOLoop.current()
    # The hub stops its services with SIGTERM: end the loop quietly rather than with a traceback.
    signal.signal(signal.SIGTERM, lambda *_: loop.add_callback_from_signal(loop.stop))
    loop.start()


if __name__ == "__main__":
    main()
