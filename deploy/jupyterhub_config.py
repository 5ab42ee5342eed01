# JupyterHub configuration for adlab's class mode on one server: local users, or The
# Littlest JupyterHub (copy this file to /opt/tljh/config/jupyterhub_config.d/adlab.py).
#
#   pip install "adlab[hub] @ git+<this repository>"      # jupyterhub, the course
#   npm install -g configurable-http-proxy                  # (TLJH brings its own)
#   jupyterhub -f deploy/jupyterhub_config.py               # run from /srv/jupyterhub
#
# What it declares, all of it JupyterHub's own machinery:
#
# - the class service `adlab` (course/hub/service.py), managed by the hub: started,
#   restarted and given its API token and OAuth client by the hub, routed by the hub's
#   proxy at /services/adlab/, listed in the Services menu;
# - the custom scopes custom:adlab:post, custom:adlab:read and custom:adlab:grade;
# - per course (a hub group of learners, with groups <course>-teachers and
#   <course>-graders beside it), roles that bind the scopes, filtered to the course, to
#   those groups: learners post, teachers read, graders grade;
# - the scopes of each user server's own token (Spawner.server_token_scopes): the
#   `server` role's plus the class scopes, of which the hub grants each user's server only
#   those the user holds (a learner's server gets custom:adlab:post!group=<course>);
# - the servers' environment: ADLAB_SERVICE_URL (where check() and `course submit`
#   post) and ADLAB_COURSE (the user's course, when there is exactly one).
#
# Courses and their people come from a JSON file (ADLAB_COURSES, default courses.json
# beside this file), e.g.
#
#   {"physics101": {"learners": ["alice", "bob"], "teachers": ["teacher"],
#                   "graders": ["grader"]}}
#
# Groups are only added to at start (JupyterHub's load_groups); later changes can be made
# on the hub's admin page (Groups) without a restart, since the roles name the groups.
#
# Settings by environment variable, read when the hub starts:
#   ADLAB_COURSES          the courses file (see above)
#   ADLAB_SERVICE_PORT     the service's port on 127.0.0.1 (default 10101)
#   ADLAB_SERVICE_DIR      its working folder, where its SQLite file lives (default
#                          /srv/adlab; a local disk: SQLite's WAL does not work on NFS)
#   ADLAB_HUB_DB           an SQLAlchemy URL instead (e.g. PostgreSQL), passed on
#   ADLAB_HUB_MAX_SUBMISSION  the largest notebook accepted, in bytes (default 5000000)
#   ADLAB_ADMINS           comma-separated admin users of the hub
#
# The same declarations for Zero to JupyterHub are in deploy/z2jh-values.yaml.

import json
import os
import sys
from pathlib import Path

c = get_config()  # noqa: F821 - JupyterHub's config loader provides get_config

SERVICE = "adlab"
SCOPES = {
    "post": "custom:adlab:post",
    "read": "custom:adlab:read",
    "grade": "custom:adlab:grade",
}
# who gets which scope: the learners' group is the course itself
GROUP_OF = {"post": "{course}", "read": "{course}-teachers", "grade": "{course}-graders"}
PEOPLE_OF = {"post": "learners", "read": "teachers", "grade": "graders"}

here = Path(__file__).resolve().parent
courses_file = Path(os.environ.get("ADLAB_COURSES", here / "courses.json"))
COURSES = json.loads(courses_file.read_text(encoding="utf-8")) if courses_file.is_file() \
    else {}

port = int(os.environ.get("ADLAB_SERVICE_PORT", "10101"))
service_dir = Path(os.environ.get("ADLAB_SERVICE_DIR", "/srv/adlab"))
service_dir.mkdir(parents=True, exist_ok=True)
service_env = {"ADLAB_HUB_DB": os.environ.get(
    "ADLAB_HUB_DB", f"sqlite:///{service_dir / 'adlab-hub.sqlite'}")}
if os.environ.get("ADLAB_HUB_MAX_SUBMISSION"):
    service_env["ADLAB_HUB_MAX_SUBMISSION"] = os.environ["ADLAB_HUB_MAX_SUBMISSION"]

# Everything below adds to what other configuration files may have set (TLJH's own
# services and roles, say): append, extend and update, never replace.

# -- the service ---------------------------------------------------------------------
c.JupyterHub.services.append(
    {
        "name": SERVICE,
        "display": True,  # in the hub's Services menu: the teacher's dashboard
        "url": f"http://127.0.0.1:{port}",
        "command": [sys.executable, "-m", "course.hub.service"],
        "cwd": str(service_dir),
        "environment": service_env,
        # a teacher's browser logs in to the dashboard with the hub's OAuth; its token may
        # carry these scopes, those the teacher holds (JupyterHub intersects)
        "oauth_client_allowed_scopes": list(SCOPES.values()),
        "oauth_no_confirm": True,
    }
)

c.JupyterHub.custom_scopes.update({
    SCOPES["post"]: {"description": "Post one's own attempts and submissions to the adlab "
                                    "class service."},
    SCOPES["read"]: {"description": "Read the adlab class dashboard, its exports, attempts "
                                    "and submissions."},
    SCOPES["grade"]: {"description": "Fetch submissions from the adlab class service and "
                                     "post grades."},
})


# -- courses: groups and the roles bound to them --------------------------------------
def course_groups(courses: dict) -> dict:
    groups = {}
    for course, people in courses.items():
        for kind, group in GROUP_OF.items():
            groups[group.format(course=course)] = {
                "users": sorted(people.get(PEOPLE_OF[kind], []))}
    return groups


def course_roles(courses: dict) -> list:
    roles = []
    for course in courses:
        for kind, group in GROUP_OF.items():
            roles.append({
                "name": f"{course}-{PEOPLE_OF[kind]}",
                "description": f"{PEOPLE_OF[kind]} of {course} ({SCOPES[kind]})",
                "scopes": [f"{SCOPES[kind]}!group={course}",
                           f"access:services!service={SERVICE}"],
                "groups": [group.format(course=course)],
            })
    return roles


c.JupyterHub.load_groups.update(course_groups(COURSES))
c.JupyterHub.load_roles.extend(course_roles(COURSES))
everyone = {name for people in COURSES.values() for names in people.values() for name in names}
admins = {a.strip() for a in os.environ.get("ADLAB_ADMINS", "").split(",") if a.strip()}
if everyone:
    c.Authenticator.allowed_users.update(everyone | admins)
if admins:
    c.Authenticator.admin_users.update(admins)

# -- the user servers ------------------------------------------------------------------
# The token JupyterHub gives each server ($JUPYTERHUB_API_TOKEN, which its kernels and
# terminals inherit): the default `server` role's scopes plus the class scopes. The hub
# grants the subset the user holds, filters included, so alice's server may post to
# physics101 and nothing more; a teacher's server may read (for `course collect`).
c.Spawner.server_token_scopes = [
    "users:activity!user",
    "access:servers!server",
    f"access:services!service={SERVICE}",
    *SCOPES.values(),
]


def user_course(spawner) -> str:
    """The user's course, when the user is in exactly one course group."""
    mine = [g.name for g in spawner.user.groups if g.name in COURSES]
    return mine[0] if len(mine) == 1 else ""


c.Spawner.environment.update({
    # the service on this machine, straight to its port (the proxy's route to it is for
    # browsers); a hub behind another address can set ADLAB_SERVICE_URL itself
    "ADLAB_SERVICE_URL": os.environ.get(
        "ADLAB_SERVICE_URL", f"http://127.0.0.1:{port}/services/{SERVICE}/"),
    "ADLAB_COURSE": user_course,
})
