from django.apps import AppConfig


class TreatmentConfig(AppConfig):
    name = "kapclinic.treatment"
    label = "treatment"
    verbose_name = "Supervised dosing sessions"

    def ready(self) -> None:
        from kapclinic.treatment import registration

        registration.register_all()
        # the session pages: the room board in the menu of those who run sessions, and where
        # a nurse starts the day (before the patient list, order 10)
        from kapclinic.accounts.permissions import Action
        from kapclinic.accounts.roles import Role
        from kapclinic.platform import extensions as ext

        ext.register(ext.NavItem("room-board", "Room board", "room-board", Action.SESSION_RUN, order=15),
                     ext.Landing("room-board", "room-board", Action.SESSION_RUN, order=5,
                                 roles=frozenset({Role.NURSE})))
