from django.db import models


class Article(models.Model):
    slug = models.SlugField(unique=True)
    title = models.CharField(max_length=300)
    published = models.BooleanField(default=False)


class Draft(models.Model):
    body = models.TextField()
