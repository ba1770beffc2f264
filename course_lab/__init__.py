"""What the course's study notebooks import: the welcome report, the comparisons, the claims and the explorer.

The task notebooks import only :mod:`course_utils`. The others (``00_welcome``, ``04_compare``,
``05_claims``, ``06_explore``) read what the task notebooks recorded and show it side by side:

- :mod:`course_lab.environment`: the welcome notebook's report on this machine;
- :mod:`course_lab.records`, :mod:`course_lab.tables`, :mod:`course_lab.figures` and :mod:`course_lab.compare`:
  the runs' records, their tables and charts, and the tagged cells shown side by side;
- :mod:`course_lab.explore`: the explore notebook's widgets over every model's predictions;
- :mod:`course_lab.claims`: the experiments behind the blog claims, each framework in a worker process.

Importing this package imports no framework; :mod:`course_tools` (the maintainers' CLI) builds on it,
never the reverse.
"""
