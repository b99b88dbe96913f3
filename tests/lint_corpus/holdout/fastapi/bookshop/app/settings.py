from functools import lru_cache

from pydantic_settings import BaseSettings


class Settings(BaseSettings):
    redis_url: str = "redis://localhost:6379/0"
    database_url: str = "postgresql+psycopg://shop@localhost/shop"
    page_size: int = 20


@lru_cache  # trap: the documented FastAPI settings pattern; settings never change per request
def get_settings() -> Settings:
    return Settings()
