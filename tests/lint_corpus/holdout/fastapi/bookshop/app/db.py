from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from .settings import get_settings

engine = create_engine(get_settings().database_url, pool_size=10)  # trap: connection pool at module level
SessionLocal = sessionmaker(bind=engine, autoflush=False)


def get_db():
    db = SessionLocal()
    try:
        yield db
    finally:
        db.close()
