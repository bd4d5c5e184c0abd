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

Exit 0 when all hold; otherwise each finding on its own line and exit 1.
"""

import json
import os
import re
import sys

from cfnlint.decode import cfn_yaml

TABLE = {"Fn::GetAtt": ["Table", "Arn"]}
SECRET = {"Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${SecretName}-*"}
STORE = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem")


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


def main(path):
    template = cfn_yaml.load(path)
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

    for name, resource in resources.items():
        policies = []
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function":
            policies = list(statements(properties.get("Policies")))
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

    text = open(path, encoding="utf-8").read()
    for word in ("SecretString", "inbound-pass", "client_secret", "Sim!"):
        if word in text:
            findings.append(f"template.yaml: contains {word!r}: credentials belong in the secret, not here")

    for finding in findings:
        print(f"check_template: {finding}")
    if findings:
        return 1
    print(f"check_template: {len(EXPECTED)} function policies as their code needs; bucket private and TLS-only")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "template.yaml"))
