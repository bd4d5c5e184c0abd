#!/usr/bin/env python3
"""Proves check_template.py can fail: the template as it is has no finding, and each mutation below
(made in memory, one at a time) draws at least one finding that names what it broke.

Prints `check_template mutations: N of M caught`; exits 1 when the template has a finding or a
mutation is missed (each named on its own line).
"""

import copy
import os
import sys

from cfnlint.decode import cfn_yaml

sys.dont_write_bytecode = True  # no __pycache__ left in infra/scripts
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_template import check  # noqa: E402


def remove_resource(name):
    def mutate(template):
        del template["Resources"][name]

    return mutate


def remove_property(resource, prop):
    def mutate(template):
        del template["Resources"][resource]["Properties"][prop]

    return mutate


def set_property(resource, prop, value):
    def mutate(template):
        template["Resources"][resource]["Properties"][prop] = value

    return mutate


def bucket_rules(template):
    return template["Resources"]["Bucket"]["Properties"]["LifecycleConfiguration"]["Rules"]


def remove_lifecycle_rules(prefix):
    """Drops every rule that filters on `prefix`."""

    def mutate(template):
        rules = bucket_rules(template)
        kept = [rule for rule in rules if rule.get("Prefix") != prefix]
        assert len(kept) < len(rules), f"no lifecycle rule on {prefix} to remove"
        rules[:] = kept

    return mutate


def disable_lifecycle_rules(prefix):
    def mutate(template):
        for rule in bucket_rules(template):
            if rule.get("Prefix") == prefix:
                rule["Status"] = "Disabled"

    return mutate


def remove_noncurrent_expiration(template):
    for rule in bucket_rules(template):
        rule.pop("NoncurrentVersionExpiration", None)
        rule.pop("NoncurrentVersionExpirationInDays", None)


def log_retention_default(value):
    def mutate(template):
        template["Parameters"]["LogRetentionDays"]["Default"] = value

    return mutate


def add_wildcard_action(template):
    statements = template["Resources"]["OrderPollFunction"]["Properties"]["Policies"][0]["Statement"]
    statements.append({"Effect": "Allow", "Action": "s3:*", "Resource": {"Fn::Sub": "${Bucket.Arn}/*"}})


def public_bucket(template):
    template["Resources"]["Bucket"]["Properties"]["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] = False


def credential_in_environment(template):
    variables = template["Resources"]["DispatchFunction"]["Properties"]["Environment"]["Variables"]
    variables["QARGO_CLIENT_SECRET"] = "client_secret=hunter2"


# (what the mutation does, the mutation, words one finding must contain)
MUTATIONS = [
    ("remove the dispatch function's log group", remove_resource("DispatchLogGroup"), ("DispatchFunction", "log group")),
    (
        "remove a log group's RetentionInDays",
        remove_property("PodSyncLogGroup", "RetentionInDays"),
        ("PodSyncLogGroup", "RetentionInDays"),
    ),
    (
        "name a log group for no function",
        set_property("EtaExportLogGroup", "LogGroupName", "/aws/lambda/something-else"),
        ("EtaExportFunction", "log group"),
    ),
    ("keep logs 10 years by default", log_retention_default(3653), ("RetentionInDays", "3653")),
    ("remove the labels/ lifecycle rule", remove_lifecycle_rules("labels/"), ("Bucket", "labels/")),
    ("remove the pod/ lifecycle rule", remove_lifecycle_rules("pod/"), ("Bucket", "pod/")),
    ("disable the pod/ lifecycle rule", disable_lifecycle_rules("pod/"), ("Bucket", "pod/")),
    ("keep noncurrent versions forever", remove_noncurrent_expiration, ("Bucket", "noncurrent")),
    (
        "remove a DLQ's MessageRetentionPeriod",
        remove_property("PodSyncDeadLetterQueue", "MessageRetentionPeriod"),
        ("PodSyncDeadLetterQueue", "MessageRetentionPeriod"),
    ),
    ("turn X-Ray tracing off for the POD sync", set_property("PodSyncFunction", "Tracing", "PassThrough"), ("PodSyncFunction", "Tracing")),
    ("log text lines from the dispatch", set_property("DispatchFunction", "LoggingConfig", {"LogFormat": "Text"}), ("DispatchFunction", "LoggingConfig")),
    ("build the dispatch from the workspace root", set_property("DispatchFunction", "CodeUri", "."), ("DispatchFunction", "CodeUri")),
    ("give the status poll the order poll's Handler", set_property("StatusPollFunction", "Handler", "order-poll"), ("StatusPollFunction", "Handler")),
    ("leave the POD sync without a Handler", remove_property("PodSyncFunction", "Handler"), ("PodSyncFunction", "Handler")),
    ("add a wildcard action", add_wildcard_action, ("OrderPollFunction", "wildcard")),
    ("let the bucket's policy be public", public_bucket, ("Bucket", "BlockPublicPolicy")),
    ("put a credential in the template", credential_in_environment, ("template.yaml", "client_secret")),
]


def main(path):
    template = cfn_yaml.load(path)
    problems = []
    findings = check(template, open(path, encoding="utf-8").read())
    for finding in findings:
        problems.append(f"the template as it is: {finding}")

    caught = 0
    for what, mutate, words in MUTATIONS:
        mutated = copy.deepcopy(template)
        mutate(mutated)
        findings = check(mutated)
        if any(all(word in finding for word in words) for finding in findings):
            caught += 1
        else:
            wanted = " and ".join(map(repr, words))
            problems.append(f"missed: {what} (no finding with {wanted}; findings: {findings})")

    for problem in problems:
        print(f"check_template mutations: {problem}")
    print(f"check_template mutations: {caught} of {len(MUTATIONS)} caught")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "template.yaml"))
