# One image for the four services; the command chooses which (`python -m services.<name>`).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY shared shared
COPY services services
COPY cityline cityline
COPY benchmarks benchmarks
RUN pip install --no-cache-dir -c constraints.txt .
ENV CITYLINE_LOG_LEVEL=INFO
