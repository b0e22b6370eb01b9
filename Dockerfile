# The official Airflow image plus this provider (and the Celery extra), for docker-compose.yaml
# and for any executor that runs tasks in containers (KubernetesExecutor: use it as the pod image).
#
#   docker build -t airflow-provider-analytics:local .
FROM apache/airflow:3.3.2-python3.11

# The repository copy of the package (see .dockerignore); the image's user `airflow` builds it.
COPY --chown=airflow:0 pyproject.toml README.md /opt/analytics/
COPY --chown=airflow:0 plugins/ /opt/analytics/plugins/
WORKDIR /opt/analytics
# Pinning apache-airflow to the image's version keeps pip from up- or downgrading Airflow. The import
# check fails the build if the Celery provider and celery do not fit together (a worker could not start).
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" ".[celery]" \
    && python -c "import analytics_provider.dag_factory, airflow.providers.celery.executors.celery_executor_utils"

# The DAG file, so the image runs without a dags/ mount (docker-compose.yaml mounts it anyway).
COPY --chown=airflow:0 dags/ /opt/airflow/dags/
WORKDIR /opt/airflow
