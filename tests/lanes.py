"""The fast lane: which tests are slow (``pytest -m "not slow"`` leaves them out).

A test is slow when it takes 2 s or more on the 2-core CI machine (measured with
``pytest --durations=0`` while other suites ran): real browsers, several processes,
kills and restarts of servers, schemathesis, thousands of clicks through the whole
pipeline. Listed here, in one place, rather than decorated in each file, so that the
lane is reviewed as one list; tests/test_lanes.py checks that every entry names a test
that exists. The whole suite (plain ``pytest``) runs them all.
"""

from __future__ import annotations

# Modules whose every test is slow (each starts browsers, processes or servers of its own).
SLOW_MODULES = frozenset(
    {
        "tests/conversions/test_money_concurrency.py",
        "tests/e2e/test_browsers.py",
        "tests/e2e/test_caps_processes.py",
        "tests/e2e/test_cli_up.py",
        "tests/e2e/test_click_to_report.py",
        "tests/e2e/test_cluster.py",
        "tests/e2e/test_granian.py",
        "tests/e2e/test_location_in_browsers.py",
        "tests/ingest/test_crash.py",
        "tests/ingest/test_restarts.py",
        "tests/redirect/test_outage.py",
        "tests/service/test_ingest_workers.py",
        "tests/tracker/api/test_schemathesis.py",
    }
)

# Single tests of otherwise fast modules.
SLOW_TESTS = frozenset(
    {
        "tests/conversions/test_browser.py::test_browser_conversion_is_attributed_pending_and_the_postback_approves_it",
        "tests/conversions/test_concurrency.py::test_two_hundred_parallel_postbacks_against_a_cap_of_one_hundred",
        "tests/conversions/test_ground_truth.py::test_ground_truth",
        "tests/conversions/test_intake_holes.py::test_the_pixel_is_off_by_default_pending_bounded_and_never_unsigned",
        "tests/conversions/test_money_report_currency.py::test_an_offer_whose_currency_changed_is_split_at_the_change",
        "tests/conversions/test_money_status.py::test_a_full_cap_keeps_a_conversion_held_whatever_the_merchant_sends",
        "tests/conversions/test_money_terms.py::test_offer_money_changes_from_a_date_and_old_conversions_keep_their_price",
        "tests/conversions/test_rules_e2e.py::test_cpm_and_cpc_reach_the_report_end_to_end",
        "tests/conversions/test_rules_e2e.py::test_fraud_rules_flag_in_shadow_and_reject_when_enforced",
        "tests/e2e/test_archive_stops_clicks.py::test_archived_objects_stop_taking_clicks_within_two_seconds",
        "tests/e2e/test_bad_input.py::test_invalid_fields_are_422_naming_the_field",
        "tests/e2e/test_click_fields_everywhere.py::test_sub_ids_and_params_reach_reads_exports_and_reports",
        "tests/e2e/test_observability.py::test_every_metric_the_dashboard_and_rules_name_is_exported_by_a_running_tracker",
        "tests/e2e/test_reverse_proxy.py::test_clients_behind_nginx_keep_their_own_addresses",
        "tests/e2e/test_traffic_counts.py::test_known_agents_read_back_and_only_humans_take_unique_slots",
        "tests/ingest/test_cluster_worker.py::test_health_check_with_another_node_away",
        "tests/ingest/test_cluster_worker.py::test_shards_of_a_node_away_are_skipped_the_rest_read",
        "tests/ingest/test_cluster_worker.py::test_six_shards_on_three_masters",
        "tests/ingest/test_errors.py::test_a_write_racing_a_disconnect_is_waited_out",
        "tests/ingest/test_partner_postback_faults.py::test_a_partner_that_never_answers_does_not_delay_another",
        "tests/ingest/test_partner_postback_faults.py::test_a_replay_while_a_failing_attempt_is_out_sends_once_more_at_once",
        "tests/ingest/test_partner_postback_faults.py::test_a_replay_while_the_attempt_is_out_never_sends_twice",
        "tests/ingest/test_partner_postbacks.py::test_never_answers_dead_lettered_then_replayed",
        "tests/ingest/test_partner_postbacks.py::test_thousand_conversions_thousand_deliveries_with_macros",
        "tests/redirect/test_landers.py::test_landers_split_by_weight_stick_and_change_live",
        "tests/redirect/test_landers.py::test_route_and_lander_reach_reports_the_split_test_and_partner_postbacks",
        "tests/redirect/test_routing.py::test_a_visitor_keeps_its_route_and_sticky_hours_zero_does_not",
        "tests/redirect/test_routing.py::test_priority_then_weight_and_the_next_tier_for_the_others",
        "tests/service/test_serve_workers.py::test_two_workers_serve_share_config_and_metrics_log_json_and_drain_without_loss",
        "tests/service/test_serve_workers.py::test_up_with_two_workers_runs_an_ingest_consumer_in_each",
        "tests/tracker/api/test_tenant_matrix.py::test_tenant_isolation_matrix",
        "tests/tracker/test_api_limits_keys_exports.py::test_exports_stream_every_row_scoped_to_the_tenant",
        "tests/tracker/test_redis_cluster_client.py::test_six_shards_two_per_master",
        "tests/tracker/test_reports.py::test_reports_match_the_ground_truth",
        "tests/tracker/test_reports.py::test_roles_see_only_their_rows_and_fields",
        "tests/tracker/test_reports.py::test_rollup_and_raw_agree_exactly",
        "tests/tracker/test_reports.py::test_sort_limit_and_totals",
        "tests/tracker/test_reports_days.py::test_a_zone_registered_later_is_backfilled_and_written_by_every_writer",
        "tests/tracker/test_reports_days.py::test_registering_waits_for_writers_that_read_the_old_phases",
        "tests/tracker/test_reports_dimensions.py::test_advertiser_reports_read_the_rollup_exactly",
        "tests/tracker/test_reports_dimensions.py::test_amounts_in_several_currencies_are_never_added",
        "tests/tracker/test_reports_dimensions.py::test_any_five_dimensions_with_filters_in_any_zone",
        "tests/tracker/test_reports_dimensions.py::test_every_dimension_and_its_filter_equal_the_raw_rows",
        "tests/tracker/test_reports_parts.py::test_both_parts_read_one_snapshot",
        "tests/tracker/test_reports_parts.py::test_parts_answer_what_one_query_answers",
        "tests/tracker/test_reports_parts.py::test_without_an_idle_connection_one_query_answers",
        "tests/tracker/test_reports_rates.py::test_a_rate_beyond_int4_units_prices_raw_rows_exactly",
        "tests/tracker/test_reports_rates.py::test_a_rate_change_keeps_past_money_and_prices_new_clicks",
        "tests/tracker/test_reports_status_money.py::test_the_back_fill_equals_what_the_writers_kept",
    }
)
