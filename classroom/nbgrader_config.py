"""nbgrader's exchange for a class on JupyterHub: every server reads this file (docs/classroom.md).

One server: copy it to /etc/jupyter/nbgrader_config.py. Kubernetes: z2jh-values.yaml mounts the same
settings there in every single-user pod. The instructor's own course folder is set in their
~/.jupyter/nbgrader_config.py (c.CourseDirectory.root), not here.
"""

c = get_config()  # noqa: F821 (nbgrader and Jupyter define it when they read this file)

# The same id as `course nbgrader --course-id` (default: course), so that a student's Assignments tab
# lists the instructor's releases.
c.CourseDirectory.course_id = "course"

# Where releases wait for students and submissions wait for the instructor: one folder every user can
# write to (chmod 777, as nbgrader's docs say); on Kubernetes, a ReadWriteMany volume mounted here.
c.Exchange.root = "/srv/nbgrader/exchange"
