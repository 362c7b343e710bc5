FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml requirements.lock ./
# Every dependency pinned with hashes (./scripts/lock), then the project itself without resolving again.
RUN pip install --no-cache-dir -r requirements.lock && pip install --no-cache-dir --no-deps .
COPY . .
RUN python manage.py collectstatic --noinput
RUN useradd --create-home ilert && mkdir -p /app/var/metrics && chown -R ilert /app/var
USER ilert
EXPOSE 8000
CMD ["gunicorn", "ilert.wsgi", "--bind=0.0.0.0:8000", "--workers=3", "--threads=4"]
