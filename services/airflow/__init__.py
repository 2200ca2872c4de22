"""The Airflow REST client, its API dialects and models, and its transports (HTTP, MWAA)."""
