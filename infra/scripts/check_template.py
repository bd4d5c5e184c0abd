#!/usr/bin/env python3
"""Security review of template.yaml as a check CI runs (after cfn-lint, with the same parser).

- Each function's policy grants exactly what its code uses (the table below): nothing more, so a
  compromised function reaches no other data; nothing less, so a deployed function never fails on a
  denied call. Change the table with the code that needs it.
- No wildcard action anywhere, and no wildcard resource but the operator's `sqs:ListQueues` (a
  list call that takes no resource).
- The bucket blocks every kind of public access and its policy refuses requests without TLS, on the
  bucket and on every object.
- No credential in the template: the secret is referenced by name only.
- Every function logs JSON lines at a level the template sets (LoggingConfig, which the runtime's
  log subscriber reads) and is traced by X-Ray (Tracing: Active).
- Personal data has an end: every function has its own log group with a retention (at most
  731 days by default), every log group has one, the bucket expires each prefix the bridge
  writes (and the noncurrent versions there, the bucket being versioned), and every queue says
  how long it keeps a message.

`check(template)` returns the findings (infra/scripts/check_template_mutations.py proves each can
fail); run as a script, exit 0 when all hold; otherwise each finding on its own line and exit 1.
"""

import json
import os
import re
import sys

from cfnlint.decode import cfn_yaml

TABLE = {"Fn::GetAtt": ["Table", "Arn"]}
SECRET = {"Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${SecretName}-*"}
STORE = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem")


# The five functions' one bootstrap: the bridge-lambda package (functions/) and its binary. Each
# function's Handler names the function it runs (functions/src/main.rs checks the names).
BOOTSTRAP_PACKAGE = "functions"
BOOTSTRAP_BINARY = "bridge-lambda"

def grants(*pairs):
    """(actions, resource) pairs → the set of (action, resource as JSON) a policy must grant."""
    return {(action, json.dumps(resource, sort_keys=True)) for actions, resource in pairs for action in actions}


# What each function's code calls: the store (ledger, cursors, sync state, token cache: GetItem,
# PutItem, UpdateItem in shared/store/dynamo.rs), the credentials secret, and:
EXPECTED = {
    # labels (S3 Put/Get/Head under labels/) and the visibility bus
    "DispatchFunction": grants(
        (STORE, TABLE),
        (("s3:PutObject", "s3:GetObject"), {"Fn::Sub": "${Bucket.Arn}/labels/*"}),
        (("secretsmanager:GetSecretValue",), SECRET),
        (("events:PutEvents",), {"Fn::GetAtt": ["VisibilityBus", "Arn"]}),
    ),
    "OrderPollFunction": grants((STORE, TABLE), (("secretsmanager:GetSecretValue",), SECRET)),
    "StatusPollFunction": grants((STORE, TABLE), (("secretsmanager:GetSecretValue",), SECRET)),
    # POD files (S3 Put/Get/Head under pod/)
    "PodSyncFunction": grants(
        (STORE, TABLE),
        (("s3:PutObject", "s3:GetObject"), {"Fn::Sub": "${Bucket.Arn}/pod/*"}),
        (("secretsmanager:GetSecretValue",), SECRET),
    ),
    "EtaExportFunction": grants((STORE, TABLE), (("secretsmanager:GetSecretValue",), SECRET)),
}


# SDK calls of the storage adapters → the IAM action they need. Calls only tests or the operator
# make (`create_table`, `create_bucket`, the records `scan` of bridge-ops) are listed apart.
SDK_ACTIONS = {
    "get_item": "dynamodb:GetItem",
    "put_item": "dynamodb:PutItem",
    "update_item": "dynamodb:UpdateItem",
    "get_object": "s3:GetObject",
    "head_object": "s3:GetObject",
    "put_object": "s3:PutObject",
}
NOT_FUNCTIONS = {"create_table", "create_bucket", "scan"}

# The bucket prefixes the bridge writes, each of which must expire: `document_key::label` and
# `document_key::pod` in shared/store/documents.rs (labels/<network>/<id>/..., pod/<network>/<id>/...).
DOCUMENT_PREFIXES = ("labels/", "pod/")
FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")
# The longest a log may be kept by default (CloudWatch allows up to 3653 days, or forever).
MAX_DEFAULT_LOG_DAYS = 731


def sdk_calls(root):
    """The AWS SDK calls the adapters make (`.get_item()` …), from their source."""
    calls = set()
    for source in ("shared/store/dynamo.rs", "shared/store/s3.rs"):
        text = open(f"{root}/{source}", encoding="utf-8").read()
        calls |= set(re.findall(r"\.([a-z_]+_(?:item|items|object|objects|table|bucket)|scan|query)\(\)", text))
    return calls


def as_list(value):
    return value if isinstance(value, list) else [value]


def statements(policies):
    for policy in as_list(policies or []):
        if isinstance(policy, dict) and "Statement" in policy:
            yield from as_list(policy["Statement"])
        else:
            yield {"Effect": "Managed", "Action": json.dumps(policy), "Resource": "?"}


def days(value, parameters):
    """A literal number of days, or the default of the parameter it refers to; None if neither."""
    if isinstance(value, dict) and set(value) == {"Ref"}:
        value = parameters.get(value["Ref"], {}).get("Default")
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def set_from(value, parameters):
    """A literal or a Ref to one of the template's parameters (not a pseudo parameter, not absent)."""
    if isinstance(value, dict):
        return set(value) == {"Ref"} and value["Ref"] in parameters
    return value is not None and value != ""


def lambda_log_group_target(name):
    """The function a `/aws/lambda/...` log group name belongs to: ("ref", logical id) or
    ("name", literal function name); None for any other name."""
    if isinstance(name, dict) and set(name) == {"Fn::Sub"} and isinstance(name["Fn::Sub"], str):
        match = re.fullmatch(r"/aws/lambda/\$\{([A-Za-z0-9]+)\}", name["Fn::Sub"])
        return ("ref", match.group(1)) if match else None
    if isinstance(name, dict) and set(name) == {"Fn::Join"}:
        separator, parts = name["Fn::Join"]
        if separator == "" and len(parts) == 2 and parts[0] == "/aws/lambda/" and isinstance(parts[1], dict):
            if set(parts[1]) == {"Ref"}:
                return ("ref", parts[1]["Ref"])
        return None
    if isinstance(name, str) and name.startswith("/aws/lambda/"):
        return ("name", name[len("/aws/lambda/"):])
    return None


def retention_findings(template):
    """Personal data has an end: logs, the bucket's document prefixes, the queues."""
    resources = template["Resources"]
    parameters = template.get("Parameters", {})
    findings = []

    log_groups = {name: r for name, r in resources.items() if r.get("Type") == "AWS::Logs::LogGroup"}
    for name, group in log_groups.items():
        retention = group.get("Properties", {}).get("RetentionInDays")
        if not set_from(retention, parameters):
            findings.append(f"{name}: a log group without RetentionInDays keeps its logs forever")
        elif (kept := days(retention, parameters)) is None:
            findings.append(f"{name}: RetentionInDays has no default number of days")
        elif kept > MAX_DEFAULT_LOG_DAYS:
            findings.append(f"{name}: RetentionInDays is {kept} days by default, more than {MAX_DEFAULT_LOG_DAYS}")

    # SAM merges a function's LoggingConfig over the Globals' one.
    global_logging = ((template.get("Globals") or {}).get("Function") or {}).get("LoggingConfig") or {}
    for name, function in resources.items():
        if function.get("Type") not in FUNCTION_TYPES:
            continue
        properties = function.get("Properties", {})
        logging = dict(global_logging) if function["Type"] == "AWS::Serverless::Function" else {}
        logging.update(properties.get("LoggingConfig") or {})
        own = logging.get("LogGroup")
        if own is not None:
            # A function that logs to a group of the template's (LoggingConfig.LogGroup: !Ref ...).
            ours = isinstance(own, dict) and set(own) == {"Ref"} and own["Ref"] in log_groups
            groups = [own["Ref"]] if ours else []
        else:
            groups = [
                group_name
                for group_name, group in log_groups.items()
                if lambda_log_group_target(group.get("Properties", {}).get("LogGroupName"))
                in (("ref", name), ("name", properties.get("FunctionName")))
            ]
        if function["Type"] == "AWS::Serverless::Function":
            # The runtime's subscriber reads the format and level Lambda passes from LoggingConfig.
            if logging.get("LogFormat") != "JSON" or "ApplicationLogLevel" not in logging:
                findings.append(
                    f"{name}: LoggingConfig must set LogFormat JSON and an ApplicationLogLevel "
                    "(the runtime's log subscriber reads both)"
                )
            global_tracing = ((template.get("Globals") or {}).get("Function") or {}).get("Tracing")
            if properties.get("Tracing", global_tracing) != "Active":
                findings.append(f"{name}: Tracing is not Active (X-Ray traces every invocation)")
        if not groups:
            findings.append(
                f"{name}: no log group of the template is the function's (/aws/lambda/<its name>): "
                "Lambda would make one that keeps the logs forever"
            )
        for group_name in groups:
            if not set_from(log_groups[group_name].get("Properties", {}).get("RetentionInDays"), parameters):
                findings.append(f"{name}: its log group {group_name} has no RetentionInDays")

    bucket = resources.get("Bucket")
    if bucket is None:
        findings.append("Bucket: missing from the template")
    else:
        properties = bucket.get("Properties", {})
        versioned = (properties.get("VersioningConfiguration") or {}).get("Status") == "Enabled"
        rules = [
            rule
            for rule in as_list((properties.get("LifecycleConfiguration") or {}).get("Rules", []))
            if rule.get("Status") == "Enabled"
            # a rule with tag or size filters misses the bridge's untagged files of any size
            and not any(rule.get(f) for f in ("TagFilters", "ObjectSizeGreaterThan", "ObjectSizeLessThan"))
        ]
        for prefix in DOCUMENT_PREFIXES:
            covering = [rule for rule in rules if prefix.startswith(str(rule.get("Prefix", "")))]
            if not any(
                set_from(rule.get("ExpirationInDays"), parameters) or rule.get("ExpirationDate") for rule in covering
            ):
                findings.append(f"Bucket: no enabled lifecycle rule expires {prefix} (the bridge keeps personal data there)")
            if versioned and not any(
                rule.get("NoncurrentVersionExpiration") or rule.get("NoncurrentVersionExpirationInDays")
                for rule in covering
            ):
                findings.append(f"Bucket: versioned, and no enabled lifecycle rule expires noncurrent versions of {prefix}")

    for name, queue in resources.items():
        if queue.get("Type") != "AWS::SQS::Queue":
            continue
        if not set_from(queue.get("Properties", {}).get("MessageRetentionPeriod"), parameters):
            findings.append(f"{name}: a queue without MessageRetentionPeriod (say how long it keeps a message)")

    return findings


def check(template, text=None):
    """The findings on a parsed template (cfn_yaml.load); `text` is the file's text for the
    credentials check (the template's strings when not given)."""
    resources = template["Resources"]
    findings = []

    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    for call in sorted(sdk_calls(root)):
        if call in NOT_FUNCTIONS:
            continue
        action = SDK_ACTIONS.get(call)
        if action is None:
            findings.append(f"the storage adapters call {call}(): add the IAM action it needs to this check and to the functions")
        elif not any(action == granted for expected in EXPECTED.values() for granted, _ in expected):
            findings.append(f"the storage adapters call {call}(), which needs {action}: no function is granted it")

    for name, expected in EXPECTED.items():
        function = resources.get(name)
        if function is None:
            findings.append(f"{name}: missing from the template")
            continue
        granted = set()
        for statement in statements(function["Properties"].get("Policies")):
            if statement.get("Effect") != "Allow":
                findings.append(f"{name}: a statement that is not a plain Allow: {statement}")
                continue
            for action in as_list(statement["Action"]):
                for resource in as_list(statement["Resource"]):
                    granted.add((action, json.dumps(resource, sort_keys=True)))
        for action, resource in sorted(granted - expected):
            findings.append(f"{name}: grants {action} on {resource}, which its code does not use")
        for action, resource in sorted(expected - granted):
            findings.append(f"{name}: lacks {action} on {resource}, which its code calls")

    handlers = {}
    for name, resource in resources.items():
        policies = []
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function":
            policies = list(statements(properties.get("Policies")))
            binary = resource.get("Metadata", {}).get("BuildProperties", {}).get("Binary")
            code_uri = properties.get("CodeUri")
            if (code_uri, binary) != (BOOTSTRAP_PACKAGE, BOOTSTRAP_BINARY):
                findings.append(
                    f"{name}: CodeUri {code_uri!r} and Binary {binary!r}, not {BOOTSTRAP_PACKAGE!r} and "
                    f"{BOOTSTRAP_BINARY!r}: every function runs the one bootstrap, built in its own package (from "
                    "the workspace root cargo builds the library with every member's features: redb, progress "
                    "bars, the SQS client)"
                )
            handler = properties.get("Handler")
            if not handler:
                findings.append(f"{name}: no Handler: the bootstrap runs the function its Handler names")
            elif handler in handlers:
                findings.append(f"{name}: the same Handler {handler!r} as {handlers[handler]}: it would run that function")
            else:
                handlers[handler] = name
        elif resource["Type"] in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
            policies = list(statements([properties["PolicyDocument"]]))
        for statement in policies:
            if statement.get("Effect") != "Allow":
                continue
            actions = as_list(statement["Action"])
            if any("*" in action for action in actions):
                findings.append(f"{name}: a wildcard action in {actions}")
            if "*" in as_list(statement["Resource"]) and actions != ["sqs:ListQueues"]:
                findings.append(f"{name}: {actions} on every resource")

    block = resources["Bucket"]["Properties"].get("PublicAccessBlockConfiguration", {})
    for setting in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"):
        if block.get(setting) is not True:
            findings.append(f"Bucket: PublicAccessBlockConfiguration.{setting} is not true")
    denies_plain_http = False
    for statement in as_list(resources["BucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]):
        condition = statement.get("Condition", {}).get("Bool", {})
        targets = [json.dumps(r, sort_keys=True) for r in as_list(statement.get("Resource", []))]
        if (
            statement.get("Effect") == "Deny"
            and statement.get("Principal") == "*"
            and statement.get("Action") == "s3:*"
            and str(condition.get("aws:SecureTransport")).lower() == "false"
            and json.dumps({"Fn::GetAtt": ["Bucket", "Arn"]}, sort_keys=True) in targets
            and json.dumps({"Fn::Sub": "${Bucket.Arn}/*"}, sort_keys=True) in targets
        ):
            denies_plain_http = True
    if not denies_plain_http:
        findings.append("BucketPolicy: no Deny of s3:* without TLS on the bucket and its objects")

    findings += retention_findings(template)

    if text is None:
        text = json.dumps(template)
    for word in ("SecretString", "inbound-pass", "client_secret", "Sim!"):
        if word in text:
            findings.append(f"template.yaml: contains {word!r}: credentials belong in the secret, not here")
    return findings


def main(path):
    template = cfn_yaml.load(path)
    findings = check(template, open(path, encoding="utf-8").read())
    for finding in findings:
        print(f"check_template: {finding}")
    if findings:
        return 1
    types = [resource.get("Type") for resource in template["Resources"].values()]
    print(
        f"check_template: {len(EXPECTED)} function policies as their code needs; bucket private and TLS-only; "
        f"personal data has an end ({types.count('AWS::Logs::LogGroup')} log groups, "
        f"{len(DOCUMENT_PREFIXES)} document prefixes, {types.count('AWS::SQS::Queue')} queues)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "template.yaml"))
