"""Corpus cases drydock is known not to reproduce, with the reason; this list only shrinks.

Every entry is a case file name of shared/conformance/cases. tests/conformance/test_corpus.py marks these
xfail(strict=True): a case that starts passing fails the run until its entry is removed here.
"""
from __future__ import annotations

# The recording predates AWS's late-2024 change: since then MapStateExited follows MapRunStarted, before
# it followed MapRunSucceeded. drydock's engine follows the current behaviour (asl/runners.py, _run_map_run).
# Evidence (re-checked over the whole public corpus): all 23 Distributed Map recordings made from 21-09-2023
# to 19-08-2024 give MapStateExited previousEventId = MapRunSucceeded's id, all 14 made from 13-11-2024 to
# 05-03-2025 give MapRunStarted's id; no recording contradicts the split, and these cases differ in nothing else.
_MAP_RUN_SUCCEEDED_ERA = "recorded before late 2024: MapStateExited follows MapRunSucceeded; drydock (like AWS today) follows MapRunStarted"

# The recorder nested its placeholders in these 2024 callback recordings: the task token inside the SQS
# message body is recorded as "<<task_token>:1>" (extra_placeholders lists "<task_token>"), so compare.py
# needs an actual token of the form "<...:1>"; an AWS task token (or drydock's) never has that form, and the
# same token elsewhere in the case (taskSubmitted, the worker's answer) is not compared against it.
_NESTED_TOKEN = ("the recorder nested its placeholders: the task token is recorded as '<<task_token>:1>', "
                 "which no task token can match (compare.py reads it as '<' + anything + ':1>')")

KNOWN_FAILURES: dict[str, str] = {
    **{name: _MAP_RUN_SUCCEEDED_ERA for name in (
        "scenarios_test_base_scenarios.py_TestBaseScenarios_test_map_item_reader_csv_headers_decl_extra_fields__e9b7385bc7.json",
        "scenarios_test_base_scenarios.py_TestBaseScenarios_test_map_item_reader_csv_headers_first_row_typed_headers__22e3901243.json",
        "scenarios_test_base_scenarios.py_TestBaseScenarios_test_map_item_reader_csv_max_items_100000000__6a8000a1ba.json",
        "scenarios_test_base_scenarios.py_TestBaseScenarios_test_map_item_reader_csv_max_items_2__56bc84e76d.json",
        "scenarios_test_base_scenarios.py_TestBaseScenarios_test_map_item_reader_csv_max_items_paths_0__1047483bf5.json",
        "scenarios_test_base_scenarios.py_TestBaseScenarios_test_map_item_reader_csv_max_items_paths_100000000__e3c324ccd6.json",
        "scenarios_test_base_scenarios.py_TestBaseScenarios_test_map_item_reader_csv_max_items_paths_100000001__913686b5da.json",
        "scenarios_test_base_scenarios.py_TestBaseScenarios_test_map_item_reader_csv_max_items_paths_2__e51c6a7d7c.json",
        "scenarios_test_base_scenarios.py_TestBaseScenarios_test_map_state_config_distributed_item_selector__31c7778a40.json",
        "scenarios_test_base_scenarios.py_TestBaseScenarios_test_map_state_config_distributed_parameters__57a085af9c.json",
        "scenarios_test_base_scenarios.py_TestBaseScenarios_test_map_state_config_inline_item_selector__c682f690cb.json",
        "scenarios_test_base_scenarios.py_TestBaseScenarios_test_map_state_label__cb2108e2f1.json",
        "scenarios_test_base_scenarios.py_TestBaseScenarios_test_map_state_legacy_config_distributed__1143c0058d.json",
        "scenarios_test_base_scenarios.py_TestBaseScenarios_test_map_state_legacy_config_distributed_parameters__66c38b4ce2.json",
        "scenarios_test_base_scenarios.py_TestBaseScenarios_test_map_state_result_writer__520ae63b56.json",
        "scenarios_test_base_scenarios.py_TestBaseScenarios_test_map_state_tolerated_failure_count_path_0__923b689b4b.json",
        "scenarios_test_base_scenarios.py_TestBaseScenarios_test_map_state_tolerated_failure_count_path_1__0248798049.json",
        "scenarios_test_base_scenarios.py_TestBaseScenarios_test_map_state_tolerated_failure_percentage_path_0__9cd32fb5b1.json",
        "scenarios_test_base_scenarios.py_TestBaseScenarios_test_map_state_tolerated_failure_percentage_path_1.1__d97ee51ed3.json",
        "scenarios_test_base_scenarios.py_TestBaseScenarios_test_map_state_tolerated_failure_percentage_path_100__cc2b7be21d.json",
        "scenarios_test_base_scenarios.py_TestBaseScenarios_test_map_state_tolerated_failure_percentage_path_1__4719ad901c.json",
        "scenarios_test_base_scenarios.py_TestBaseScenarios_test_map_state_tolerated_failure_values_count_literal__b47126f129.json",
        "scenarios_test_base_scenarios.py_TestBaseScenarios_test_map_state_tolerated_failure_values_percentage_literal__919746ea73.json",
    )},
    "callback_test_callback.py_TestCallback_test_sqs_wait_for_task_tok_with_heartbeat__7deed63792.json":
        _NESTED_TOKEN,
    "callback_test_callback.py_TestCallback_test_sqs_wait_for_task_token_timeout__8779dd4d30.json":
        _NESTED_TOKEN,
    "error_handling_test_task_service_sqs.py_TestTaskServiceSqs_test_sqs_failure_in_wait_for_task_tok__3b13c46cd7.json":
        "the recorder left this SQS answer's Date header unnormalised ('Thu, 18 Apr 2024 06:27:01 GMT', three "
        "seconds before meta.recorded_date 18-04-2024 06:27:04): the wall-clock time of the recording, where every "
        "other recording shows the token 'date'; it is the only difference left (request id, lengths and the "
        "other headers match)",
    "error_handling_test_task_service_sqs.py_TestTaskServiceSqs_test_send_message_no_such_queue__195839df96.json":
        "the cause quotes the recording's random queue host (no-such-queue-73e08fde): the recorder replaced the "
        "URL by <no_such_sqs_queue_url> in the parameters but not the host inside the cause, and the case's "
        "`names` entry makes the host 8 random hex digits, so only the recorded value itself would match",
    "error_handling_test_task_service_sqs.py_TestTaskServiceSqs_test_send_message_no_such_queue_no_catch__60251af529.json":
        "the cause quotes the recording's random queue host (no-such-queue-fa484d45): the recorder replaced the "
        "URL by <no_such_sqs_queue_url> in the parameters but not the host inside the cause, and the case's "
        "`names` entry makes the host 8 random hex digits, so only the recorded value itself would match",
    "local_mocking_test_base_scenarios.py_TestBaseScenarios_test_dynamodb_put_get_item__e602382f54.json":
        "DynamoDB spells the request-id header of GetItem either way: this October 2025 recording has "
        "'x-amzn-RequestId', the two November 2025 ones (services_test_dynamodb_*GET_ITEM) 'x-amzn-requestid', "
        "which drydock follows; the GetItem requests are identical (TableName, Key id1), so AWS changed between "
        "28-10-2025 and 06-11-2025 (the lowercase header also moved, second after Server in AllHttpHeaders)",
    "timeouts_test_timeouts.py_TestTimeouts_test_service_lambda_map_timeout__0204f10077.json":
        "concurrent inline Map iterations: AWS started all four iterations before any entered its Task, and its "
        "task timers fired in the order 0, 2, 1, 3 (TaskTimedOut previousEventIds 16, 18, 17, 19); iterations 1-3 "
        "were then aborted (TaskStateAborted + MapIterationAborted) although their timeouts were already recorded: "
        "a race of four timers due at the same instant, which no deterministic scheduler reproduces",
}
