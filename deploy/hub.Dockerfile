# The hub image for Zero to JupyterHub (deploy/z2jh-values.yaml, hub.image): the chart's
# hub image plus adlab, whose class service (python3 -m course.hub.service) the hub runs
# as a managed service in its pod. Build from the repository's root:
#
#   docker build -f deploy/hub.Dockerfile -t registry.example.org/adlab-hub:0.1.0 .
#
# The course's sources (solutions) are not installed: the package never holds them.
FROM quay.io/jupyterhub/k8s-hub:4.2.0

USER root
COPY pyproject.toml README.md LICENSE /tmp/adlab/
COPY adlab /tmp/adlab/adlab
COPY course /tmp/adlab/course
RUN rm -rf /tmp/adlab/course/sources \
 && python3 -m pip install --no-cache-dir "/tmp/adlab[hub]" \
 && rm -rf /tmp/adlab
USER ${NB_USER}
