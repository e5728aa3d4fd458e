from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "kapclinic.patients"
    label = "patients"
    verbose_name = "Patient registry"

    def ready(self) -> None:
        from kapclinic.accounts.permissions import Action
        from kapclinic.patients import api, care_team
        from kapclinic.platform import extensions as ext

        ext.register(
            ext.NavItem("patients", "Patients", "patient-list", Action.PATIENT_LIST, order=10),
            ext.Landing("patients", "patient-list", Action.PATIENT_LIST, order=10),
            ext.ApiRouter("patients", "/patients", api.router, order=10),
            # the patient's assigned prescriber and therapist are on the care team
            ext.CareTeamSource("assigned", "Assigned prescriber or therapist", care_team.assigned,
                               order=10),
        )
