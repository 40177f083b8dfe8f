"""Sign-up, sign-in, sign-out, onboarding, and the viewer's own pages (history, favourites, interests)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from tagging.models import Tag, UserInterest
from tagging.selectors import onboarding_tag_groups, user_interest_list
from tagging.services import interests as interest_services
from videoapp.models import Profile
from videoapp.pages import selectors
from videoapp.pages.common import paginate, safe_next
from videoapp.selectors.social import favourite_video_list
from videoapp.services import accounts as account_services
from videoapp.throttling import (
    LoginFailureThrottle,
    LoginIpThrottle,
    RegisterThrottle,
    page_login_failed,
    page_throttle_wait,
)


def _form_errors_from(form: forms.Form, exc: ValidationError) -> None:
    """Put a service's ValidationError next to the matching fields (the rest at the top of the form)."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


class RegisterForm(forms.Form):
    username = forms.CharField(label=gettext_lazy("用户名"), max_length=150,
                               widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}))
    display_name = forms.CharField(label=gettext_lazy("昵称"), max_length=64, required=False,
                                   help_text=gettext_lazy("选填，显示在你的视频和评论旁边"))
    password = forms.CharField(label=gettext_lazy("密码"), strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
                               help_text=gettext_lazy("至少 8 个字符，不能全是数字，不能太常见"))
    password2 = forms.CharField(label=gettext_lazy("确认密码"), strip=False,
                                widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))

    def clean(self):
        data = super().clean()
        if data.get("password") and data.get("password2") and data["password"] != data["password2"]:
            self.add_error("password2", _("两次输入的密码不一致。"))
        return data


def _too_many_attempts(request: HttpRequest, template: str, form: forms.Form, wait: int,
                       extra: dict | None = None) -> HttpResponse:
    # ``form`` is unbound: validating the login form would check the password, which is what is being held off.
    messages.error(request, _("尝试次数过多，请 %(seconds)d 秒后再试。") % {"seconds": wait})
    response = render(request, template, {"form": form, **(extra or {})}, status=429)
    response["Retry-After"] = str(wait)
    return response


@require_http_methods(["GET", "POST"])
def register(request: HttpRequest) -> HttpResponse:
    form = RegisterForm(request.POST or None)
    if request.method == "POST":
        wait = page_throttle_wait(request, throttles=[RegisterThrottle])
        if wait is not None:
            return _too_many_attempts(request, "site/register.html", RegisterForm(), wait)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = account_services.user_register(
                username=data["username"], password=data["password"], display_name=data["display_name"]
            )
        except ValidationError as exc:
            _form_errors_from(form, exc)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect("site-onboarding")
    return render(request, "site/register.html", {"form": form}, status=400 if form.errors else 200)


class LoginForm(AuthenticationForm):
    error_messages = {
        "invalid_login": gettext_lazy("用户名或密码不正确。"),
        "inactive": gettext_lazy("该账号已停用。"),
    }


@require_http_methods(["GET", "POST"])
def login_page(request: HttpRequest) -> HttpResponse:
    form = LoginForm(request, data=request.POST or None)
    if request.method == "POST":
        wait = page_throttle_wait(request, throttles=[LoginIpThrottle, LoginFailureThrottle])
        if wait is not None:
            return _too_many_attempts(request, "site/login.html", LoginForm(request), wait,
                                      {"next": safe_next(request, "")})
    if request.method == "POST" and form.is_valid():
        login(request, form.get_user())
        return redirect(safe_next(request))
    if request.method == "POST" and form.errors:
        page_login_failed(request)
    return render(request, "site/login.html", {"form": form, "next": safe_next(request, "")},
                  status=400 if form.errors else 200)


@require_POST
def logout_page(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.success(request, _("你已退出登录。"))
    return redirect("/")


class OnboardingForm(forms.Form):
    tags = forms.MultipleChoiceField(label=gettext_lazy("感兴趣的标签"), required=False,
                                     widget=forms.CheckboxSelectMultiple)
    age_range = forms.ChoiceField(label=gettext_lazy("年龄段"), required=False,
                                  choices=[("", gettext_lazy("不透露"))] + list(Profile.AgeRange.choices))
    gender = forms.ChoiceField(label=gettext_lazy("性别"), required=False,
                               choices=[("", gettext_lazy("不透露"))] + list(Profile.Gender.choices))

    def __init__(self, *args, tag_names: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tags"].choices = [(name, name) for name in tag_names]


@login_required
@require_http_methods(["GET", "POST"])
def onboarding(request: HttpRequest) -> HttpResponse:
    groups = onboarding_tag_groups()
    names = [tag.name for group in groups for tag in group["tags"]]
    profile = account_services.profile_get_or_create(user=request.user)
    chosen = [ui.tag.name for ui in user_interest_list(user=request.user).filter(source=UserInterest.Source.ONBOARDING)]
    form = OnboardingForm(request.POST or None, tag_names=names,
                          initial={"tags": chosen, "age_range": profile.age_range, "gender": profile.gender})
    if request.method == "POST":
        if "skip" in request.POST:
            interest_services.onboarding_complete(user=request.user, skip=True)
            messages.info(request, _("已跳过。你可以随时在“我的兴趣”里选择感兴趣的标签。"))
            return redirect("/")
        if form.is_valid():
            try:
                interest_services.onboarding_complete(
                    user=request.user, tags=form.cleaned_data["tags"],
                    age_range=form.cleaned_data["age_range"], gender=form.cleaned_data["gender"],
                )
            except ValidationError as exc:
                _form_errors_from(form, exc)
            else:
                messages.success(request, _("好了！下面是根据你的兴趣推荐的视频。"))
                return redirect("/")
    selected = set(form["tags"].value() or [])
    return render(request, "site/onboarding.html", {"form": form, "groups": groups, "selected": selected},
                  status=400 if form.errors else 200)


@login_required
def my_history(request: HttpRequest) -> HttpResponse:
    videos = selectors.history_video_list(user=request.user)
    page = paginate(request, videos)
    return render(request, "site/my_list.html", {
        "page": page, "cards": [{**selectors.video_card(v), "when": v.last_viewed_at} for v in page],
        "kind": "history",
    })


@login_required
def my_favourites(request: HttpRequest) -> HttpResponse:
    page = paginate(request, favourite_video_list(user=request.user))
    return render(request, "site/my_list.html", {
        "page": page, "cards": [{**selectors.video_card(v), "when": v.favourited_at} for v in page],
        "kind": "favourites",
    })


class InterestsForm(forms.Form):
    tags = forms.MultipleChoiceField(label=gettext_lazy("常用标签"), required=False,
                                     widget=forms.CheckboxSelectMultiple)
    extra = forms.CharField(label=gettext_lazy("其他标签"), required=False, max_length=500,
                            help_text=gettext_lazy("用逗号或空格分隔，例如：猫, 旅行"))

    def __init__(self, *args, tag_names: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tags"].choices = [(name, name) for name in tag_names]

    def names(self) -> list[str]:
        import re

        extra = [n for n in re.split(r"[,，、\s]+", self.cleaned_data.get("extra") or "") if n]
        return list(dict.fromkeys([*self.cleaned_data.get("tags", []), *extra]))


@login_required
@require_http_methods(["GET", "POST"])
def my_interests(request: HttpRequest) -> HttpResponse:
    groups = onboarding_tag_groups()
    offered = [tag.name for group in groups for tag in group["tags"]]
    interests = list(user_interest_list(user=request.user))
    manual = [ui.tag.name for ui in interests if ui.source == UserInterest.Source.MANUAL]
    form = InterestsForm(request.POST or None, tag_names=offered,
                         initial={"tags": [n for n in manual if n in offered],
                                  "extra": ", ".join(n for n in manual if n not in offered)})
    if request.method == "POST" and form.is_valid():
        try:
            interest_services.user_interests_set(user=request.user, interests=[(n, 1.0) for n in form.names()])
        except ValidationError as exc:
            _form_errors_from(form, exc)
            if "extra" not in form.errors and form.non_field_errors():
                pass
        else:
            messages.success(request, _("兴趣已保存，推荐会随之更新。"))
            return redirect("site-my-interests")
    top = max((ui.weight for ui in interests), default=1.0) or 1.0
    return render(request, "site/my_interests.html", {
        "form": form, "groups": groups, "interests": interests, "top_weight": top,
        "selected": set(form["tags"].value() or []), "tag_count": Tag.objects.usable().count(),
    }, status=400 if form.errors else 200)
