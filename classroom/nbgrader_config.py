"""nbgrader's exchange for a class on JupyterHub: every server reads this file (docs/classroom.md).

One server: copy it to /etc/jupyter/nbgrader_config.py. Kubernetes: z2jh-values.yaml mounts the same
settings there in every single-user pod. The instructor's own course folder is set in their
~/.jupyter/nbgrader_config.py (c.CourseDirectory.root), not here.
"""

c = get_config()  # noqa: F821 (nbgrader and Jupyter define it when they read this file)

# The same id as `course nbgrader --course-id` (default: course), so that a student's Assignments tab
# lists the instructor's releases.
c.CourseDirectory.course_id = "course"

# Where releases wait for students and submissions wait for the instructor: one folder every account can
# write to, with the sticky bit (chmod 1777) so that no student can move the course's folder aside. Set
# here because nbgrader's own default is /usr/local/share/nbgrader/exchange (docs/classroom.md).
c.Exchange.root = "/srv/nbgrader/exchange"

# nbgrader's collect only warns when alice's account files a submission as bob's (`nbgrader submit
# --student bob`) and then takes it as bob's newest; the course's collect refuses every submission whose
# owner is not the student it names. It needs each student to be a system account (one server); on
# Kubernetes every pod is uid 1000, so z2jh-values.yaml uses ngshare, which knows the hub's user instead.
c.ExchangeFactory.collect = "course_tools.exchange.OwnerCheckedCollect"
