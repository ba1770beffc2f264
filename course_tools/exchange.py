"""nbgrader's collect step, refusing submissions filed under someone else's name (classroom/nbgrader_config.py).

nbgrader's exchange names a submission ``<student>+<assignment>+<time>+<random>`` in the inbound folder,
and ``nbgrader submit --student bob`` run from alice's account writes ``bob+...`` there. Its collect only
warns ("cheating attempt?") and takes the newest folder per name, so alice's copy replaces bob's own
submission. On a server where each student is a system account, the folder's owner is the one fact a
student cannot forge, so this collect ignores every submission whose owner is not the student it names
(or that is a link, whose owner would be its target's), logs it as an error, and collects the newest of
the student's own. Select it with ``c.ExchangeFactory.collect = "course_tools.exchange.OwnerCheckedCollect"``;
it keeps nbgrader's ``ExchangeCollect.check_owner`` switch (off: nbgrader's behaviour, as on Kubernetes
pods that all run as one uid, where the owner says nothing).
"""

from __future__ import annotations

import glob
import os
import pwd

from nbgrader.exchange.default.collect import ExchangeCollect


def owner(path: str) -> str:
    """The account that owns ``path`` itself (a link's own owner, not its target's)."""
    uid = os.lstat(path).st_uid
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


class OwnerCheckedCollect(ExchangeCollect):
    """nbgrader's collect, with each submission's owner checked before it can count for a student."""

    def init_src(self) -> None:
        super().init_src()  # every student's newest submission, whoever wrote it; re-chosen below
        if not self.check_owner:
            return
        student = self.coursedir.student_id or "*"
        pattern = os.path.join(self.inbound_path, f"{student}+{self.coursedir.assignment_id}+*")
        genuine: dict[str, list[dict]] = {}
        for path in glob.glob(pattern):
            record = self._path_to_record(path)
            wrote = owner(path)
            if os.path.islink(path) or wrote != record["username"]:
                self.log.error(
                    "Refused %s: it claims to be %s's submission but was written by %s; "
                    "it is not collected for anyone.",
                    path,
                    record["username"],
                    wrote,
                )
                continue
            genuine.setdefault(record["username"], []).append(record)
        chosen = []
        for records in genuine.values():
            newest_first = self._sort_by_timestamp(records)
            if self.duedate is not None and self.before_duedate:  # as nbgrader chooses
                on_time = [r for r in newest_first if r["timestamp"] <= self.duedate]
                chosen.append((on_time or newest_first)[0])
            else:
                chosen.append(newest_first[0])
        self.src_records = chosen
