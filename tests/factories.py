"""factory_boy factories for the site's models."""

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from tagging.models import Tag, UserInterest, VideoTag
from videoapp.models import Comment, Event, Profile, Video


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "pass-word-123")

    @factory.post_generation
    def profile(obj, create, extracted, **kwargs):
        if create:
            obj.save()
            Profile.objects.get_or_create(user=obj, defaults={"display_name": obj.username, **kwargs})


class StaffFactory(UserFactory):
    is_staff = True
    is_superuser = True


class VideoFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Video

    owner = factory.SubFactory(UserFactory)
    title = factory.Sequence(lambda n: f"视频 {n}")
    description = "一段测试视频"
    status = Video.Status.PUBLISHED
    visibility = Video.Visibility.PUBLIC
    category = "美食"
    published_at = factory.LazyFunction(timezone.now)


class CommentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Comment

    video = factory.SubFactory(VideoFactory)
    author = factory.SubFactory(UserFactory)
    text = "好看"


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Event

    user = factory.SubFactory(UserFactory)
    video = factory.SubFactory(VideoFactory)
    kind = Event.Kind.VIEW
    watch_seconds = 10.0
    watch_ratio = 0.8
    created_at = factory.LazyFunction(timezone.now)


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"标签{n}")
    category = "美食"
    offered_in_onboarding = True


class VideoTagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = VideoTag

    video = factory.SubFactory(VideoFactory)
    tag = factory.SubFactory(TagFactory)
    source = VideoTag.Source.UPLOADER
    state = VideoTag.State.ACTIVE


class UserInterestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = UserInterest

    user = factory.SubFactory(UserFactory)
    tag = factory.SubFactory(TagFactory)
    weight = 1.0
    source = UserInterest.Source.ONBOARDING
