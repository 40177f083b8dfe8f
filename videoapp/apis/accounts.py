"""API: registration, session login/logout, API tokens, the viewer's own profile and public profiles."""

from __future__ import annotations

from django.contrib.auth import authenticate, login, logout
from django.middleware.csrf import get_token
from django.urls import path
from django.utils.decorators import method_decorator
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import ensure_csrf_cookie
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from videoapp.models import Profile
from videoapp.selectors.accounts import user_get_public
from videoapp.services.accounts import (
    auth_token_delete,
    auth_token_get_or_create,
    profile_get_or_create,
    profile_update,
    user_register,
)
from videoapp.throttling import LoginFailureThrottle, LoginIpThrottle, RegisterThrottle

# The API's one error shape (see videoapp/apis/errors.py), for the schema.
ErrorOutput = inline_serializer(
    "ErrorDetail",
    fields={
        "detail": serializers.CharField(),
        "errors": serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False),
    },
)


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    descriptions = {
        400: gettext_lazy("输入无效"),
        401: gettext_lazy("未登录"),
        403: gettext_lazy("未登录或无权限"),
        404: gettext_lazy("不存在"),
        429: gettext_lazy("请求过于频繁（见 Retry-After）"),
    }
    return {code: OpenApiResponse(ErrorOutput, description=str(descriptions[code])) for code in codes}


def _choice_error(choices) -> dict[str, str]:
    # DRF formats the message with ``input``; the choices are appended after that placeholder.
    return {"invalid_choice": format_lazy("{}{}", gettext_lazy("“{input}”不是有效的选项，可选："), "、".join(choices))}


def avatar_url(profile: Profile | None) -> str | None:
    return profile.avatar.url if profile is not None and profile.avatar else None


def user_profile_or_none(user) -> Profile | None:
    try:
        return user.profile
    except Profile.DoesNotExist:
        return None


class MeOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="user.pk")
    username = serializers.CharField(source="user.username")
    # A CharField in the output: the address is optional, and "" is no valid "format: email" in the schema.
    email = serializers.CharField(source="user.email", help_text="e-mail address, or empty")
    is_staff = serializers.BooleanField(source="user.is_staff")
    date_joined = serializers.DateTimeField(source="user.date_joined")
    display_name = serializers.CharField()
    avatar = serializers.SerializerMethodField()
    bio = serializers.CharField()
    age_range = serializers.ChoiceField(choices=Profile.AgeRange.choices, allow_blank=True)
    gender = serializers.ChoiceField(choices=Profile.Gender.choices, allow_blank=True)
    onboarding_state = serializers.ChoiceField(choices=Profile.Onboarding.choices)

    def get_avatar(self, profile: Profile) -> str | None:
        return avatar_url(profile)


class CsrfApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        tags=["auth"],
        summary="Get a CSRF token (also set as the csrftoken cookie) for session-authenticated writes",
        responses={200: inline_serializer("CsrfToken", fields={"csrf_token": serializers.CharField()})},
    )
    @method_decorator(ensure_csrf_cookie)
    def get(self, request):
        return Response({"csrf_token": get_token(request._request)})


class RegisterApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [RegisterThrottle]

    @extend_schema_serializer(component_name="RegisterInput")
    class InputSerializer(serializers.Serializer):
        username = serializers.CharField(max_length=150)
        password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)
        email = serializers.EmailField(required=False, allow_blank=True, default="")
        display_name = serializers.CharField(required=False, allow_blank=True, max_length=64, default="")

    @extend_schema(
        tags=["auth"],
        summary="Register; logs the new user in with a session",
        request=InputSerializer,
        responses={201: MeOutputSerializer, **error_responses(400, 429)},
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = user_register(**serializer.validated_data)
        login(request._request, user, backend="django.contrib.auth.backends.ModelBackend")
        return Response(MeOutputSerializer(user.profile).data, status=status.HTTP_201_CREATED)


class _CredentialsSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)


def _authenticate_or_fail(view: APIView, request):
    """The user for the posted credentials; a wrong password is counted by the failure throttle."""
    serializer = _CredentialsSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    user = authenticate(request._request, **serializer.validated_data)
    if user is None:
        LoginFailureThrottle().record_failure(request, view)
        raise ValidationError({"non_field_errors": [_("用户名或密码错误。")]})
    return user


class LoginApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [LoginIpThrottle, LoginFailureThrottle]

    @extend_schema(
        tags=["auth"],
        summary="Log in with a session (sets the session cookie)",
        request=_CredentialsSerializer,
        responses={200: MeOutputSerializer, **error_responses(400, 429)},
    )
    def post(self, request):
        user = _authenticate_or_fail(self, request)
        login(request._request, user)
        return Response(MeOutputSerializer(profile_get_or_create(user=user)).data)


class LogoutApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=["auth"],
        summary="Log out: ends the session, and revokes the API token when called with one",
        request=None,
        responses={204: None, **error_responses(403)},
    )
    def post(self, request):
        if request.auth is not None and hasattr(request.auth, "key"):
            auth_token_delete(user=request.user)
        logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TokenApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [LoginIpThrottle, LoginFailureThrottle]

    @extend_schema(
        tags=["auth"],
        summary="Get the API token for 'Authorization: Token <key>'",
        request=_CredentialsSerializer,
        responses={
            200: inline_serializer("AuthToken", fields={"token": serializers.CharField()}),
            **error_responses(400, 429),
        },
    )
    def post(self, request):
        user = _authenticate_or_fail(self, request)
        return Response({"token": auth_token_get_or_create(user=user).key})


class MeApi(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema_serializer(component_name="ProfileUpdateInput")
    class InputSerializer(serializers.Serializer):
        display_name = serializers.CharField(required=False, allow_blank=True, max_length=64)
        bio = serializers.CharField(required=False, allow_blank=True, max_length=280)
        age_range = serializers.ChoiceField(
            choices=Profile.AgeRange.choices, required=False, allow_blank=True,
            error_messages=_choice_error(Profile.AgeRange.values),
        )
        gender = serializers.ChoiceField(
            choices=Profile.Gender.choices, required=False, allow_blank=True,
            error_messages=_choice_error(Profile.Gender.values),
        )
        avatar = serializers.FileField(required=False, allow_null=True, help_text="JPEG/PNG/GIF/WebP, <= 5 MB")

    @extend_schema(tags=["me"], summary="My profile", responses={200: MeOutputSerializer, **error_responses(403)})
    def get(self, request):
        return Response(MeOutputSerializer(profile_get_or_create(user=request.user)).data)

    @extend_schema(
        tags=["me"],
        summary="Edit my profile (JSON, or multipart with an avatar; avatar=null removes it)",
        request={"application/json": InputSerializer, "multipart/form-data": InputSerializer},
        responses={200: MeOutputSerializer, **error_responses(400, 403)},
    )
    def patch(self, request):
        serializer = self.InputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        profile = profile_update(profile=profile_get_or_create(user=request.user), data=serializer.validated_data)
        return Response(MeOutputSerializer(profile).data)


class UserPublicApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema_serializer(component_name="PublicProfile")
    class OutputSerializer(serializers.Serializer):
        username = serializers.CharField()
        display_name = serializers.SerializerMethodField()
        avatar = serializers.SerializerMethodField()
        bio = serializers.SerializerMethodField()
        date_joined = serializers.DateTimeField()
        video_count = serializers.IntegerField()
        follower_count = serializers.IntegerField()
        following_count = serializers.IntegerField()
        viewer_follows = serializers.BooleanField()

        def get_display_name(self, user) -> str:
            profile = user_profile_or_none(user)
            return (profile.display_name if profile else "") or user.username

        def get_avatar(self, user) -> str | None:
            return avatar_url(user_profile_or_none(user))

        def get_bio(self, user) -> str:
            profile = user_profile_or_none(user)
            return profile.bio if profile else ""

    @extend_schema(
        tags=["users"],
        summary="A user's public profile with video, follower and following counts",
        responses={200: OutputSerializer, **error_responses(404)},
    )
    def get(self, request, username: str):
        user = user_get_public(username=username, viewer=request.user)
        return Response(self.OutputSerializer(user).data)


urlpatterns = [
    path("auth/csrf", CsrfApi.as_view(), name="auth-csrf"),
    path("auth/register", RegisterApi.as_view(), name="auth-register"),
    path("auth/login", LoginApi.as_view(), name="auth-login"),
    path("auth/logout", LogoutApi.as_view(), name="auth-logout"),
    path("auth/token", TokenApi.as_view(), name="auth-token"),
    path("me", MeApi.as_view(), name="me"),
    path("users/<str:username>", UserPublicApi.as_view(), name="user-public"),
]
