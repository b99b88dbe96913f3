import psycopg
import pytest


@pytest.mark.postgres
def test_private_postgres_answers(postgres_url):
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("select 1 + 1").fetchone() == (2,)
