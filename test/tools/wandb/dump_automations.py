"""Writes, as JSON, W&B automations and integrations built with the public `wandb` SDK, offline.

For every event, scope, filter operator and action `wandb.automations` can build, one case holds:
  - "new":     NewAutomation(...).model_dump_json(): what `event >> action` gives (input shape)
  - "graphql": the Trigger object as the W&B GraphQL API returns it (checked by the SDK's parser)
  - "saved":   Automation.model_validate(graphql).model_dump_json(): what `api.automations()` gives
Integrations ("Webhook"/"Slack") are dumped likewise. Nothing touches the network.
Usage: python dump_automations.py OUT.json   (run by test/helpers/wandb-sdk.ts)
"""

import json
import sys

import wandb
from wandb.automations import (
    ArtifactEvent,
    Automation,
    DoNothing,
    MetricChangeFilter,
    MetricThresholdFilter,
    MetricZScoreFilter,
    OnAddArtifactAlias,
    OnAddArtifactTag,
    OnAddCollectionTag,
    OnCreateArtifact,
    OnLinkArtifact,
    OnRemoveArtifactTag,
    OnRemoveCollectionTag,
    OnRunMetric,
    OnRunState,
    OnUnlinkArtifact,
    OrgScope,
    ProjectScope,
    RegistryScope,
    RunEvent,
    SendNotification,
    SendPromptToAria,
    SendWebhook,
    SlackIntegration,
    TeamScope,
    WebhookIntegration,
)
from wandb.automations._generated import TriggerFields
from wandb.automations.scopes import _ArtifactPortfolioScope, _ArtifactSequenceScope

WEBHOOK_ID = "SW50ZWdyYXRpb246MTAx"  # Integration:101
SLACK_ID = "SW50ZWdyYXRpb246MTAy"  # Integration:102

SCOPES = {
    "portfolio": _ArtifactPortfolioScope(id="QXJ0aWZhY3RQb3J0Zm9saW86Nw==", name="churn-classifier"),
    "sequence": _ArtifactSequenceScope(id="QXJ0aWZhY3RTZXF1ZW5jZTo4", name="churn-dataset"),
    "project": ProjectScope(id="UHJvamVjdDo5", name="churn"),
    "registry": RegistryScope(id="UHJvamVjdDoxMA==", full_name="wandb-registry-model"),
    "team": TeamScope(id="RW50aXR5OjEx", name="acme"),
    "org": OrgScope(id="RW50aXR5OjEy", name="acme-org"),
}

alias, tag = ArtifactEvent.alias, ArtifactEvent.tag
FILTERS = {
    "none": None,
    "eq": alias.eq("production"),
    "ne": alias.ne("staging"),
    "gt": tag.gt("v1"),
    "gte": tag.gte("v1"),
    "lt": tag.lt("v9"),
    "lte": tag.lte("v9"),
    "in": alias.in_(["production", "prod"]),
    "nin": alias.not_in(["staging", "dev"]),
    "exists": alias.exists(True),
    "regex": alias.matches_regex("^prod"),
    "contains": tag.contains("candidate"),
    "and": alias.matches_regex("^prod") & tag.ne("blocked"),
    "or": alias.eq("production") | alias.eq("prod"),
    "nor": ~(alias.eq("staging") | alias.eq("dev")),
    "not": ~alias.matches_regex("^tmp-"),
}

WEBHOOK_PAYLOAD = {
    "event_type": "BUILD_AND_DEPLOY",
    "client_payload": {
        "version": "${artifact_version_string}",
        "artifact": "${artifact_version}",
        "author": "${event_author}",
        "event": "${event_type}",
    },
}
ACTIONS = {
    "webhook": SendWebhook(integration_id=WEBHOOK_ID, request_payload=WEBHOOK_PAYLOAD),
    "webhook-empty": SendWebhook(integration_id=WEBHOOK_ID),
    "slack": SendNotification(
        integration_id=SLACK_ID, title="New version", message="${artifact_version_string} by ${event_author}", severity="WARN"
    ),
    "noop": DoNothing(),
    "aria": SendPromptToAria(prompt="Summarize the new model version"),
}

# The GraphQL typename and fields of each action, as W&B's API returns a saved one.
def saved_action(name, action):
    if name.startswith("webhook"):
        payload = action.request_payload
        return {
            "__typename": "GenericWebhookTriggeredAction",
            "integration": {
                "__typename": "GenericWebhookIntegration",
                "id": WEBHOOK_ID,
                "name": "deploy-hook",
                "urlEndpoint": "https://ci.example.com/hooks/wandb",
            },
            "requestPayload": None if payload is None else json.dumps(payload),
        }
    if name == "slack":
        return {
            "__typename": "NotificationTriggeredAction",
            "integration": {
                "__typename": "SlackIntegration",
                "id": SLACK_ID,
                "teamName": "acme-workspace",
                "channelName": "#ml-alerts",
            },
            "title": action.title,
            "message": action.message,
            "severity": action.severity.value,
        }
    if name == "noop":
        return {"__typename": "NoOpTriggeredAction", "noOp": True}
    if name == "aria":
        return {"__typename": "ARIATriggeredAction", "prompt": action.prompt}
    raise ValueError(name)


def graphql_scope(scope):
    data = json.loads(scope.model_dump_json())
    out = {"__typename": data["__typename"], "id": data["id"], "name": data["name"]}
    if "entityType" in data or "entity_type" in data:
        out["entityType"] = data.get("entityType", data.get("entity_type"))
    return out


cases = []


def add(name, event, action_name, action=None):
    action = action or ACTIONS[action_name]
    new = (event >> action).model_copy(update={"name": name, "description": f"case {name}", "enabled": True})
    new_json = json.loads(new.model_dump_json())
    graphql = {
        "__typename": "Trigger",
        "id": f"VHJpZ2dlcjo{len(cases):03d}",
        "createdAt": "2026-11-01T12:00:00Z",
        "updatedAt": None,
        "name": name,
        "description": f"case {name}",
        "enabled": True,
        "scope": graphql_scope(event.scope),
        "event": {
            "__typename": "FilterEventTriggeringCondition",
            "eventType": new_json["event"]["event_type"],
            # A saved filter wraps the input's filter in {"filter": ...} (wandb/automations/events.py).
            "filter": json.dumps({"filter": json.loads(new_json["event"]["filter"])})
            if not new_json["event"]["event_type"].startswith("RUN_")
            else new_json["event"]["filter"],
        },
        "action": saved_action(action_name, action),
    }
    # As api.automations() does (wandb/apis/public/automations.py): the GraphQL fragment, then Automation.
    saved = Automation.model_validate(TriggerFields.model_validate(graphql))
    cases.append({"name": name, "new": new_json, "graphql": graphql, "saved": json.loads(saved.model_dump_json())})


ARTIFACT_EVENTS = {
    "link": OnLinkArtifact,
    "unlink": OnUnlinkArtifact,
    "add-alias": OnAddArtifactAlias,
    "add-tag": OnAddArtifactTag,
    "remove-tag": OnRemoveArtifactTag,
    "add-collection-tag": OnAddCollectionTag,
    "remove-collection-tag": OnRemoveCollectionTag,
}
# Every artifact event in every scope, with a webhook action.
for ev_name, cls in ARTIFACT_EVENTS.items():
    for scope_name, scope in SCOPES.items():
        add(f"{ev_name}-{scope_name}", cls(scope=scope), "webhook")
for scope_name in ("portfolio", "sequence"):
    add(f"create-{scope_name}", OnCreateArtifact(scope=SCOPES[scope_name]), "webhook")
# Every filter operator (on the events whose field it tests).
for f_name, f in FILTERS.items():
    cls = OnAddArtifactTag if f_name in ("gt", "gte", "lt", "lte", "contains") else OnAddArtifactAlias
    kwargs = {} if f is None else {"filter": f}
    add(f"filter-{f_name}", cls(scope=SCOPES["registry"], **kwargs), "webhook")
# The SDK's own example: an alias filter on LINK_ARTIFACT.
add("link-alias-filter", OnLinkArtifact(scope=SCOPES["portfolio"], filter=alias.eq("prod")), "webhook")
# Every action.
for action_name in ACTIONS:
    add(f"action-{action_name}", OnLinkArtifact(scope=SCOPES["registry"]), action_name)
# Run events, with run variables in their payloads (W&B's artifact variables are empty for runs).
RUN_WEBHOOK = SendWebhook(
    integration_id=WEBHOOK_ID,
    request_payload={"run": "${run_name}", "metric": "${metric_name}", "value": "${metric_value}", "event": "${event_type}"},
)
RUN_SLACK = SendNotification(integration_id=SLACK_ID, title="Run ${run_name}", message="${run_name} is ${run_state}", severity="ERROR")
run_filters = {
    "run-metric-threshold": RunEvent.metric("loss").avg(5).gt(0.5),
    "run-metric-change": RunEvent.metric("accuracy").max(3).changes_by(frac=0.1),
    "run-metric-zscore": MetricZScoreFilter(name="loss", window=10, threshold=2.0, change_dir="ANY"),
}
for f_name, f in run_filters.items():
    add(f_name, OnRunMetric(scope=SCOPES["project"], filter=f), "webhook", RUN_WEBHOOK)
add("run-state", OnRunState(scope=SCOPES["project"], filter=RunEvent.state.in_(["finished", "failed"])), "slack", RUN_SLACK)

integrations = [
    WebhookIntegration(id=WEBHOOK_ID, name="deploy-hook", url_endpoint="https://ci.example.com/hooks/wandb"),
    SlackIntegration(id=SLACK_ID, team_name="acme-workspace", channel_name="#ml-alerts"),
]
out = {
    "wandb": wandb.__version__,
    "cases": cases,
    "integrations": [
        {"saved": json.loads(i.model_dump_json()), "graphql": json.loads(i.model_dump_json(by_alias=True))} for i in integrations
    ],
}
with open(sys.argv[1], "w") as fh:
    json.dump(out, fh, indent=1)
print(f"{len(cases)} automations, {len(integrations)} integrations (wandb {wandb.__version__})")
