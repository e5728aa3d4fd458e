"""The controlled-substance ledger's pages (included by the root URL map; names are global)."""

from django.urls import path

from kapclinic.inventory import disposal_views, views

urlpatterns = [
    path("stock/", views.stock_page, name="stock"),
    path("stock/products/new/", views.new_product, name="stock-product-new"),
    path("stock/locations/new/", views.new_location, name="stock-location-new"),
    path("stock/lots/new/", views.new_lot, name="stock-lot-new"),
    path("stock/settings/", views.ledger_settings, name="stock-settings"),
    path("stock/receive/", views.receive, name="stock-receive"),
    path("stock/lots/<int:lot_id>/", views.lot_ledger, name="stock-lot"),
    path("stock/draws/<int:draw_id>/waste/", views.waste, name="stock-waste"),
    path("stock/lots/<int:lot_id>/transfer/", views.transfer, name="stock-transfer"),
    path("stock/lines/<int:ledger_line_id>/reverse/", views.reverse, name="stock-reverse"),
    path("stock/draws/", views.doses_to_draw, name="stock-draws"),
    path("stock/draws/new/", views.draw, name="stock-draw"),
    path("stock/lots/<int:lot_id>/count/", views.count, name="stock-count"),
    path("stock/discrepancies/", views.discrepancies, name="stock-discrepancies"),
    path("stock/counts/<int:stock_count_id>/resolve/", views.resolve, name="stock-resolve"),
    path("stock/lots/<int:lot_id>/destroy/", disposal_views.destroy, name="stock-destroy"),
    path("stock/lots/<int:lot_id>/loss/", disposal_views.report_loss, name="stock-loss"),
    path("stock/losses/", disposal_views.losses, name="stock-losses"),
    path("stock/disposals/<int:disposal_id>/notice/", disposal_views.notice, name="stock-notice"),
]

# the DEA records of a period: on a page (printable) and as CSV
from kapclinic.inventory import report_views  # noqa: E402

urlpatterns += [
    path("stock/reports/", report_views.reports_page, name="stock-reports"),
    path("stock/reports/record/", report_views.report_page, name="stock-report"),
    path("stock/reports/record.csv", report_views.report_csv, name="stock-report-csv"),
]
