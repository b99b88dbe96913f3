from django.urls import path

from articles import views

urlpatterns = [
    path("articles/<slug:slug>/", views.ArticleView.as_view()),
    path("articles/<slug:slug>/like/", views.like),
    path("articles/<slug:slug>/publish/", views.publish),
    path("drafts/<int:draft_id>/autosave/", views.autosave),
    path("digest/send/", views.send_digest),
    path("today/", views.today),
    path("flags/", views.flags),
]
