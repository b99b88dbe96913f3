import itertools

from django.core.cache import cache
from django.http import JsonResponse
from django.views.decorators.http import require_POST
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from . import state as poll_state
from .models import Poll, Vote
from .tally import tally

_ballots = itertools.count(1)


def results_for(poll_id: int, _cache={}) -> dict:
    if poll_id not in _cache:
        _cache[poll_id] = {"poll": poll_id, "votes": Vote.objects.filter(poll_id=poll_id).count()}  # expect: SL106
    return _cache[poll_id]


class PollViewSet(viewsets.ViewSet):
    total_votes = 0
    ordering = ("-created",)  # trap: class attribute only read

    @classmethod
    def bump(cls) -> None:
        cls.total_votes += 1  # expect: SL105

    def list(self, request):
        return Response([{"id": p.id, "open": p.id in poll_state.OPEN_POLLS}
                         for p in Poll.objects.order_by(*self.ordering)])

    @action(detail=True, methods=["post"])
    def vote(self, request, pk=None):
        choice = int(request.data["choice"])
        Vote.objects.create(poll_id=pk, choice=choice, user=request.user)  # trap: SQL insert
        poll_state.VOTE_LOG.setdefault(int(pk), []).append(request.user.id)  # expect: SL104,SL102
        key = (int(pk), choice)
        tally().counts[key] = tally().counts.get(key, 0) + 1  # expect: SL117
        self.bump()
        return Response(results_for(int(pk)))

    @action(detail=True, methods=["post"])
    def open(self, request, pk=None):
        poll_state.OPEN_POLLS.add(int(pk))  # expect: SL104,SL102
        self.opened = int(pk)  # trap: per-request viewset instance
        return Response({"open": True})


@require_POST
def close_poll(request, pk):
    key = f"closing:{pk}"
    if cache.get(key):
        return JsonResponse({"status": "closing already"}, status=409)
    cache.set(key, True, 300)  # expect: SL118
    Poll.objects.filter(pk=pk).update(open=False)  # trap: SQL update
    return JsonResponse({"status": "closed"})


@require_POST
def issue_ballot(request):
    return JsonResponse({"ballot": next(_ballots)})  # expect: SL114
