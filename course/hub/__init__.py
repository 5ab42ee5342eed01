"""The class mode: a course taught on JupyterHub.

Learners work in their own servers; ``check()`` records each attempt in their own
progress store (:mod:`course.store`) and also sends it to the class service, a
JupyterHub-managed service named ``adlab`` (:mod:`course.hub.service`) that keeps every
learner's attempts, submitted notebooks and grades, per course (a course is a hub
group). Teachers read the class dashboard (:mod:`course.hub.dashboard`, statistics in
:mod:`course.hub.stats`); a grader collects submissions and posts grades back.

Who may do what is JupyterHub's role-based access control, with three custom scopes
that the hub's configuration declares, each optionally limited to one course by a
``!group=<course>`` filter:

``custom:adlab:post``
    post one's own attempts and submissions (learners);
``custom:adlab:read``
    read the dashboard, its exports, the attempts and the submissions (teachers);
``custom:adlab:grade``
    fetch submissions and post grades (the grader).
"""
