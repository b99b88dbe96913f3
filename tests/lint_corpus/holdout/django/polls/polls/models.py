from django.db import models


class Poll(models.Model):
    question = models.CharField(max_length=200)
    open = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)


class Vote(models.Model):
    poll = models.ForeignKey(Poll, on_delete=models.CASCADE)
    choice = models.IntegerField()
    user = models.ForeignKey("auth.User", on_delete=models.CASCADE)
