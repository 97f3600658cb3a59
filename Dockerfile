FROM python:3.11-slim
WORKDIR /app
# psql, for `fartkoll db shell`
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY fartkoll ./fartkoll
COPY collector ./collector
COPY planner ./planner
COPY api ./api
COPY sql ./sql
RUN pip install --no-cache-dir .
EXPOSE 8080
CMD ["sh", "-c", "fartkoll db migrate && fartkoll serve --host 0.0.0.0 --port 8080"]
