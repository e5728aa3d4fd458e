from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "kapclinic.inventory"
    label = "inventory"
    verbose_name = "Controlled-substance ledger"

    def ready(self) -> None:
        from kapclinic.accounts.permissions import Action
        from kapclinic.inventory import actions, demo_data, disposals, hooks, stock
        from kapclinic.platform import extensions as ext

        def expired_badge(membership) -> int:
            from django.utils import timezone

            today = timezone.localdate(timezone.now(), membership.clinic.zone)
            return (stock.expired_with_stock(membership.clinic_id, today)
                    + actions.open_discrepancies(membership.clinic_id).count()
                    + disposals.awaiting_notice(membership.clinic_id).count())

        from kapclinic.alerts import sources as alert_sources
        from kapclinic.inventory import alerting

        # a count that differs and a theft or loss: those who handle the stock answer them
        alert_sources.register_source(alerting.SOURCE, "Controlled-substance stock",
                                      alerting.TEMPLATE, alerting.load,
                                      acknowledge_action=Action.STOCK_COUNT)
        ext.register(
            ext.NavItem("stock", "Stock", "stock", Action.STOCK_VIEW, order=80, badge=expired_badge),
            # the admin starts from the discrepancies while one awaits their resolution
            ext.Landing("stock-discrepancies", "stock-discrepancies", Action.STOCK_RESOLVE, order=3,
                        wanted=lambda m: actions.open_discrepancies(m.clinic_id).exists()),
            # each dose given is drawn from the lot recorded with it, in the dose's transaction
            ext.DoseHook("inventory", hooks.dose_given, order=50),
            # before the treatment loader (15) gives doses, so the demo's stock is there
            ext.DemoLoader("inventory", demo_data.load, order=12),
            # after the treatment loader, the nurse draws the demo's doses from that stock
            ext.DemoLoader("inventory-draws", demo_data.draw_doses, order=16),
        )
