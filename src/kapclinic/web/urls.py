"""The web app's pages (included by the root URL map; names are global)."""

from django.urls import path

from kapclinic.web import audit_log, self_service, tokens, two_factor, users
from kapclinic.web import portal as portal_views
from kapclinic.web import views as web_views

urlpatterns = [
    path("", web_views.home, name="home"),
    path("clinic/settings/", web_views.clinic_settings, name="settings"),
    path("audit/", audit_log.audit_log, name="audit-log"),
    path("login/", web_views.login, name="login"),
    path("logout/", web_views.logout, name="logout"),
    path("login/verify/", two_factor.verify, name="mfa-verify"),
    path("account/two-factor/", two_factor.enrol, name="mfa-enrol"),
    path("account/two-factor/off/", two_factor.remove, name="mfa-remove"),
    path("clinic/users/", users.user_list, name="users"),
    path("clinic/users/add/", users.add_user, name="user-add"),
    path("clinic/users/<int:membership_id>/role/", users.change_role, name="user-role"),
    path("clinic/users/<int:membership_id>/end/", users.end_access, name="user-end"),
    path("clinic/users/<int:membership_id>/restore/", users.restore_access, name="user-restore"),
    path("clinic/users/<int:membership_id>/password-link/", users.new_password_link,
         name="user-password-link"),
    path("clinic/users/<int:membership_id>/two-factor-reset/", users.reset_authenticator,
         name="user-mfa-reset"),
    path("account/set-password/<uidb64>/<token>/", users.set_password, name="set-password"),
    path("account/password/", self_service.password_change, name="password-change"),
    path("account/forgot-password/", self_service.forgot_password, name="password-forgot"),
    path("patients/<int:patient_id>/portal-login/", self_service.portal_login,
         name="portal-login"),
    path("clinic/security/", two_factor.security, name="security-settings"),
    path("account/tokens/", tokens.token_list, name="tokens"),
    path("account/tokens/revoke/", tokens.token_revoke, name="token-revoke"),
    path("clinic/switch/", web_views.switch_clinic, name="switch-clinic"),
    path("account/invitations/answer/", web_views.answer_invitation, name="invitation-answer"),
    path("healthz", web_views.healthz, name="healthz"),
    path("portal/", portal_views.portal, name="portal"),
]
